"""The Generate tab: one strategy, the text streamed as it is written, then figures of why.

The text streams in throttled updates that carry the text and its coloured view alone; the
figures come once, at the end (or when Stop is pressed), from one analysis of the whole text:
the forward is exact whether fed whole or step by step, so it shows what happened during
generation without slowing the stream down. Before a request joins the queue, a private update
clears the last text's figures, so the page never mixes two texts while the visitor waits for a
worker (the queue shows their place on the outputs). The JSON of the numbers behind the figures is written only when asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gradio as gr

from ..diagnostics import Analysis
from ..generation import Continuation
from . import text
from .coloured_text import coloured_view
from .common import NumbersFiles, Throttle, skipping, wire, with_clear_errors
from .figures import attention_figure, attention_view, character_figure
from .html import message_html
from .loaded_models import Models
from .refine_diff import refined_diff
from .session_models import SHIPPED, SOURCES, SessionModels, owner_of
from .text_views import (
    COLOURINGS,
    UNIT,
    StreamingUnit,
    offered,
    streaming_html,
    text_view,
    unit_html,
)
from .validation import (
    MAX_NEW_TOKENS,
    MAX_PROMPT_CHARS,
    MAX_TEMPERATURE,
    MAX_TEXT_CHARS,
    GenerationRequest,
    InputError,
    flag,
    generation_request,
    known_characters,
    text_input,
)


@dataclass
class GenerationSession:
    """One user's text so far: what Continue picks up and the figures are redrawn from."""

    model: str
    prompt_chars: int
    continuation: Continuation | None  # where the text stood when its last stream ended
    request: GenerationRequest
    streamed: str | None = None  # the text so far while a stream runs (None once it has ended)
    analysis: Analysis | None = None
    shown: dict | None = None  # the per-character numbers the coloured view shows
    probabilities: list = field(default_factory=list)  # of each character as it streamed
    owner: str | None = None  # the page's Gradio session: its chosen colouring (COLOURINGS)
    unit_stream: Any = None  # a StreamingUnit, when it streams coloured by a GRU unit
    stop_requested: bool = False  # set by the Stop button; the stream ends at the next character
    own_models: Models | None = None  # the visitor's own models, when it is theirs (else shipped)

    @property
    def text(self) -> str:
        return self.continuation.text if self.streamed is None else self.streamed


class GenerateOutputs(NamedTuple):
    """What a Generate or Continue update sets. The event's ``outputs=`` list is this tuple of
    components (see ``render``), so values and components are always in the same order."""

    text: Any
    status: Any
    attention: Any  # the attention figure
    characters: Any  # the per-character figure
    numbers: Any  # the JSON file of the numbers behind the figures (cleared: it is on request)
    diff: Any  # the refiner's edits, as HTML
    coloured: Any  # the text coloured per character (text_views.py)
    session: Any  # the GenerationSession (gr.State)


class RedrawOutputs(NamedTuple):
    """What moving the attention view's position redraws."""

    attention: Any
    characters: Any


class GenerateHandlers:
    """The Generate tab's event handlers."""

    def __init__(self, models: Models, numbers: NumbersFiles, own: SessionModels | None = None):
        self.models = models
        self.numbers = numbers
        self.own = own  # the visitors' own models ("Your text"), if the demo has that tab

    def generate_text(self, strategy, prompt, max_new_tokens, temperature, top_k, top_p, seed,
                      replace_unknown, refine, source=SHIPPED, visitor: gr.Request = None):
        """Stream a new text from ``prompt``, with a shipped model or (``source="your text"``)
        the visitor's own."""
        models = self.own.pick(source, self.models, owner_of(visitor)) if self.own else self.models
        bundle = models.get(strategy)
        refine = self._check_refine(refine, models)
        request = generation_request(max_new_tokens, temperature, top_k, top_p, seed,
                                     len(bundle.vocab))
        prompt = text_input(prompt, "prompt", MAX_PROMPT_CHARS)
        prompt = known_characters(prompt, bundle.vocab, "prompt",
                                  flag(replace_unknown, "replace_unknown"))
        gen = models.generations.stream(bundle, prompt, **vars(request))
        session = GenerationSession(strategy, len(prompt), None, request, streamed=gen.start_text,
                                    own_models=models if models is not self.models else None,
                                    owner=owner_of(visitor))
        yield from self._stream(gen, session, refine)

    def continue_text(self, session, max_new_tokens, temperature, top_k, top_p, seed, refine,
                      visitor: gr.Request = None):
        """Stream more of the session's text, from the state where it stopped."""
        if session is None or session.continuation is None:
            raise InputError("There is nothing to continue yet: generate a text first.")
        models = self._models_of(session)
        bundle = models.get(session.model)
        refine = self._check_refine(refine, models)
        request = generation_request(max_new_tokens, temperature, top_k, top_p, seed,
                                     len(bundle.vocab))
        room = MAX_TEXT_CHARS - len(session.text)
        if request.max_new_tokens > room:
            raise InputError(f"The text is {len(session.text):,} characters long and the demo "
                             f"keeps up to {MAX_TEXT_CHARS:,}: continue by at most {max(room, 0):,}"
                             " characters, or start a new text.")
        gen = models.generations.stream(bundle, continue_from=session.continuation,
                                        **vars(request))
        session = GenerationSession(session.model, session.prompt_chars, None, request,
                                    streamed=gen.start_text, own_models=session.own_models,
                                    owner=owner_of(visitor))
        yield from self._stream(gen, session, refine)

    def clear_for_generate(self) -> GenerateOutputs:
        """The page as a new text starts: no text, status or figures of the last one."""
        return skipping(GenerateOutputs, text="", status="", attention=None, characters=None,
                        numbers=None, diff="")

    def clear_for_continue(self) -> GenerateOutputs:
        """The page as a text is continued: the text stays, its figures go until it ends."""
        return skipping(GenerateOutputs, status="", attention=None, characters=None,
                        numbers=None, diff="")

    def numbers_file(self, session) -> str:
        """The numbers behind the figures of the session's text, as a JSON file."""
        if session is None or session.analysis is None:
            raise InputError("There are no numbers yet: generate a text first (at least two "
                             "characters long).")
        return self.numbers.write("generation", {
            "settings": vars(session.request), "prompt_chars": session.prompt_chars,
            "coloured_view": session.shown,
            **session.analysis.to_dict()})

    def request_stop(self, session) -> None:
        """Ask the running stream to end after its current character. It then draws the figures
        of the text as far as it got, so text and figures always agree (cancelling the event
        instead could leave one more text update arriving after the figures)."""
        if session is not None:
            session.stop_requested = True

    def redraw_attention(self, session, position):
        """Move the attention view (and its marker in the character figure) to ``position`` %."""
        a = session.analysis if session else None
        if a is None or len(a.text) < 2:
            return skipping(RedrawOutputs)
        view = attention_view(len(a.text), float(position))
        return RedrawOutputs(
            attention=attention_figure(a, *view),
            characters=character_figure(a, session.prompt_chars,
                                        view if a.attention is not None else None))

    def _check_refine(self, refine, models: Models) -> bool:
        """``refine`` as a flag, refused where ``models`` have no refiner (it was trained on the
        shipped corpus, so the visitor's own models have none)."""
        refine = flag(refine, "refine")
        if refine and models.refiner is None:
            raise InputError(f"Refine with CNN is not available: {models.refiner_note}")
        return refine

    def _models_of(self, session: GenerationSession) -> Models:
        """The models the session's text came from."""
        return self.models if session.own_models is None else session.own_models

    def _stream(self, gen, session: GenerationSession, refine: bool):
        """Read the generation's stream for this session (its row steps in one batch with every
        other visitor's); a closed page closes the generator, which frees the row."""
        started = time.perf_counter()
        with gen, Throttle() as throttle:
            for step in gen:
                session.probabilities.append(step.probability)
                if session.stop_requested:
                    gen.stop()  # the row ends after what it has generated already
                    break
                if throttle.ready():  # the text and its colours: the figures wait for the end
                    session.streamed = gen.text
                    yield skipping(GenerateOutputs, text=session.text, session=session,
                                   coloured=self._streaming_view(session))
            # timed to the last character: the end below may wait for the analysis too (a
            # generation process sends both at once), and that is not generating
            took = time.perf_counter() - started
            session.continuation, session.streamed = gen.continuation, None
            analysis = gen.analysis()
        count = len(session.text) - len(gen.start_text)
        status = (f"**{session.model}** · seed {session.request.seed} · {count:,} characters in "
                  f"{took:.2f} s ({count / max(took, 1e-9):,.0f} characters/s, batched with the "
                  "other visitors' texts)")
        if session.stop_requested and count < session.request.max_new_tokens:  # not at the end
            status = f"Stopped at {len(session.text):,} characters. " + status
        yield self._finish(session, status, refine, analysis)

    def _finish(self, session: GenerationSession, status: str, refine: bool,
                analysis: Analysis | None) -> GenerateOutputs:
        bundle = self._models_of(session).get(session.model)
        a = session.analysis = analysis
        if a is None:
            return GenerateOutputs(text=session.text, status=status, attention=None,
                                   characters=None, numbers=None, diff="", session=session,
                                   coloured=gr.skip())
        if a.influence is None:
            status += "\n\n" + text.NO_CNN
        view = attention_view(len(a.text), 100)
        return GenerateOutputs(
            text=session.text, status=status, attention=attention_figure(a, *view),
            characters=character_figure(a, session.prompt_chars,
                                        view if a.attention is not None else None),
            numbers=None, diff=self._refined(session) if refine else "", session=session,
            coloured=self._final_view(session, bundle))

    def _final_view(self, session: GenerationSession, bundle) -> str:
        """The finished text in the colouring the page chose (confidence if that cannot be
        shown: a unit out of range, a quantity this model lacks)."""
        quantity, unit = COLOURINGS.of(session.owner)
        try:
            html, session.shown = text_view(bundle, session.analysis, quantity, unit)
        except InputError:
            html, session.shown = text_view(bundle, session.analysis, "confidence")
        return html

    def _streaming_view(self, session: GenerationSession) -> str:
        """The coloured text so far: by the GRU unit the page chose (its output computed on the
        new characters only), else by each generated character's confidence."""
        text = session.text
        quantity, unit = COLOURINGS.of(session.owner)
        if quantity == UNIT:
            bundle = self._models_of(session).get(session.model)
            if _whole(unit) in range(bundle.model.config.hidden) and (
                    session.unit_stream is None or session.unit_stream.unit != int(unit)):
                session.unit_stream = StreamingUnit(bundle, int(unit))
            if session.unit_stream is not None:
                return unit_html(text, session.unit_stream.values_for(text),
                                 f"{session.model}, unit {int(unit)}, as the text streams")
        n = min(len(session.probabilities), len(text) - session.prompt_chars)
        return streaming_html(text, len(text) - n, session.probabilities[-n:] if n else [])

    def redraw_coloured(self, session, quantity, unit, visitor: gr.Request = None):
        """The coloured view of the session's finished text in ``quantity`` (or a GRU unit); the
        page's next text streams in it."""
        COLOURINGS.choose(owner_of(visitor), quantity, unit)
        if session is None or session.analysis is None:
            return gr.skip()
        bundle = self._models_of(session).get(session.model)
        html, session.shown = text_view(bundle, session.analysis, quantity, unit)
        return html

    def _refined(self, session: GenerationSession) -> str:
        generated = session.text[session.prompt_chars:]
        if not generated:
            return message_html("Nothing was generated to refine.")
        return refined_diff(self.models.refiner, generated)


def render(models: Models, numbers: NumbersFiles, own: SessionModels | None = None):
    """Build the tab inside the current ``gr.Tab`` and wire its events; with ``own``, a "models"
    choice (shipped / your text) is returned, to be shown once the visitor has models."""
    handlers = GenerateHandlers(models, numbers, own)
    vocab_size = max(len(b.vocab) for b in models.bundles.values())
    gr.Markdown(text.GENERATE)
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            source = gr.Radio(list(SOURCES), value=SHIPPED, label="models", visible=False,
                              elem_id="generate-source") if own else None
            strategy = gr.Dropdown(models.names, label="strategy", elem_id="strategy",
                                   value="hybrid" if "hybrid" in models.bundles else models.names[0])
            prompt = gr.Textbox(text.EXAMPLES[0], label="prompt", lines=4, elem_id="prompt",
                                max_length=MAX_PROMPT_CHARS)
            gr.Examples([[e] for e in text.EXAMPLES], inputs=[prompt], label="example prompts")
            temperature = gr.Slider(0, MAX_TEMPERATURE, value=0.8, step=0.05, label="temperature",
                                    info="0: always the likeliest character")
            with gr.Row():
                top_k = gr.Slider(0, vocab_size, value=0, step=1, label="top_k", info="0: off")
                top_p = gr.Slider(0.05, 1, value=1, step=0.05, label="top_p", info="1: off")
            max_new_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=400, step=1,
                                       label="max_new_tokens", elem_id="max-new-tokens")
            seed = gr.Number(0, label="seed", precision=0, info="empty: random")
            replace_unknown = gr.Checkbox(False, label="replace unknown characters")
            refine = gr.Checkbox(False, label="Refine with CNN", interactive=bool(models.refiner),
                                 info=text.REFINE_NOTE if models.refiner else models.refiner_note)
            with gr.Row():
                start = gr.Button("Generate", variant="primary", elem_id="generate-btn")
                more = gr.Button("Continue", elem_id="continue-btn")
                stop = gr.Button("Stop", variant="stop", elem_id="stop-btn")
        with gr.Column(scale=2):
            output = gr.Textbox(label="text", lines=16, max_lines=30, elem_id="output",
                                buttons=["copy"], interactive=False)
            status = gr.Markdown(elem_id="generate-status", label="status")
            with gr.Row():
                colour_by = gr.Dropdown([*offered(models.bundles.values()), UNIT],
                                        value="confidence",
                                        label="colour each character by", elem_id="colour-by",
                                        scale=2)
                unit = gr.Number(0, label="GRU unit (see the Inside tab)", precision=0,
                                 elem_id="colour-unit", scale=1)
            coloured = coloured_view("generate-coloured", "the text, coloured per character")
            refined = gr.HTML(elem_id="refine-diff", label="refined by the CNN")
    gr.Markdown(text.ATTENTION_HELP)
    position = gr.Slider(0, 100, value=100, step=1, elem_id="attn-position",
                         label="attention view: position in the text (%)")
    attention = gr.Plot(elem_id="attn-plot", label="attention")
    characters = gr.Plot(elem_id="chars-plot", label="per character")
    with gr.Row():
        numbers_btn = gr.Button("Numbers behind the figures (JSON)", elem_id="numbers-btn",
                                scale=0, min_width=280)
        numbers_file = gr.File(label="the numbers behind the figures (JSON)", elem_id="numbers",
                               scale=1)
    session = gr.State(None)

    outputs = list(GenerateOutputs(text=output, status=status, attention=attention,
                                   characters=characters, numbers=numbers_file, diff=refined,
                                   coloured=coloured, session=session))
    settings = [max_new_tokens, temperature, top_k, top_p, seed]
    # a private update clears the page at once; then the request joins the queue, where the
    # outputs show the visitor's place in line until a worker takes it
    cleared = wire(start.click, handlers.clear_for_generate, None, outputs)
    wire(cleared.then, with_clear_errors(handlers.generate_text),
         [strategy, prompt, *settings, replace_unknown, refine, *([source] if own else [])],
         outputs, api_name="generate", workers="generations")
    cleared = wire(more.click, handlers.clear_for_continue, None, outputs)
    wire(cleared.then, with_clear_errors(handlers.continue_text),
         [session, *settings, refine], outputs, api_name="continue_generation",
         workers="generations")
    redraw = with_clear_errors(handlers.redraw_coloured)
    for trigger in (colour_by.change, unit.submit):
        wire(trigger, redraw, [session, colour_by, unit], coloured)
    wire(stop.click, handlers.request_stop, session, None)
    wire(position.release, with_clear_errors(handlers.redraw_attention), [session, position],
         list(RedrawOutputs(attention=attention, characters=characters)))
    wire(numbers_btn.click, with_clear_errors(handlers.numbers_file), session, numbers_file,
         api_name="numbers", workers="files")
    if own:
        wire(source.change, own.example_prompt, source, prompt)
    return source


def _whole(value) -> int | None:
    """``value`` as a whole number, or None."""
    try:
        return int(value) if float(value) == int(value) else None
    except (TypeError, ValueError):
        return None
