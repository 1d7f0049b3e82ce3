"""The cnngru demo as a script: ``python app.py`` (also how a Hugging Face Space starts it).

On a Space (``SPACE_ID`` is set) it listens on 0.0.0.0:7860 as Spaces expect; elsewhere on
127.0.0.1 only. ``PORT`` picks another port.
"""

import os

# Before NumPy loads: one BLAS thread per generation step (why: cnngru/threads.py). PyTorch's
# threads are sized in cnngru.app.loaded_models.configure_threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if __name__ == "__main__":
    # cnngru.app runs cnngru.app.offline.keep_offline() before it imports Gradio: no analytics
    # or telemetry look-ups, the demo runs offline.
    from cnngru.app import launch

    launch(host="0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1",
           port=int(os.environ.get("PORT", "7860")))
