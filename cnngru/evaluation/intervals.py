"""Confidence intervals for bits per character, from per-chunk sums of a text's log-loss
(``scoring.chunk_sums``).

Intervals resample contiguous chunks of the test text (2,000 characters each) rather than single
characters, because neighbouring characters' losses are correlated. Differences between two
models are paired: both are scored on the same chunks, so the chunk-to-chunk difficulty that
moves both together cancels.
"""

from __future__ import annotations

import math

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


def hierarchical_paired_difference(sums_a: np.ndarray, sums_b: np.ndarray, counts: np.ndarray,
                                   seed: int = 0, resamples: int = RESAMPLES
                                   ) -> tuple[float, float, float]:
    """Mean BPC of row A minus row B over their seeds, with a 95% interval that includes
    training randomness: each resample draws each row's seeds, then chunks.

    ``sums_a``, ``sums_b``: (seeds, chunks) nats per chunk of each seed's model on the same test
    chunks. The chunks are paired, the same for both rows, so the text's hard and easy passages
    cancel. The seeds are drawn for each row apart: every run reads the same text in the same
    order, and a seed only sets the first weights of its own architecture, so seed i of two rows
    shares nothing but its number, and an interval must not depend on how seeds are numbered.

    A bootstrap over n seeds keeps only (n - 1)/n of their variance, which at 3 seeds is a third
    too little; each row's seed-to-seed deviations are scaled by sqrt(n / (n - 1)) before the draw
    to put it back (reflated residuals, as multilevel bootstraps do).
    """
    rng = np.random.default_rng(seed)
    chunks = rng.integers(0, len(counts), (resamples, len(counts)))
    diff = (_seed_means(sums_a, chunks, rng) - _seed_means(sums_b, chunks, rng))
    diff = diff / counts[chunks].sum(1) / math.log(2)
    point = (sums_a.sum(1).mean() - sums_b.sum(1).mean()) / counts.sum() / math.log(2)
    return float(point), float(np.percentile(diff, 2.5)), float(np.percentile(diff, 97.5))


def _seed_means(sums: np.ndarray, chunks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per resample: the mean over a draw of the row's (reflated) seeds of their summed nats on
    that resample's ``chunks``."""
    n = len(sums)
    centre = sums.mean(0)
    reflated = centre + math.sqrt(n / (n - 1)) * (sums - centre) if n > 1 else sums
    picked = rng.integers(0, n, (len(chunks), n))
    return reflated[picked[:, :, None], chunks[:, None, :]].sum(2).mean(1)


def hierarchical_bpc(sums: np.ndarray, counts: np.ndarray, seed: int = 0,
                     resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """Mean BPC of a row over its seeds, and its 95% interval over seeds and then chunks."""
    return hierarchical_paired_difference(sums, np.zeros_like(sums), counts, seed, resamples)
