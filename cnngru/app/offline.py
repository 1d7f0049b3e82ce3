"""Keep Gradio and the Hugging Face hub from going online: no analytics, no telemetry.

Both are read when Gradio (and ``huggingface_hub``, which it imports) is first imported, so this
must run before that: ``cnngru/app/__init__.py`` calls it before it imports Gradio, hence
importing anything from ``cnngru.app`` is enough. Values already in the environment win.
"""

from __future__ import annotations

import os


def keep_offline() -> None:
    """Switch off Gradio's analytics and the Hugging Face hub's telemetry (unless already set):
    otherwise a launch looks up api.gradio.app and a ``gradio_client`` fetches from
    huggingface.co."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
