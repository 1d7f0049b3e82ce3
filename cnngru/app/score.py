"""The Score tab: how surprising each character of a pasted text is to each model."""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from ..batched_analysis import analyser_for
from ..checkpoint import Bundle
from ..diagnostics import Analysis
from .attention_rows import hold_attention
from .coloured_text import coloured_view
from .common import wire, with_clear_errors
from .figures import difference_figure
from .html import legend_html, rank_html
from .loaded_models import Models
from .session_models import SHIPPED, SOURCES, SessionModels, owner_of
from .spaces import spaces_gpu
from .text import SCORE
from .text_views import difference_html
from .validation import MAX_SCORE_CHARS, flag, known_characters, text_input

EXAMPLE = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
           "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of "
           "troubles,\nAnd by opposing end them.\n")
TABLE_HEADERS = ["model", "bits per character", "characters scored"]


class ScoreOutputs(NamedTuple):
    """What Score sets; the event's ``outputs=`` list is this tuple of components (``render``)."""

    table: Any  # bits per character, per model
    coloured: Any  # the text coloured by the rank each character got, per model (HTML)
    difference: Any  # the per-character difference figure, model A minus model B
    analyses: Any  # every model's Analysis by name (gr.State), for redrawing the difference


def read_texts(bundles: dict[str, Bundle], texts: dict[str, str]) -> dict[str, Analysis]:
    """Each model's analysis of its own text, by name (``texts`` names the models to use)."""
    return {name: analyser_for(bundles[name]).analyse(t, influence=False)
            for name, t in texts.items()}


class ScoreHandlers:
    """The Score tab's event handlers."""

    def __init__(self, models: Models, own: SessionModels | None = None):
        self.models = models
        self.own = own  # the visitors' own models ("Your text"), if the demo has that tab
        # on ZeroGPU, a call holding the lent GPU (in a worker of its own: ``spaces.py``)
        self.read_on_lent_gpu = spaces_gpu(self._read_on_lent_gpu)

    def score_text(self, text, model_a, model_b, replace_unknown, source=SHIPPED,
                   visitor: gr.Request = None):
        """Read ``text`` with every model (shipped, or with ``source="your text"`` the
        visitor's own); compare ``model_a`` with ``model_b``."""
        models = self.own.pick(source, self.models, owner_of(visitor)) if self.own else self.models
        text = text_input(text, "text", MAX_SCORE_CHARS, min_chars=2)
        models.get(model_a), models.get(model_b)  # unknown names: a clear error
        replace = flag(replace_unknown, "replace_unknown")
        texts = {name: known_characters(text, bundle.vocab, "text", replace)
                 for name, bundle in models.bundles.items()}
        analyses = (self.read_on_lent_gpu(texts) if models.lent_gpu
                    else read_texts(models.bundles, texts))
        table = [[name, round(a.bits_per_char(), 4), len(a.text) - 1]
                 for name, a in analyses.items()]
        coloured = legend_html() + "".join(rank_html(a) for a in analyses.values())
        return ScoreOutputs(table=table, coloured=coloured,
                            difference=self.redraw_difference(analyses, model_a, model_b),
                            analyses=analyses)

    def _read_on_lent_gpu(self, texts: dict[str, str]) -> dict[str, Analysis]:
        """``read_texts`` by the shipped models' GPU copies (``Models.lent_gpu``)."""
        return read_texts(self.models.lent_gpu, texts)

    def redraw_difference(self, analyses, model_a, model_b):
        """The per-character difference between two models already scored."""
        if not analyses:
            return gr.skip()
        a, b = analyses.get(model_a), analyses.get(model_b)
        if a is None or b is None:
            return gr.skip()
        return difference_figure(a, b)

    def difference_text(self, analyses, model_a, model_b):
        """The text coloured by model A's surprisal minus model B's, character by character."""
        a, b = (analyses or {}).get(model_a), (analyses or {}).get(model_b)
        if a is None or b is None or a.text != b.text:
            return gr.skip()
        bundle = self.models.bundles.get(model_a)
        return difference_html(a, b, hold_attention(a, bundle) if bundle else None)


def render(models: Models, own: SessionModels | None = None):
    """Build the tab inside the current ``gr.Tab`` and wire its events; with ``own``, a "models"
    choice (shipped / your text) is returned, to be shown once the visitor has models."""
    handlers = ScoreHandlers(models, own)
    names = models.names
    gr.Markdown(SCORE)
    source = gr.Radio(list(SOURCES), value=SHIPPED, label="models", visible=False,
                      elem_id="score-source") if own else None
    pasted = gr.Textbox(EXAMPLE, label=f"text (up to {MAX_SCORE_CHARS:,} characters)", lines=6,
                        elem_id="score-text", max_length=MAX_SCORE_CHARS)
    with gr.Row():
        model_a = gr.Dropdown(names, value=names[-1], label="difference: model A")
        model_b = gr.Dropdown(names, value=names[0], label="minus model B")
        replace_unknown = gr.Checkbox(False, label="replace unknown characters")
        start = gr.Button("Score", variant="primary", elem_id="score-btn")
    table = gr.Dataframe(headers=TABLE_HEADERS, label="bits per character (lower: better)",
                         interactive=False, elem_id="score-table")
    difference = gr.Plot(label="difference per character", elem_id="score-diff")
    difference_text = coloured_view("score-diff-text", "difference per character, on the text")
    coloured = gr.HTML(elem_id="score-html", label="rank per character (hover: surprisal)")
    analyses = gr.State({})
    scored = wire(start.click, with_clear_errors(handlers.score_text),
         [pasted, model_a, model_b, replace_unknown, *([source] if own else [])],
         list(ScoreOutputs(table=table, coloured=coloured, difference=difference,
                           analyses=analyses)),
         api_name="score")
    for dropdown in (model_a, model_b):
        wire(dropdown.change, with_clear_errors(handlers.redraw_difference),
             [analyses, model_a, model_b], difference)
    for trigger in (scored.then, model_a.change, model_b.change):
        wire(trigger, with_clear_errors(handlers.difference_text), [analyses, model_a, model_b],
             difference_text)
    if own:
        wire(source.change, own.example_text, source, pasted)
    return source
