"""The filter table: what excites each filter, how it behaves, and the label it earns.

For each filter: the n-grams of its own window width that excite it most on the training sample
(ranked by their mean activation over their occurrences there, with how often each occurs),
its activation statistics on the validation sample, the 99th percentile of those activations
(the threshold above which it is said to *fire*), and labels: a property's name when at least
``LABEL_SHARE`` of its ``LABEL_TOP`` highest validation activations have that property. A
filter that earns none has no label.
"""

from __future__ import annotations

import numpy as np

TOP_NGRAMS = 10
LABEL_TOP = 100  # the filter's highest activations on validation a label is judged on
LABEL_SHARE = 0.7  # the share of them that must have the property
FIRE_PERCENTILE = 99.0


def windows(ids: np.ndarray, width: int) -> np.ndarray:
    """(N - width + 1,) one opaque key per window of ``width`` ids ending at width-1..N-1, so
    that equal n-grams have equal keys (ids are < 256: one byte each)."""
    view = np.lib.stride_tricks.sliding_window_view(np.asarray(ids, dtype=np.uint8), width)
    return np.ascontiguousarray(view).view(np.dtype((np.void, width)))[:, 0]


def top_ngrams(blocks: list[np.ndarray], acts: list[np.ndarray], width: int,
               decode, top: int = TOP_NGRAMS) -> list[list]:
    """For every column of ``acts`` (each block's (len, filters) activations), the ``top``
    n-grams with the highest mean activation: [[ngram, count, mean], ...] per filter.

    Only windows lying wholly inside a block count (the first width-1 positions of a block
    see padding, not characters)."""
    keys = np.concatenate([windows(ids, width) for ids in blocks if len(ids) >= width])
    values = np.concatenate([a[width - 1:] for ids, a in zip(blocks, acts, strict=True)
                             if len(ids) >= width])
    unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    tables = []
    for f in range(values.shape[1]):
        means = np.bincount(inverse, weights=values[:, f], minlength=len(unique)) / counts
        best = np.argsort(-means, kind="stable")[:top]
        tables.append([[decode(unique[j].tobytes()), int(counts[j]), round(float(means[j]), 3)]
                       for j in best])
    return tables


def statistics(values: np.ndarray) -> dict[str, list[float]]:
    """Per filter (columns of ``values``): mean, std, max, 99th percentile, share above 0."""
    r = lambda a: [round(float(v), 3) for v in a]  # noqa: E731
    return {"mean": r(values.mean(0)), "std": r(values.std(0)), "max": r(values.max(0)),
            "p99": r(np.percentile(values, FIRE_PERCENTILE, axis=0)),
            "active": r((values > 0).mean(0))}


def labels(values: np.ndarray, flags: dict[str, np.ndarray], top: int = LABEL_TOP,
           share: float = LABEL_SHARE) -> list[list[list]]:
    """Per filter, [[property, share], ...] for every property that at least ``share`` of its
    ``top`` highest activations have, commonest first; ``flags`` are the properties (N,) bool
    at the same positions as ``values`` (N, filters)."""
    out = []
    for f in range(values.shape[1]):
        best = np.argsort(-values[:, f], kind="stable")[:top]
        found = [[name, round(float(flag[best].mean()), 3)] for name, flag in flags.items()]
        out.append(sorted((x for x in found if x[1] >= share), key=lambda x: -x[1]))
    return out

