"""Which GRU units track which property of the text: correlations over the validation sample.

Pearson's r between each unit's output and each property, for every unit at once. For a yes/no
property that is the point-biserial correlation (Pearson's r with a 0/1 variable: the same
formula, so one code path serves both). A unit or property that never varies gets r = 0.
"""

from __future__ import annotations

import numpy as np

TOP_UNITS = 10


def correlations(units: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(H,) Pearson's r of each column of ``units`` (N, H) with ``values`` (N,)."""
    u = units.astype(np.float64)
    v = np.asarray(values, dtype=np.float64)
    u = u - u.mean(0)
    v = v - v.mean()
    denominator = np.sqrt((u * u).sum(0) * (v * v).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (u * v[:, None]).sum(0) / denominator
    return np.where(np.isfinite(r), r, 0.0)


def top_units(r: np.ndarray, top: int = TOP_UNITS) -> list[list]:
    """[[unit, r], ...] for the ``top`` units of largest |r|, largest first."""
    best = np.argsort(-np.abs(r), kind="stable")[:top]
    return [[int(j), round(float(r[j]), 4)] for j in best]
