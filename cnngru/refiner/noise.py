"""Synthetic character noise: what typing and sampling errors look like, seeded.

The refiner learns to undo substitutions drawn from a fixed recipe (``RECIPE``): a letter
becomes a neighbouring key on a QWERTY keyboard, a look-alike letter (i/l, c/e, u/v, ...), a
random letter, or any random character of the vocabulary. Case is kept (a neighbour of ``A``
is ``S``). A space may become a key of the bottom row (the thumb slips), other characters a
random one. The recipe is one row-stochastic matrix ``P[c, c']`` (zero diagonal: a
substitution always changes the character), so the rate asked for is the rate of changed
characters, and the string and tensor versions share it.

Insertions and deletions (dropped or doubled keys, ``m`` read as ``rn``) change the length of
the text; the refiner is substitution-only and does not undo them. ``indels()`` makes them so
that the metrics can report the error rate on such text anyway.
"""

from __future__ import annotations

import numpy as np
import torch

from ..vocab import Vocab

KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
ROW_OFFSETS = (0.0, 0.25, 0.75)  # the stagger of a real keyboard, in key widths
NEIGHBOUR_DISTANCE = 1.3  # keys closer than this (centre to centre) are neighbours
SPACE_NEIGHBOURS = "cvbnm"  # keys just above the space bar

# Single characters that a reader, an OCR engine or a sampling model mixes up.
CONFUSABLE_GROUPS = ("il1", "ce", "uv", "ao", "eo", "co", "nh", "mn", "nu", "bh", "ft", "gq",
                     "vy", "rn", "O0", "Il1", "S5", "B8", "Z2")
# Multi-character look-alikes, used by indels() only: one side becomes the other.
CONFUSABLE_SPANS = (("rn", "m"), ("cl", "d"), ("vv", "w"), ("ii", "u"), ("nn", "m"))

# What a corrupted character becomes (weights, renormalised over the kinds that have candidates).
RECIPE = {
    "letter": {"keyboard": 0.45, "confusable": 0.25, "random_letter": 0.15, "random_char": 0.15},
    "space": {"keyboard": 0.5, "random_char": 0.5},
    "other": {"confusable": 0.3, "random_char": 0.7},  # digits and punctuation
    "indels": {"delete": 0.4, "double": 0.2, "insert_neighbour": 0.2, "confusable_span": 0.2},
}


def keyboard_neighbours() -> dict[str, str]:
    """Each lowercase letter's neighbouring keys, from the staggered key positions."""
    pos = {k: (x + ROW_OFFSETS[r], float(r)) for r, row in enumerate(KEYBOARD_ROWS)
           for x, k in enumerate(row)}
    return {a: "".join(b for b, (xb, yb) in pos.items()
                       if b != a and (xa - xb) ** 2 + (ya - yb) ** 2 < NEIGHBOUR_DISTANCE ** 2)
            for a, (xa, ya) in pos.items()}


def _same_case(chars: str, like: str) -> str:
    return chars.upper() if like.isupper() else chars.lower()


def substitution_matrix(vocab: Vocab) -> np.ndarray:
    """``P[i, j]``: the probability that character i, when corrupted, becomes character j."""
    n = len(vocab)
    neighbours = keyboard_neighbours()
    letters = [c for c in vocab.chars if c.isalpha() and c.isascii()]
    p = np.zeros((n, n))
    for i, c in enumerate(vocab.chars):
        is_letter = c.isalpha() and c.isascii()
        kind = "letter" if is_letter else "space" if c == " " else "other"
        candidates = {
            "keyboard": (_same_case(neighbours.get(c.lower(), ""), c) if is_letter
                         else SPACE_NEIGHBOURS if c == " " else ""),
            "confusable": "".join(sorted({d for g in CONFUSABLE_GROUPS if c in g for d in g})),
            "random_letter": "".join(d for d in letters if d.isupper() == c.isupper()),
            "random_char": vocab.chars,
        }
        for name, weight in RECIPE[kind].items():
            ids = [vocab.index[d] for d in candidates[name] if d in vocab.index and d != c]
            for j in ids:
                p[i, j] += weight / len(ids)
        p[i] /= p[i].sum()
    return p


class Noise:
    """The recipe applied to one vocabulary: strings for evaluation, id tensors for training."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab
        self.matrix = substitution_matrix(vocab)
        self._cdf = np.cumsum(self.matrix, axis=1)
        self._cdf[:, -1] = 1.0
        self.table = torch.tensor(self.matrix, dtype=torch.float32)  # for torch.multinomial

    def substitute(self, text: str, rate: float, seed: int = 0) -> str:
        """``text`` with each in-vocabulary character replaced with probability ``rate``."""
        _check_rate(rate)
        rng = np.random.default_rng(seed)
        chars = list(text)
        hit = np.flatnonzero(rng.random(len(chars)) < rate)
        draws = rng.random(len(hit))
        for k, u in zip(hit, draws, strict=True):
            i = self.vocab.index.get(chars[k])
            if i is not None:  # characters outside the vocabulary are never touched
                chars[k] = self.vocab.chars[int(np.searchsorted(self._cdf[i], u, side="right"))]
        return "".join(chars)

    def corrupt_ids(self, ids: torch.Tensor, rates: torch.Tensor,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Batched substitution of (B, T) ids; row b is corrupted at rate ``rates[b]``."""
        hit = torch.rand(ids.shape, generator=generator) < rates[:, None]
        flat = ids[hit]
        if flat.numel() == 0:
            return ids.clone()
        out = ids.clone()
        out[hit] = torch.multinomial(self.table[flat], 1, generator=generator).squeeze(1)
        return out

    def indels(self, text: str, rate: float, seed: int = 0) -> str:
        """``text`` with an insertion or deletion at each position with probability ``rate``:
        a dropped key, a doubled key, a neighbouring key pressed too, or a multi-character
        look-alike (``m`` <-> ``rn``). The length changes; the refiner does not undo these."""
        _check_rate(rate)
        rng = np.random.default_rng(seed)
        kinds, weights = zip(*RECIPE["indels"].items(), strict=True)
        neighbours = keyboard_neighbours()
        spans = {a: b for pair in CONFUSABLE_SPANS for a, b in (pair, pair[::-1])}
        out, i = [], 0
        while i < len(text):
            c = text[i]
            if rng.random() >= rate:
                out.append(c)
                i += 1
                continue
            kind = kinds[rng.choice(len(kinds), p=np.array(weights) / sum(weights))]
            span = next((s for s in sorted(spans, key=len, reverse=True)
                         if text.startswith(s, i)), None)
            if kind == "confusable_span" and span is not None:
                out.append(spans[span])
                i += len(span)
                continue
            if kind == "delete":
                pass
            elif kind == "insert_neighbour" and neighbours.get(c.lower()):
                n = neighbours[c.lower()]
                out.append(c + _same_case(n[rng.integers(len(n))], c))
            else:  # a doubled key, also the fallback for kinds that do not apply here
                out.append(c + c)
            i += 1
        return "".join(out)


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a noise rate is a probability in [0, 1], not {rate!r}")
