"""``/engine_stats``: how the batching engine of each loaded model has been used, for operators
and the demo bench (how many characters each batched step made, on average)."""

from __future__ import annotations

import gradio as gr

from ..batched_generation import engine_for
from .common import wire
from .loaded_models import Models


def engine_stats(models: Models) -> dict:
    """Per loaded variant: batched steps run, characters they made, their mean batch size and
    the rows running now."""
    out = {}
    for name in models.variants:
        engine = engine_for(models.get(name))
        out[name] = {"steps": engine.steps, "characters": engine.row_steps,
                     "mean_batch_size": round(engine.mean_batch_size, 2),
                     "active_rows": engine.active_rows}
    return out


def render_api(models: Models) -> None:
    """Register ``/engine_stats`` (an API endpoint with no UI of its own)."""

    def stats() -> dict:
        """Per loaded variant: steps, characters, mean batch size, rows running now."""
        return engine_stats(models)

    wire(gr.api, stats, api_name="engine_stats", workers="files")
