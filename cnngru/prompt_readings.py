"""Recent prompts' readings, kept so that visitors who start from the same prompt share one read.

A crowd at a demo mostly starts from the page's default prompt or one of its examples. Reading a
prompt is one forward over it (~6 ms for 56 characters of ``hybrid`` on one core), and the
generation engine, which steps every visitor's row together, would read it once per visitor
between two of its steps. Reading is deterministic, so a kept reading equals a new one; its arrays
are made read-only, so no row can change it under the next. The cache is bounded in characters,
since a reading holds numbers for each of its prompt's positions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .checkpoint import Bundle
from .generation import Continuation, read_prompt

KEPT_CHARS = 8_192  # prompt characters kept in all, per model (a few MB at most)


class PromptReadings:
    """``read_prompt`` for one model, remembering the last prompts read (least recently used
    first out)."""

    def __init__(self, kept_chars: int = KEPT_CHARS):
        self.kept_chars = kept_chars
        self._kept: OrderedDict[tuple, Continuation] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        self.reads = 0  # prompts read by the model; the rest came from the cache

    def read(self, bundle: Bundle, prompt: str, unknown: str = "error",
             keep_reading: bool = False) -> Continuation:
        """What ``read_prompt(bundle, prompt, unknown=unknown, keep_reading=keep_reading)``
        returns, shared with earlier callers of the same prompt: treat it as read-only."""
        ids = tuple(bundle.vocab.encode(prompt, unknown))
        key = (ids, keep_reading)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        start = _read_only(read_prompt(bundle, prompt, unknown=unknown,
                                       keep_reading=keep_reading))
        with self._lock:
            self.reads += 1
            if len(ids) <= self.kept_chars and key not in self._kept:
                self._kept[key] = start
                self._chars += len(ids)
                while self._chars > self.kept_chars:
                    (old, _), _ = self._kept.popitem(last=False)
                    self._chars -= len(old)
        return start


def _read_only(start: Continuation) -> Continuation:
    """``start`` with its NumPy arrays locked: writing into a shared reading raises."""
    arrays = [*start.state.values(), start.logits]
    if start.reading is not None:
        arrays += start.reading.trace.values()
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.setflags(write=False)
    return start
