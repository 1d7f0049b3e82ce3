"""The character vocabulary: every character of the corpus, in a fixed (sorted) order.

The order matters beyond encoding: sampling walks the cumulative distribution in vocabulary
order, so models that share a vocabulary and a stream of random draws share their dice.

A text with more distinct characters than ``MAX_SIZE`` (code, another script, a log full of
symbols) keeps its ``MAX_SIZE - 1`` most frequent ones plus ``UNKNOWN``, which every other
character becomes: a vocabulary that holds ``UNKNOWN`` encodes any text, and its models'
bits per character count the unknown symbol's probability for each rare character.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable

import numpy as np
import torch

UNKNOWN_POLICIES = ("error", "replace")
UNKNOWN = "\ufffd"  # the replacement character: every character outside a capped vocabulary
MAX_SIZE = 256  # characters a vocabulary holds at most, UNKNOWN included


class UnknownCharactersError(ValueError):
    """Text holds characters the model has never seen; ``chars`` lists them."""

    def __init__(self, chars: Iterable[str], vocab_size: int):
        self.chars = sorted(set(chars))
        shown = ", ".join(repr(c) for c in self.chars[:20])
        more = f" and {len(self.chars) - 20} more" if len(self.chars) > 20 else ""
        super().__init__(
            f"{len(self.chars)} character(s) outside the model's {vocab_size}-character "
            f"vocabulary: {shown}{more}. Remove them, or pass unknown='replace' (on the command "
            f"line: --unknown replace) to map them to their closest known character (accents "
            f"stripped, else a space)."
        )


class Vocab:
    """Maps characters to ids and back."""

    def __init__(self, chars: str):
        if len(set(chars)) != len(chars) or not chars:
            raise ValueError("a vocabulary is a non-empty string of distinct characters")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    @property
    def has_unknown(self) -> bool:
        """Whether characters outside the vocabulary map to ``UNKNOWN`` (a capped vocabulary)."""
        return UNKNOWN in self.index

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` outside the vocabulary, sorted."""
        return sorted(set(text) - self.index.keys())

    def clean(self, text: str, unknown: str = "error") -> str:
        """``text`` made encodable: raise on unknown characters, or replace each of them.

        ``unknown="replace"`` maps a character to its accent-free form when that is known
        (é -> e), else to a space (or the first character if there is no space).
        """
        if unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown must be one of {UNKNOWN_POLICIES}, not {unknown!r}")
        missing = self.unknown(text)
        if not missing:
            return text
        if self.has_unknown:  # a capped vocabulary: every rare character is the unknown symbol
            return "".join(UNKNOWN if c not in self.index else c for c in text)
        if unknown == "error":
            raise UnknownCharactersError(missing, len(self))
        table = {c: self._closest(c) for c in missing}
        return "".join(table.get(c, c) for c in text)

    def _closest(self, char: str) -> str:
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if c in self.index)
        if len(base) == 1:
            return base
        return " " if " " in self.index else self.chars[0]

    def encode(self, text: str, unknown: str = "error") -> list[int]:
        return [self.index[c] for c in self.clean(text, unknown)]

    def encode_tensor(self, text: str, unknown: str = "error") -> torch.Tensor:
        """``encode`` for whole corpora: one table lookup over the code points, not a loop."""
        text = self.clean(text, unknown)
        if not text:
            return torch.zeros(0, dtype=torch.long)
        table = np.zeros(max(map(ord, self.chars)) + 1, dtype=np.int64)
        table[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return torch.from_numpy(table[points])

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)


def alphabet(text: str, max_size: int = MAX_SIZE) -> str:
    """The vocabulary of ``text``: its distinct characters, sorted; past ``max_size``, the
    ``max_size - 1`` most frequent (ties: the smaller code point) and ``UNKNOWN``."""
    counts = Counter(text)
    if len(counts) <= max_size:
        return "".join(sorted(counts))
    kept = sorted(counts, key=lambda c: (-counts[c], c))[: max_size - 1]
    return "".join(sorted({*kept, UNKNOWN}))
