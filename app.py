"""The cnngru demo as a script: ``python app.py`` (also how a Hugging Face Space starts it).

On a Space (``SPACE_ID`` is set) it listens on 0.0.0.0:7860 as Spaces expect; elsewhere on
127.0.0.1 only. ``PORT`` picks another port.
"""

import os

# Before anything imports Gradio: no analytics or telemetry look-ups (the demo runs offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Before NumPy loads: a generation step multiplies one vector by a matrix, which one BLAS thread
# does fastest; more threads per request only fight the other requests for the cores (3.5x
# slower on 2 busy cores). PyTorch's threads are sized in cnngru.app.models.configure_threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if __name__ == "__main__":
    from cnngru.app import launch

    launch(host="0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1",
           port=int(os.environ.get("PORT", "7860")))
