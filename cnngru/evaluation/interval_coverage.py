"""``python -m cnngru.evaluation.interval_coverage``: how often the study's 95% intervals hold a
true difference of zero, in studies simulated from its own records.

A row has 3 seeds, and a percentile bootstrap over so few units runs narrow, which the study's
Student-t width is there to mend. This measures whether it does, on the study's test text: the
GRU's recorded seeds at the smallest scale that has all of them give the text's difficulty (their
mean loss per chunk) and the chunk-level noise (a recorded seed's deviations from that mean, its
offset removed, the whole row's sign at random); each simulated seed adds an offset of a chosen
spread. Two rows drawn alike and apart (seed i of one tells nothing of seed i of the other, where
pairing gains nothing) differ by zero in truth, and the study's interval
(``hierarchical_paired_difference``) should hold zero in 95% of such studies.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from ..paths import RESULTS_DIR
from .intervals import hierarchical_paired_difference
from .study import BASELINE, CPU
from .write_up import chunk_counts

SPREADS = (0.002, 0.005, 0.01, 0.02)  # seed-to-seed standard deviations of test BPC to try
STUDIES = 1000


def gru_seeds() -> tuple[np.ndarray, np.ndarray, int]:
    """(seeds, chunks) nats of the GRU's seeds at the smallest scale with all recorded, the
    chunks' character counts, and that scale's parameters."""
    from .reproduce import Reproduction, Where

    study = Reproduction(CPU, Where.of(False), "shakespeare", "cpu", 1).study
    _, decided = study.walk(assume=True)  # (only rows whose seeds are all recorded are used)
    for params, here in sorted(decided["scales"].items()):
        for row, configs in (here.get("seeds") or {}).items():
            records = [study.record_of(c) for c in configs]
            if row.variant == BASELINE and all(records):
                return (np.array([r["test_chunk_nats"] for r in records]),
                        chunk_counts(records[0]["test_chars"]), params)
    raise SystemExit("No scale has all the GRU's seeds recorded yet: nothing to simulate from.")


def coverage(nats: np.ndarray, counts: np.ndarray, spread: float, studies: int = STUDIES,
             seed: int = 0) -> float:
    """The share of simulated studies (two rows alike, seeds offset by ``spread`` BPC) whose
    interval holds zero."""
    rng = np.random.default_rng(seed)
    seeds = len(nats)
    per_char = counts * math.log(2)  # a BPC offset as nats per chunk
    offsets = nats.sum(1) / counts.sum() / math.log(2)
    profile = nats.mean(0)
    noise = nats - profile - (offsets - offsets.mean())[:, None] * per_char

    def row() -> np.ndarray:
        picked = noise[rng.integers(0, seeds, seeds)] * rng.choice([-1, 1], (seeds, 1))
        return profile + picked + rng.normal(0, spread, (seeds, 1)) * per_char

    held = 0
    for study in range(studies):
        d = hierarchical_paired_difference(row(), row(), counts, seed=study)
        held += d.lo <= 0 <= d.hi
    return held / studies


def report(nats: np.ndarray, counts: np.ndarray, params: int) -> str:
    measured = float(np.std(nats.sum(1) / counts.sum() / math.log(2), ddof=1))
    lines = [f"Simulated from the GRU's {len(nats)} seeds at {params // 1000}k parameters "
             f"(their test BPC spread: {measured:.4f}); {STUDIES:,} studies each, two rows with "
             "no true difference, the study's interval (hierarchical paired bootstrap: seeds, "
             "offsets reflated, then chunks; Student-t width):", "",
             "| seed-to-seed SD of test BPC | intervals holding zero (± standard error) |",
             "|---:|---:|"]
    for spread in sorted({*SPREADS, round(measured, 4)}):
        note = " (as recorded)" if spread == round(measured, 4) else ""
        share = coverage(nats, counts, spread)
        error = math.sqrt(share * (1 - share) / STUDIES)
        lines.append(f"| {spread:.4f}{note} | {share:.1%} ± {error:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", action="store_true",
                   help=f"also write {RESULTS_DIR / 'interval-coverage.md'}")
    args = p.parse_args(argv)
    text = report(*gru_seeds())
    print(text, end="")
    if args.write:
        Path(RESULTS_DIR / "interval-coverage.md").write_text(text)


if __name__ == "__main__":
    main()
