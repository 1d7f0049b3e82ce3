"""Run records: one small JSON file per finished training run of the study, committed.

A record holds what a table needs from a run (its config, the code it ran, its validation curve
and figures, its test losses per chunk, time and device), so the study's tables can be rebuilt,
and the study finished, on any machine in several sittings without the checkpoints. A record is
reused only if it was made by today's code: its ``code`` fingerprint hashes the source of the
models, the trainer and the scoring, ignoring docstrings and comments, so a real change to any of
them retrains, and rewording documentation does not.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

from ..paths import REPO, RESULTS_DIR
from ..training import TrainConfig, recipe_key

RECORDS = RESULTS_DIR / "runs"
# The source a trained model's numbers depend on.
CODE = ("cnngru/models/registry.py", "cnngru/models/layers.py", "cnngru/models/recurrent.py",
        "cnngru/models/gru_sequence.py", "cnngru/models/transformer.py",
        "cnngru/training/config.py", "cnngru/training/streams.py", "cnngru/training/tasks.py",
        "cnngru/training/trainer.py", "cnngru/likelihood.py", "cnngru/corpus.py",
        "cnngru/vocab.py")


def source_fingerprint(source: str) -> str:
    """A hash of Python source that ignores comments, formatting and docstrings."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def code_version(files: tuple[str, ...] = CODE, root: Path = REPO) -> str:
    parts = [f"{name}:{source_fingerprint((root / name).read_text())}" for name in files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def record_name(config: TrainConfig) -> str:
    return (f"{config.variant}-{config.params // 1000}k-lr{config.lr:g}-{config.max_chars}"
            f"-s{config.seed}-{recipe_key(config)}")


def read(config: TrainConfig, folder: Path = RECORDS, code: str | None = None) -> dict | None:
    """The record of a run with this recipe made by this code, if there is one."""
    path = folder / f"{record_name(config)}.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return record if record.get("code") == (code or code_version()) else None


def write(config: TrainConfig, figures: dict, folder: Path = RECORDS,
          code: str | None = None) -> Path:
    """Record a finished run: ``figures`` holds its summary, curve and test losses."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record_name(config)}.json"
    record = {"name": record_name(config), "code": code or code_version(),
              "config": config.to_dict(), **figures}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    return path
