"""Confidence intervals for bits per character, from per-chunk sums of a text's log-loss
(``scoring.chunk_sums``).

Intervals resample contiguous chunks of the test text (2,000 characters each) rather than single
characters, because neighbouring characters' losses are correlated. Differences between two
models are paired: both are scored on the same chunks, so the chunk-to-chunk difficulty that
moves both together cancels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000


def bootstrap_bpc(sums: np.ndarray, counts: np.ndarray, seed: int = 0,
                  resamples: int = RESAMPLES) -> tuple[float, float]:
    """95% percentile interval of bits per character over resampled chunks."""
    idx = np.random.default_rng(seed).integers(0, len(sums), (resamples, len(sums)))
    bpc = sums[idx].sum(1) / counts[idx].sum(1) / math.log(2)
    return float(np.percentile(bpc, 2.5)), float(np.percentile(bpc, 97.5))


def paired_difference(sums_a: np.ndarray, sums_b: np.ndarray, counts: np.ndarray, seed: int = 0,
                      resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """BPC of A minus BPC of B on the same chunks: the estimate and its 95% interval."""
    idx = np.random.default_rng(seed).integers(0, len(counts), (resamples, len(counts)))
    diff = (sums_a[idx].sum(1) - sums_b[idx].sum(1)) / counts[idx].sum(1) / math.log(2)
    point = (sums_a.sum() - sums_b.sum()) / counts.sum() / math.log(2)
    return float(point), float(np.percentile(diff, 2.5)), float(np.percentile(diff, 97.5))


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% interval from a standard error and Student's t, whose degrees of
    freedom also give the p-value of a true zero (below 0.05 just when the interval excludes 0)."""

    mean: float
    lo: float
    hi: float
    se: float
    df: float

    @classmethod
    def of(cls, mean: float, se: float, df: float) -> Estimate:
        half = student_t_quantile(0.975, df) * se
        return cls(mean, mean - half, mean + half, se, df)

    @property
    def p(self) -> float:
        """Two-sided p-value of a true mean of zero."""
        if self.se == 0:
            return float(self.mean == 0)
        return max(0.0, 2 * (1 - student_t_cdf(abs(self.mean) / self.se, self.df)))


def hierarchical_paired_difference(sums_a: np.ndarray, sums_b: np.ndarray, counts: np.ndarray,
                                   seed: int = 0, resamples: int = RESAMPLES) -> Estimate:
    """Mean BPC of row A minus row B over seeds and chunks, with a 95% interval that includes
    training randomness: each resample draws seed indices, then chunks, the same for both rows.

    ``sums_a``, ``sums_b``: (seeds, chunks) nats per chunk of each seed's model on the same test
    chunks. Seed i of two rows is a pair: every run reads the same text in the same order, and
    seed i starts both from one random stream (the same embedding; the same GRU too where the
    shapes agree, as in ``cnn-pre``'s depthwise design, whose convolution starts at zero) and
    draws the same dropout masks. Drawing the pairs together is right however alike they are.

    A bootstrap over n seeds keeps only (n - 1)/n of their variance, a third too little at 3; each
    seed's offset from the seeds' mean difference is scaled by sqrt(n / (n - 1)) before the draw
    to put it back (reflated residuals, as multilevel bootstraps do), spread over the chunks by
    their characters, so that the chunk-level noise, which the chunk draw counts, stays as it is.

    The draws give the standard error; the width comes from Student's t, not from the draws'
    percentiles, because 3 seeds carry 2 degrees of freedom and a percentile interval has the
    normal's short tails. The degrees of freedom (``satterthwaite_df``) follow whichever part of
    the variance dominates: near n - 1 where seeds differ more than chunks do, many otherwise.
    """
    per_seed = sums_a - sums_b  # (seeds, chunks)
    seeds, chunks = per_seed.shape
    offsets = per_seed.sum(1) / counts.sum() / math.log(2)  # BPC, each seed
    if seeds > 1:
        per_seed = per_seed + (math.sqrt(seeds / (seeds - 1)) - 1) * np.outer(
            offsets - offsets.mean(), counts * math.log(2))
    rng = np.random.default_rng(seed)
    s = rng.integers(0, seeds, (resamples, seeds))  # which seeds
    c = rng.integers(0, chunks, (resamples, chunks))  # which chunks
    picked = per_seed[s[:, :, None], c[:, None, :]]  # (resamples, seeds, chunks)
    diff = picked.sum(2).mean(1) / counts[c].sum(1) / math.log(2)
    point = float(offsets.mean())
    variance = float(diff.var(ddof=1))
    seed_part = float(offsets.var(ddof=1)) / seeds if seeds > 1 else 0.0
    df = satterthwaite_df(variance, seed_part, seeds - 1, chunks - 1)
    return Estimate.of(point, math.sqrt(variance), df)


def satterthwaite_df(variance: float, seed_part: float, seed_df: int, chunk_df: int) -> float:
    """Degrees of freedom of a variance that sums a part estimated from the seeds (``seed_df``)
    and the rest from the chunks (``chunk_df``): Welch-Satterthwaite's approximation. The seed
    part is capped at the whole, which the chunk draw can leave a little short of; a part with
    no degrees of freedom (one seed, one chunk) can only be rounding, and counts for nothing."""
    seed_part = min(seed_part, variance)
    parts = [(seed_part, seed_df), (variance - seed_part, chunk_df)]
    spread = sum(part ** 2 / df for part, df in parts if part > 0 and df > 0)
    return variance ** 2 / spread if spread else float(max(chunk_df, seed_df, 1))


def hierarchical_bpc(sums: np.ndarray, counts: np.ndarray, seed: int = 0,
                     resamples: int = RESAMPLES) -> Estimate:
    """Mean BPC of a row over its seeds, and its 95% interval over seeds and then chunks."""
    return hierarchical_paired_difference(sums, np.zeros_like(sums), counts, seed, resamples)


def student_t_cdf(x: float, df: float) -> float:
    """P(T <= x) for Student's t with ``df`` >= 1 degrees of freedom, fractional ones included:
    with t = sqrt(df) tan(u) the density becomes c cos(u)^(df - 1), smooth and bounded, which
    Simpson's rule integrates well however far out x lies. Kept here so that a small-sample
    interval needs no statistics package."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(math.pi)
    end = math.atan(abs(x) / math.sqrt(df))
    u = np.linspace(0.0, end, 2001)
    f = np.cos(u) ** (df - 1)
    area = c * end / 6000 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())
    return 0.5 + math.copysign(area, x)


def student_t_quantile(p: float, df: float) -> float:
    """The p-quantile (p > 0.5) of Student's t with ``df`` degrees of freedom: bisection on
    ``student_t_cdf``."""
    lo, hi = 0.0, 1000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if student_t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def holm(p_values: list[float]) -> list[float]:
    """Holm's adjusted p-values for k tests taken together: a test is clear at a family-wise
    error of alpha when its adjusted p is below alpha. The i-th smallest p (from 0) is multiplied
    by k - i, and none may fall below a smaller p's (the step-down stops at the first failure).
    It needs no assumption about how the tests depend on each other, as the study's do through
    the GRU's shared runs."""
    k, adjusted, running = len(p_values), [1.0] * len(p_values), 0.0
    for i, j in enumerate(sorted(range(k), key=lambda j: p_values[j])):
        running = max(running, min(1.0, (k - i) * p_values[j]))
        adjusted[j] = running
    return adjusted


def welch_difference(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Mean of ``a`` minus mean of ``b``, two groups of independent runs (a few seeds each), with
    a 95% interval from Welch's t: unequal spreads allowed, degrees of freedom by
    Welch-Satterthwaite. For seeds, where a percentile bootstrap of 3 values has no tails."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    point = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return point, point, point
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = student_t_quantile(0.975, df) * math.sqrt(va + vb)
    return point, point - half, point + half
