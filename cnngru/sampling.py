"""Turning logits into a character: temperature, top-k, top-p, and inverse-CDF sampling.

Pure functions of the logits, the settings and one uniform number. Walking the cumulative
distribution in the vocabulary's fixed order with a given draw u means two models fed the same
stream of draws share their dice (common random numbers): where their distributions agree they
pick the same character, so differences in their texts come from the models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# A floor: below it a draw is the argmax in all but name (0 asks for that outright), and near
# 1e-37 the float32 logits / T overflow into NaN.
MIN_TEMPERATURE = 0.001


@dataclass(frozen=True)
class SamplingSettings:
    """Names and meanings as in Hugging Face ``GenerationConfig``."""

    temperature: float = 1.0  # 0: greedy (argmax); higher: flatter, more surprising text
    top_k: int = 0  # keep only the k most likely characters; 0: no limit
    top_p: float = 1.0  # keep the smallest set reaching this probability (nucleus); 1: no limit

    def __post_init__(self):
        t = self.temperature
        if not (isinstance(t, int | float) and math.isfinite(t)
                and (t == 0 or MIN_TEMPERATURE <= t <= 100)):
            raise ValueError(f"temperature must be 0 (greedy) or a number from {MIN_TEMPERATURE} "
                             f"to 100, not {t!r}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int | np.integer) or self.top_k < 0:
            raise ValueError(f"top_k must be a whole number >= 0 (0: off), not {self.top_k!r}")
        if not (isinstance(self.top_p, int | float) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1] (1: off), not {self.top_p!r}")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max()
    p = np.exp(z)
    return p / p.sum()


def sampling_distribution(logits: np.ndarray, settings: SamplingSettings) -> np.ndarray:
    """The distribution a character is drawn from, zero outside the kept set; sums to 1."""
    if settings.temperature == 0:
        probs = np.zeros(len(logits))
        probs[int(np.argmax(logits))] = 1.0
        return probs
    probs = softmax(logits / settings.temperature)
    if 0 < settings.top_k < len(probs):
        keep = np.argsort(-probs, kind="stable")[: settings.top_k]
        probs = _keep_only(probs, keep)
    if settings.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        reached = np.cumsum(probs[order])
        n = int(np.searchsorted(reached, settings.top_p - 1e-12)) + 1  # smallest nucleus >= p
        probs = _keep_only(probs, order[:n])
    return probs


def _keep_only(probs: np.ndarray, keep: np.ndarray) -> np.ndarray:
    kept = np.zeros_like(probs)
    kept[keep] = probs[keep]
    return kept / kept.sum()


def inverse_cdf(probs: np.ndarray, u: float) -> int:
    """The index i whose cumulative interval [cdf[i-1], cdf[i]) holds u, in vocabulary order."""
    cdf = np.cumsum(probs)
    i = int(np.searchsorted(cdf, u * cdf[-1], side="right"))
    return min(i, int(np.flatnonzero(probs)[-1]))  # guard against u * total rounding up


def sample(logits: np.ndarray, settings: SamplingSettings, u: float) -> int:
    return inverse_cdf(sampling_distribution(logits, settings), u)


# The same, for a batch of rows with settings of their own (continuous batching). Each row gets
# exactly the index ``sample`` would give it alone: the same operations in the same order, only
# across rows at once, so a seed writes the same text in a batch as alone.


def sample_rows(logits: np.ndarray, temperature: np.ndarray, top_k: np.ndarray,
                top_p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``sample`` for every row: logits (B, V); per-row temperature (float32, as dividing float32
    logits by a Python float rounds it), top_k (ints), top_p and draws u (float64). -> (B,) ints."""
    choice = np.argmax(logits, axis=1)  # the greedy rows' answer
    drawn = np.flatnonzero(temperature != 0)
    if len(drawn):
        probs = row_distributions(logits[drawn], temperature[drawn], top_k[drawn], top_p[drawn])
        choice[drawn] = inverse_cdf_rows(probs, u[drawn])
    return choice


def row_distributions(logits: np.ndarray, temperature: np.ndarray, top_k: np.ndarray,
                      top_p: np.ndarray) -> np.ndarray:
    """``sampling_distribution`` of each row (temperature > 0): (B, V) float64."""
    scaled = logits / temperature[:, None]
    probs = np.exp(scaled.astype(np.float64) - scaled.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    V = probs.shape[1]
    cut = np.flatnonzero((top_k > 0) & (top_k < V))
    if len(cut):
        probs[cut] = _keep_most_likely(probs[cut], top_k[cut])
    nucleus = np.flatnonzero(top_p < 1.0)
    if len(nucleus):
        rows = probs[nucleus]
        reached = np.cumsum(np.take_along_axis(rows, _ranking(rows), axis=1), axis=1)
        # searchsorted over each nondecreasing row: how many stay below p, plus the one reaching it
        sizes = (reached < (top_p[nucleus] - 1e-12)[:, None]).sum(axis=1) + 1
        probs[nucleus] = _keep_most_likely(rows, sizes)
    return probs


def _ranking(probs: np.ndarray) -> np.ndarray:
    return np.argsort(-probs, axis=1, kind="stable")


def _keep_most_likely(probs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each row's ``counts`` most likely entries, renormalised (``_keep_only`` row by row)."""
    keep = np.zeros(probs.shape, bool)
    np.put_along_axis(keep, _ranking(probs), np.arange(probs.shape[1]) < counts[:, None], axis=1)
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum(axis=1, keepdims=True)


def inverse_cdf_rows(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``inverse_cdf`` of each row with its own draw."""
    cdf = np.cumsum(probs, axis=1)
    index = (cdf <= (u * cdf[:, -1])[:, None]).sum(axis=1)  # searchsorted(side="right")
    last_possible = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
    return np.minimum(index, last_possible)
