"""A generation as a page shows it: its characters as they come, then the numbers behind its
figures.

A page streams a text and, once the text ends (or is stopped), draws its figures from one
``Analysis`` of the whole of it. ``AnalysedGenerations`` does both in this process, on each
model's batching engine (``batched_generation``); ``generation_process.GenerationProcess`` does the
same in a helper process, behind the same two methods, so that a server's threads (which share
one interpreter lock) leave the models' work to another core.

    generations = AnalysedGenerations()
    with generations.stream(bundle, "ROMEO:\\n", max_new_tokens=400, seed=0) as gen:
        text = "".join(c.char for c in gen)  # as it streams
    analysis = gen.analysis()  # the per-character numbers of the whole text
"""

from __future__ import annotations

from typing import NamedTuple

from .batched_analysis import analyser_for
from .batched_generation import Stream, engine_for
from .checkpoint import Bundle
from .diagnostics import Analysis, analyse_generation
from .generation import Continuation


class Streamed(NamedTuple):
    """One generated character and the model's probability of it (temperature 1)."""

    char: str
    probability: float


class AnalysedStream:
    """One generation: iterate it for ``Streamed`` characters; once it has ended (or after
    ``stop()``), ``continuation`` and ``analysis()`` describe the whole text."""

    def __init__(self, stream: Stream):
        self._stream = stream
        self.start: Continuation = stream.start
        self.start_text = stream.start.text
        self._steps: list = []

    def __iter__(self) -> AnalysedStream:
        return self

    def __next__(self) -> Streamed:
        step = next(self._stream)
        self._steps.append(step)
        return Streamed(step.char, step.probability)

    def take_ready(self) -> list[Streamed]:
        """The characters generated and not read yet, without stepping (for a caller that steps
        the ``engine`` itself)."""
        steps = self._stream.take_ready()
        self._steps.extend(steps)
        return [Streamed(s.char, s.probability) for s in steps]

    @property
    def finished(self) -> bool:
        """It has ended and every character has been read."""
        return self._stream.finished

    @property
    def chars_per_s(self) -> float:
        """``Stream.chars_per_s``: the speed of this model's own steps for this generation."""
        return self._stream.chars_per_s

    @property
    def engine(self):
        return self._stream.engine

    @property
    def bundle(self) -> Bundle:
        return self._stream.bundle

    @property
    def text(self) -> str:
        """The start and what has been read so far."""
        return self._stream.text

    def stop(self) -> None:
        """End after the characters generated already; they are in ``continuation``."""
        self._stream.stop()

    def close(self) -> None:
        """Free the row (a page that went away)."""
        self._stream.close()

    def __enter__(self) -> AnalysedStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def continuation(self) -> Continuation:
        """Where the text ended, to continue it from."""
        return self._stream.continuation

    def analysis(self) -> Analysis | None:
        """The per-character numbers of the whole text (None under two characters): from the
        steps' own diagnostics and the prompt's kept reading, so nothing is read twice."""
        self._steps.extend(self._stream)  # after a stop: the characters generated, not yet read
        text = self.continuation.text
        if len(text) < 2:
            return None
        bundle = self._stream.bundle
        if self.start.text and self._steps:
            return analyse_generation(bundle, self.start.text, self._steps, self.start.reading)
        return analyser_for(bundle).analyse(text)


class AnalysedGenerations:
    """Analysed generations in this process, batched per model by its engine."""

    def stream(self, bundle: Bundle, prompt: str = "", *, continue_from: Continuation | None = None,
               max_new_tokens: int = 200, temperature: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, seed: int | None = None) -> AnalysedStream:
        """A new generation (the arguments are ``cnngru.generate``'s), with diagnostics."""
        return AnalysedStream(engine_for(bundle).generate(
            prompt, continue_from=continue_from, max_new_tokens=max_new_tokens,
            temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, diagnostics=True))

    def stats(self, bundles: dict[str, Bundle]) -> dict[str, dict]:
        """Per model: batched steps run, the characters they made, the mean batch size and the
        rows running now."""
        return {name: engine_stats(engine_for(bundle)) for name, bundle in bundles.items()}


def engine_stats(engine) -> dict:
    return {"steps": engine.steps, "characters": engine.row_steps,
            "mean_batch_size": round(engine.mean_batch_size, 2),
            "active_rows": engine.active_rows}
