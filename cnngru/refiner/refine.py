"""Refine a finished text: change only the characters the denoiser is sure are wrong.

    from cnngru.refiner import refine
    result = refine("Thd king is deaf, long liwe the kinf! Whst say you, my lprd?")
    result.text    # 'The king is deaf, long like the king! What say you, my lord?'
    result.edits   # [Edit(position=2, old='d', new='e', confidence=0.9973), ...]

It corrects one character at a time from context: a real word ("deaf") is left alone, and a
non-word may become the wrong real word ("liwe" -> "like", not "live").
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..checkpoint import Bundle, CheckpointError, load
from .model import Refiner

DEFAULT_THRESHOLD = 0.9  # change a character only when another one is at least this likely
WINDOW = 4096  # characters refined per forward pass; memory stays bounded for any length


@dataclass(frozen=True)
class Edit:
    position: int  # index into the input text (the output has the same length)
    old: str
    new: str
    confidence: float  # the model's probability of ``new`` at this position


@dataclass(frozen=True)
class RefineResult:
    text: str
    edits: list[Edit]


@functools.lru_cache(maxsize=4)
def _cached(path_or_name: str, device: str | None) -> Bundle:
    bundle = load(path_or_name, device=device)
    if not isinstance(bundle.model, Refiner):
        raise CheckpointError(f"{bundle.path}: a {bundle.variant!r} checkpoint, not a refiner")
    return bundle


def load_refiner(path_or_name: str | os.PathLike = "refiner", device: str | None = None) -> Bundle:
    """The refiner checkpoint (shipped as ``checkpoints/refiner``), loaded once and cached.

    Raises ``CheckpointError`` when it is absent or holds another kind of model.
    """
    return _cached(str(path_or_name), None if device is None else str(device))


def refine(text: str, refiner: Bundle | None = None, threshold: float = DEFAULT_THRESHOLD) -> RefineResult:
    """Substitute the characters of ``text`` that the refiner believes are errors.

    A character changes only when the model gives some *other* character a probability of at
    least ``threshold``. Only substitutions are made, so the result has exactly ``len(text)``
    characters: it is never longer than the input. Characters outside the refiner's vocabulary
    pass through untouched (the model reads them as their closest known character). Texts longer
    than ``WINDOW`` are read window by window, so memory stays bounded, with the same result
    as one pass.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], not {threshold!r}")
    bundle = refiner or load_refiner()
    if not isinstance(bundle.model, Refiner):
        raise ValueError(f"{bundle.name!r} holds a {bundle.variant!r} model, not a refiner")
    vocab = bundle.vocab
    ids = vocab.encode_tensor(text, unknown="replace")
    chars, edits = list(text), []
    for start, probs in windows(bundle, ids):  # probs: (W, V)
        here = ids[start:start + len(probs)]
        others = probs.scatter(1, here[:, None], 0.0)  # the best *other* character at each position
        confidence, best = others.max(dim=1)
        for i in torch.nonzero(confidence >= threshold).flatten().tolist():
            pos = start + i
            if text[pos] in vocab.index:
                chars[pos] = vocab.chars[best[i]]
                edits.append(Edit(pos, text[pos], chars[pos], round(float(confidence[i]), 4)))
    return RefineResult("".join(chars), edits)


@torch.inference_mode()
def windows(bundle: Bundle, ids: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
    """``(start, probabilities)`` of the clean character for each window of ``WINDOW`` ids.

    Each window is read with ``receptive_radius`` characters of context on both sides, all a
    prediction can depend on, so windows join without seams. Probabilities are on the CPU.
    """
    model: Refiner = bundle.model
    margin = model.config.receptive_radius
    for start in range(0, len(ids), WINDOW):
        lo, hi = max(0, start - margin), min(len(ids), start + WINDOW + margin)
        logits = model(ids[None, lo:hi].to(bundle.device))[0].float()
        yield start, torch.softmax(logits[start - lo:start - lo + WINDOW], dim=-1).cpu()


def probabilities(bundle: Bundle, text: str) -> torch.Tensor:
    """The refiner's distribution over the clean character at every position of ``text``, (T, V)."""
    ids = bundle.vocab.encode_tensor(text, unknown="replace")
    parts = [p for _, p in windows(bundle, ids)]
    return torch.cat(parts) if parts else torch.zeros(0, len(bundle.vocab))
