"""The Compare tab: every shipped strategy on one prompt and one seed, side by side.

The models take turns, one character each (round-robin), so the columns fill together; each
column is a row of its model's batching engine (``analysed_generation``), seeded alike, hence the
same stream of uniform draws (common random numbers): where two models predict alike they pick
the same character.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr

from ..batched_analysis import analyser_for
from ..diagnostics import Analysis
from ..sample_quality import real_word_rate
from . import text
from .common import Throttle, wire, with_clear_errors
from .figures import character_figure
from .loaded_models import Models
from .refine_diff import refined_diff
from .session_models import SHIPPED, SOURCES, SessionModels, owner_of
from .validation import (
    MAX_COMPARE_TOKENS,
    MAX_PROMPT_CHARS,
    MAX_TEMPERATURE,
    InputError,
    flag,
    generation_request,
    known_characters,
    text_input,
)


def column_stats(chars_per_s: float, mean_log2p: float, word_rate: float | None) -> str:
    """The line under a column: speed, how sure the model was of its own text, real words."""
    words = "—" if word_rate is None else f"{word_rate:.0%}"
    return (f"{chars_per_s:,.0f} chars/s · mean log₂ p {mean_log2p:+.2f} "
            f"bits/char · real words {words}")


@dataclass
class CompareRun:
    """One user's running comparison, held in ``gr.State`` so the Stop button can reach it."""

    stop_requested: bool = False


class CompareOutputs(NamedTuple):
    """What a Compare update sets: per column (one per strategy) a text, a stats line, a figure
    and a refiner diff, then the run. ``flat()`` is the order of the event's ``outputs=``
    list, which is built with ``flat()`` too (see ``render``)."""

    texts: Sequence[Any]
    stats: Sequence[Any]
    figures: Sequence[Any]
    diffs: Sequence[Any]
    run: Any  # the CompareRun (gr.State)

    def flat(self) -> tuple:
        """The columns' texts, then their stats, figures and diffs, then the run."""
        return (*self.texts, *self.stats, *self.figures, *self.diffs, self.run)


class CompareHandlers:
    """The Compare tab's event handlers."""

    def __init__(self, models: Models, own: SessionModels | None = None):
        self.models = models
        self.names = models.variants
        self.own = own  # the visitors' own models ("Your text"), if the demo has that tab

    def clear_columns(self) -> tuple:
        """The page as a comparison starts (before it joins the queue): empty columns."""
        n = len(self.names)
        return CompareOutputs(texts=[""] * n, stats=[""] * n, figures=[None] * n,
                              diffs=[""] * n, run=gr.skip()).flat()

    def compare_texts(self, prompt, max_new_tokens, temperature, top_k, top_p, seed,
                      replace_unknown, refine, source=SHIPPED, visitor: gr.Request = None):
        """Stream every strategy's text from one prompt and seed, a character each in turn
        (the shipped models, or with ``source="your text"`` the visitor's own)."""
        models = self.own.pick(source, self.models, owner_of(visitor)) if self.own else self.models
        bundles = [models.get(n) for n in self.names]
        request = generation_request(max_new_tokens, temperature, top_k, top_p, seed,
                                     min(len(b.vocab) for b in bundles), MAX_COMPARE_TOKENS)
        prompt = text_input(prompt, "prompt", MAX_PROMPT_CHARS)
        replace = flag(replace_unknown, "replace_unknown")
        prompts = [known_characters(prompt, b.vocab, "prompt", replace) for b in bundles]
        refine = flag(refine, "refine")
        if refine and models.refiner is None:
            raise InputError(f"Refine with CNN is not available: {models.refiner_note}")
        gens = [models.generations.stream(b, p, **vars(request))
                for b, p in zip(bundles, prompts, strict=True)]  # each joins its model's batch
        new = [""] * len(gens)
        n, run = len(gens), CompareRun()
        with Throttle() as throttle, contextlib.ExitStack() as rows:
            for gen in gens:  # a stop or a closed page frees every column's row
                rows.enter_context(gen)
            for _ in range(request.max_new_tokens):
                if run.stop_requested:
                    break
                for k, gen in enumerate(gens):
                    new[k] += next(gen).char
                if throttle.ready():  # the texts alone: the rest waits for the end
                    yield CompareOutputs(texts=new, stats=[gr.skip()] * n, figures=[gr.skip()] * n,
                                         diffs=[gr.skip()] * n, run=run).flat()
            finished = self._finish(gens, prompts, new, refine, run, models)
        yield finished.flat()

    def request_stop(self, run) -> None:
        """Ask the running comparison to end; it then draws the figures of what it wrote."""
        if run is not None:
            run.stop_requested = True

    def _finish(self, gens, prompts, new, refine, run, models) -> CompareOutputs:
        stats, figures, diffs = [], [], []
        for gen, prompt, generated in zip(gens, prompts, new, strict=True):
            a = self._analysis(gen, run)
            mean_log2p = -a.bits_per_char(start=len(prompt))
            rate = real_word_rate(generated, models.words) if models.words else None
            stats.append(column_stats(gen.chars_per_s, mean_log2p, rate))
            figures.append(character_figure(a, len(prompt), compact=True))
            diffs.append(refined_diff(models.refiner, generated) if refine else "")
        return CompareOutputs(texts=new, stats=stats, figures=figures, diffs=diffs, run=run)

    @staticmethod
    def _analysis(gen, run: CompareRun) -> Analysis:
        """The column's numbers, from its generation's own; a stopped comparison shows each
        text as far as it was read, which is read again (the rows made a few more)."""
        if not run.stop_requested:
            return gen.analysis()
        gen.stop()
        return analyser_for(gen.bundle).analyse(gen.text)


def render(models: Models, own: SessionModels | None = None):
    """Build the tab inside the current ``gr.Tab`` and wire its event; with ``own``, a "models"
    choice (shipped / your text) is returned, to be shown once the visitor has models."""
    handlers = CompareHandlers(models, own)
    if not handlers.names:
        gr.Markdown("None of the shipped strategies could be loaded, so there is nothing to compare.")
        return
    vocab_size = min(len(models.bundles[n].vocab) for n in handlers.names)
    gr.Markdown(text.COMPARE)
    source = gr.Radio(list(SOURCES), value=SHIPPED, label="models", visible=False,
                      elem_id="compare-source") if own else None
    with gr.Row():
        prompt = gr.Textbox(text.EXAMPLES[1], label="prompt", lines=2, scale=3,
                            elem_id="compare-prompt", max_length=MAX_PROMPT_CHARS)
        seed = gr.Number(0, label="seed", precision=0, info="empty: random", scale=1)
    with gr.Row():
        max_new_tokens = gr.Slider(1, MAX_COMPARE_TOKENS, value=300, step=1, label="max_new_tokens",
                                   elem_id="compare-max-new-tokens")
        temperature = gr.Slider(0, MAX_TEMPERATURE, value=0.8, step=0.05, label="temperature")
        top_k = gr.Slider(0, vocab_size, value=0, step=1, label="top_k", info="0: off")
        top_p = gr.Slider(0.05, 1, value=1, step=0.05, label="top_p", info="1: off")
    with gr.Row():
        replace_unknown = gr.Checkbox(False, label="replace unknown characters")
        refine = gr.Checkbox(False, label="Refine with CNN", interactive=bool(models.refiner),
                             info=text.REFINE_NOTE if models.refiner else models.refiner_note)
        start = gr.Button("Compare", variant="primary", elem_id="compare-btn")
        stop = gr.Button("Stop", variant="stop")
    texts, stats, figures, diffs = [], [], [], []
    with gr.Row(equal_height=False):
        for name in handlers.names:
            with gr.Column(min_width=240):
                gr.Markdown(f"### {name}")
                texts.append(gr.Textbox(label=name, lines=14, max_lines=24, interactive=False,
                                        elem_id=f"compare-{name}", buttons=["copy"]))
                stats.append(gr.Markdown(elem_id=f"compare-stats-{name}", label=f"{name} stats"))
                figures.append(gr.Plot(label=f"{name} per character", elem_id=f"compare-plot-{name}"))
                diffs.append(gr.HTML(label=f"{name} refined by the CNN"))
    run = gr.State(None)
    outputs = list(CompareOutputs(texts=texts, stats=stats, figures=figures, diffs=diffs,
                                  run=run).flat())
    cleared = wire(start.click, handlers.clear_columns, None, outputs)  # at once, then queued
    wire(cleared.then, with_clear_errors(handlers.compare_texts),
         [prompt, max_new_tokens, temperature, top_k, top_p, seed, replace_unknown, refine,
          *([source] if own else [])], outputs, api_name="compare", workers="generations")
    wire(stop.click, handlers.request_stop, run, None)
    if own:
        wire(source.change, own.example_prompt, source, prompt)
    return source
