"""``/engine_stats``: how the batching engine of each loaded model has been used, for operators
and the demo bench (how many characters each batched step made, on average)."""

from __future__ import annotations

import gradio as gr

from .common import wire
from .loaded_models import Models


def engine_stats(models: Models) -> dict:
    """Per loaded variant: batched steps run, characters they made, their mean batch size and
    the rows running now (in the helper process, where generations run there)."""
    return models.generations.stats({name: models.get(name) for name in models.variants})


def render_api(models: Models) -> None:
    """Register ``/engine_stats`` (an API endpoint with no UI of its own)."""

    def stats() -> dict:
        """Per loaded variant: steps, characters, mean batch size, rows running now."""
        return engine_stats(models)

    wire(gr.api, stats, api_name="engine_stats", workers="files")
