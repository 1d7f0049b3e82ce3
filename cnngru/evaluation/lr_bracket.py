"""Learning rates that bracket: the grid grows until the best rate has a worse neighbour on
each side, so a chosen rate is never an end of the grid it was chosen from.

Neighbouring rates are ``RATIO`` apart (2.5e-3, 5e-3, 1e-2, ...); a tie keeps the smaller rate.
"""

from __future__ import annotations

RATIO = 2.0  # "at most 3x apart": halving and doubling (1e-3, 3e-3, 1e-2 would be 3.3x)


def best_rate(scores: dict[float, float]) -> float:
    """The rate with the lowest validation BPC (the smaller one on a tie)."""
    return min(sorted(scores), key=lambda lr: scores[lr])


def rates_to_add(scores: dict[float, float], ratio: float = RATIO) -> list[float]:
    """The rates still needed before the best one is bracketed ([] once it is)."""
    grid = sorted(scores)
    best = best_rate(scores)
    if best == grid[0]:
        return [clean_rate(best / ratio)]
    if best == grid[-1]:
        return [clean_rate(best * ratio)]
    return []


def is_bracketed(scores: dict[float, float]) -> bool:
    return len(scores) >= 3 and not rates_to_add(scores)


def clean_rate(lr: float) -> float:
    return float(f"{lr:.4g}")  # a clean number in names and tables
