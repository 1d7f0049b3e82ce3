"""The cnngru demo as a script: ``python app.py`` (also how a Hugging Face Space starts it).

It listens where ``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` say; without them on port
``PORT`` or 7860, of 0.0.0.0 on a Space (``SPACE_ID`` is set) as Spaces expect, else of 127.0.0.1
only (cnngru/app/address.py).
"""

import os

# Before NumPy loads: one BLAS thread per generation step (why: cnngru/threads.py). PyTorch's
# threads are sized in cnngru.app.loaded_models.configure_threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if __name__ == "__main__":
    # cnngru.app runs cnngru.app.offline.keep_offline() before it imports Gradio: no analytics
    # or telemetry look-ups, the demo runs offline.
    from cnngru.app import launch

    launch()
