"""Where the repository keeps what the code reads and writes: one home for each folder."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "checkpoints"  # the shipped models, loaded by name
RESULTS_DIR = REPO / "results"  # the measured answer and the benchmarks
README = REPO / "README.md"  # holds blocks that code writes (cnngru.evaluation.readme_blocks)
