"""Models that belong to one visitor: trained in the "Your text" tab, or uploaded as a zip.

They are keyed by the Gradio session that made them (``gr.Request.session_hash``: one per open
page, and one per ``gradio_client.Client``), so nobody else can reach them. The store is
bounded three ways, and the least recently used session's models go first:

- at most ``MAX_SESSIONS`` sessions hold models;
- their weights together stay under ``MEMORY_CAP`` bytes (a 300k-parameter model takes about
  2.4 MB with its NumPy copy for generation, so four take about 10 MB);
- a session idle for ``IDLE_TIMEOUT`` seconds loses them, as does one whose page is closed
  (``demo.unload``).

The app's resident memory with ``MAX_SESSIONS`` + 1 trained sessions is measured by the app
bench and must stay under ``APP_MEMORY_CAP``.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from .. import VARIANTS, load
from ..checkpoint import META
from ..sample_quality import words_in
from .loaded_models import Models
from .validation import InputError

MAX_SESSIONS = 8
MEMORY_CAP = 128 * 2**20  # bytes of session weights, all sessions together
IDLE_TIMEOUT = 30 * 60  # seconds
APP_MEMORY_CAP = 2**30  # bytes: the app's resident memory with MAX_SESSIONS + 1 trained
SHIPPED, YOURS = "shipped", "your text"
SOURCES = (SHIPPED, YOURS)
EXAMPLES = "examples.json"
WORDS = "words.json"  # the text's words, for Compare's real-word rate of the visitor's models
MAX_WORDS = 50_000  # the most frequent: they cover nearly every word a model writes
NO_REFINER = ("The CNN refiner was trained on the shipped corpus; it is not offered for your "
              "own models.")


@dataclass
class OwnModels:
    """One session's models and what came with them."""

    models: Models
    folder: Path  # their checkpoint folders, one per strategy (what Download zips)
    examples: list[str]  # prompts drawn from the text they were trained on
    table: dict | None  # the results table, when the job finished
    origin: str  # "trained" or "uploaded"
    last_used: float = field(default_factory=time.monotonic)

    @property
    def nbytes(self) -> int:
        """Weights in memory: the PyTorch model and the NumPy copy that generation steps with."""
        return 2 * sum(p.numel() * p.element_size()
                       for b in self.models.bundles.values() for p in b.model.parameters())


class SessionModels:
    """Every session's own models, bounded (see the module's docstring)."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, memory_cap: int = MEMORY_CAP,
                 idle_timeout: float = IDLE_TIMEOUT):
        self.max_sessions, self.memory_cap, self.idle_timeout = max_sessions, memory_cap, idle_timeout
        self._owned: OrderedDict[str, OwnModels] = OrderedDict()  # least recently used first
        self._gone: dict[str, str] = {}  # why a session's models were dropped
        self._closed: OrderedDict[str, None] = OrderedDict()  # sessions whose page was closed
        self._lock = threading.RLock()

    def put(self, owner: str, folder: Path, table: dict | None, origin: str) -> OwnModels:
        """Load the four checkpoints in ``folder`` as ``owner``'s models, replacing any before.
        A set that lacks a strategy is refused, and what the session held stays: every tab
        offers all four strategies."""
        missing = missing_strategies(folder)
        if missing:
            raise InputError(f"These models cannot be kept: {', '.join(missing)} had saved no "
                             "checkpoint, and a set holds all four strategies.")
        bundles = {}
        for v in VARIANTS:
            bundles[v] = load(folder / v, device="cpu")
            bundles[v].fast_step  # noqa: B018 -- prepared now, not on the first request
        examples = read_examples(folder)
        words = read_words(folder)  # none (a zip from before they were kept): rate shown as —
        own = OwnModels(Models(bundles, words=words, refiner_note=NO_REFINER), folder, examples,
                        table, origin)
        with self._lock:
            self.forget(owner)
            self._owned[owner] = own
            self._gone.pop(owner, None)
            self._bound()
        return own

    def get(self, owner: str | None) -> OwnModels | None:
        with self._lock:
            self.expire()
            own = self._owned.get(owner) if owner else None
            if own is not None:
                own.last_used = time.monotonic()
                self._owned.move_to_end(owner)
            return own

    def models(self, owner: str | None) -> Models:
        """``owner``'s models; an ``InputError`` saying why there are none otherwise."""
        own = self.get(owner)
        if own is not None:
            return own.models
        why = self._gone.get(owner or "")
        raise InputError(
            (f"Your models are gone: {why}. " if why else "You have no models of your own yet. ")
            + "Train some in the \"Your text\" tab, or upload a zip of them there.")

    def pick(self, source, shipped: Models, owner: str | None) -> Models:
        """The models a "models" selector names: the shipped ones, or ``owner``'s."""
        if source is None or source == SHIPPED:
            return shipped
        if source == YOURS:
            return self.models(owner)
        raise InputError(f"models must be one of {', '.join(map(repr, SOURCES))}, not {source!r}.")

    def example_prompt(self, source, request: gr.Request):
        """A prompt from the visitor's own text when they choose their models (else unchanged)."""
        own = self.get(owner_of(request)) if source == YOURS else None
        return own.examples[0] if own and own.examples else gr.skip()

    def example_text(self, source, request: gr.Request):
        """A passage to score from the visitor's own text when they choose their models."""
        own = self.get(owner_of(request)) if source == YOURS else None
        return "".join(own.examples) if own and own.examples else gr.skip()

    def forget(self, owner: str, why: str = "") -> None:
        with self._lock:
            own = self._owned.pop(owner, None)
            if why and own is not None:
                self._gone[owner] = why
        if own is not None:
            shutil.rmtree(own.folder, ignore_errors=True)

    def expire(self) -> None:
        """Drop the models of sessions idle longer than the timeout."""
        cutoff = time.monotonic() - self.idle_timeout
        with self._lock:
            for owner in [o for o, m in self._owned.items() if m.last_used < cutoff]:
                self.forget(owner, f"unused for {self.idle_timeout / 60:.0f} minutes")

    def close(self, owner: str) -> None:
        """The session has ended: free its models, and take none for it later (a job it started
        may still end after its page closed)."""
        with self._lock:
            self._closed[owner] = None
            while len(self._closed) > 10_000:
                self._closed.popitem(last=False)
        self.forget(owner)

    def is_closed(self, owner: str) -> bool:
        return owner in self._closed

    def sweep_forever(self, every: float = 60) -> None:
        """Expire idle sessions every ``every`` seconds, visited or not (run in a daemon thread)."""
        while True:
            time.sleep(every)
            with self._lock:
                self.expire()

    def _bound(self) -> None:
        while len(self._owned) > self.max_sessions:
            self.forget(next(iter(self._owned)), f"{self.max_sessions} other sessions have "
                        "trained models since you last used yours")
        while len(self._owned) > 1 and self.nbytes > self.memory_cap:
            self.forget(next(iter(self._owned)), "the demo needed the memory for newer models")

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self._owned.values())

    @property
    def owners(self) -> list[str]:
        with self._lock:
            return list(self._owned)


def missing_strategies(folder: Path) -> list[str]:
    """The strategies with no checkpoint in ``folder`` (a job killed early saved only some)."""
    return [v for v in VARIANTS if not (folder / v / META).is_file()]


def owner_of(request) -> str | None:
    """The session a request comes from (None outside a Gradio request)."""
    return getattr(request, "session_hash", None) or None


def draw_examples(text: str, count: int = 5, length: int = 60, seed: int = 0) -> list[str]:
    """Prompts from ``text``: the starts of lines at spread-out places, cut at a word's end."""
    rng = random.Random(seed)
    starts = [m.end() for m in re.finditer(r"\n+", text) if m.end() < len(text) - length]
    starts = starts or list(range(0, max(1, len(text) - length), max(1, len(text) // 50)))
    chosen = sorted(rng.sample(starts, min(count, len(starts))))
    examples = []
    for s in chosen:
        piece = text[s:s + length]
        cut = piece.rfind(" ")
        piece = piece[:cut + 1] if cut > length // 3 else piece
        if piece.strip():
            examples.append(piece)
    return examples


def write_examples(folder: Path, text: str) -> None:
    (folder / EXAMPLES).write_text(json.dumps(draw_examples(text), ensure_ascii=False))


def write_words(folder: Path, text: str) -> None:
    """The words of the text the models learn from, most frequent first, at most MAX_WORDS."""
    counts = Counter(words_in(text))
    (folder / WORDS).write_text(json.dumps([w for w, _ in counts.most_common(MAX_WORDS)],
                                           ensure_ascii=False))


def read_words(folder: Path) -> frozenset[str]:
    try:
        words = json.loads((folder / WORDS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return frozenset()
    return frozenset(w for w in words if isinstance(w, str)) if isinstance(words, list) else frozenset()


def read_examples(folder: Path) -> list[str]:
    try:
        examples = json.loads((folder / EXAMPLES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [e for e in examples if isinstance(e, str)][:10] if isinstance(examples, list) else []
