"""Runs whose learning rate is too high for their length: validation climbs far above its best.

The sweeps choose each row's rate from short runs (300 or 600 steps). A rate that is best there
can be too high for a run many times longer: the loss spikes and the run does not come back
to its best. A 300k-parameter ``cnn-pre`` at 2e-2 went from 2.40 to 4.88 bits at 9.0M of its
78.6M characters, and the 100k GRU's 78.6M-character rung at 2e-2 rose 5.7 bits above its
best. Kept as they are, such runs would decide the comparison (their best checkpoint is an early one) and
end the convergence ladder as if doubling the budget had stopped helping.

So a run whose validation rises more than ``RISE`` above its best so far is unstable: the study
stops it once that shows, records it as such (``reproduce.train_and_record``), and trains the
row at its next lower rate (``Study``). The healthy runs of the study never rose more than 0.08.
"""

from __future__ import annotations

import math

from .lr_bracket import RATIO, clean_rate

RISE = 0.25  # bits per character a validation may rise above the run's best before it is unstable


def climb(curve: list[list[float]], rise: float = RISE) -> dict | None:
    """Where a validation curve ``[[chars, bpc], ...]`` first rises more than ``rise`` above its
    best so far: ``{"chars", "val_bpc", "best_val_bpc"}``; None if it never does."""
    best = float("inf")
    for chars, bpc in curve:
        if not math.isfinite(bpc) or bpc > best + rise:  # NaN: the weights blew up
            return {"chars": int(chars), "val_bpc": bpc if math.isfinite(bpc) else None,
                    "best_val_bpc": best if math.isfinite(best) else None}
        best = min(best, bpc)
    return None


def is_unstable(record: dict | None) -> bool:
    """A recorded run that was stopped as unstable, or that finished after such a climb."""
    return record is not None and ("unstable" in record or climb(record.get("curve", [])) is not None)


FLOOR = RATIO ** 3  # a row goes at most this many times below its grid's lowest rate


class NoStableRate(Exception):
    """Every rate down to the floor was unstable: the study stops that scale and says so."""


def lower_rate(lr: float, grid: list[float]) -> float:
    """The next rate below ``lr``: the grid's, else ``lr`` divided by the grid's ratio; no lower
    than ``FLOOR`` times below the grid's lowest (``NoStableRate`` past it)."""
    below = [r for r in grid if r < lr]
    lower = max(below) if below else clean_rate(lr / RATIO)
    if grid and lower < min(grid) / FLOOR * (1 - 1e-9):
        raise NoStableRate(f"every rate from {lr:g} up was unstable, and a lower one would be "
                           f"more than {FLOOR:g} times below the grid's lowest")
    return lower
