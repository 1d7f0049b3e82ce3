"""The ``/refine`` API endpoint: the CNN refiner on any text, when the refiner is installed.

The Generate and Compare tabs offer the same as a "Refine with CNN" option; this endpoint serves
API clients. Without the refiner (no ``checkpoints/refiner/``) it answers with a clear message
saying so.
"""

from typing import NamedTuple

import gradio as gr  # no "from __future__ import annotations": gr.api reads the real types

from ..refiner import DEFAULT_THRESHOLD
from .common import wire, with_clear_errors
from .html import diff_html
from .loaded_models import Models
from .validation import MAX_TEXT_CHARS, InputError, number, text_input


def refined_diff(refiner, text: str, threshold: float = DEFAULT_THRESHOLD) -> str:
    """The refiner's edits of ``text`` as a before/after diff (the Refine with CNN option)."""
    result = refiner(text, threshold)
    return diff_html(text, result.text, {e.position: e.confidence for e in result.edits})


class RefineOutputs(NamedTuple):
    """What ``/refine`` returns. ``gr.api`` derives the endpoint's outputs from the return
    annotation, ``RefineTypes``, which is made from these fields."""

    text: str  # the refined text
    edits: list  # {"position", "old", "new", "confidence"} per changed character
    diff: str  # the edits as an HTML diff


RefineTypes = tuple[tuple(RefineOutputs.__annotations__.values())]  # tuple[str, list, str]


class RefineHandlers:
    def __init__(self, models: Models):
        self.models = models

    def refine(self, text: str, threshold: float = DEFAULT_THRESHOLD) -> RefineTypes:
        """Correct ``text`` with the CNN refiner, changing only characters it is at least
        ``threshold`` sure of. Returns the refined text, the edits (position, old, new,
        confidence) and an HTML diff."""
        if self.models.refiner is None:
            raise InputError(f"Refine with CNN is not available: {self.models.refiner_note}")
        text = text_input(text, "text", MAX_TEXT_CHARS)
        threshold = number(threshold, "threshold", 0, 1, lo_open=True)
        result = self.models.refiner(text, threshold)
        edits = [{"position": e.position, "old": e.old, "new": e.new,
                  "confidence": round(float(e.confidence), 4)} for e in result.edits]
        confidences = {e.position: e.confidence for e in result.edits}
        return RefineOutputs(text=result.text, edits=edits,
                             diff=diff_html(text, result.text, confidences))


def render_api(models: Models) -> None:
    """Register ``/refine`` (an API endpoint with no UI of its own)."""
    handlers = RefineHandlers(models)
    wire(gr.api, with_clear_errors(handlers.refine), api_name="refine")
