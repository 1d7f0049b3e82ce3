"""Run records: one small JSON file per finished training run of the study, committed.

A record holds what a table needs from a run (its config, the code it ran, its validation curve
and figures, its test losses per chunk, time and device), so the study's tables can be rebuilt,
and the study finished, on any machine in several sittings without the checkpoints. A record is
reused only if it was made by today's code: its ``code`` fingerprint hashes the source of the
models and the trainer, and its ``scoring`` fingerprint that of ``scoring.py``, ignoring
docstrings and comments, so a real change to any of them retrains, and rewording documentation
does not.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

from ..paths import REPO
from ..training import TrainConfig, recipe_key

# The source a trained model's numbers depend on. The data is fingerprinted by its text instead
# (``data_version``): reading other files must not retrain Shakespeare's runs. A run's design is
# named in its config and its overrides are written out there, so ``designs.py`` is not listed.
CODE = ("cnngru/models/registry.py", "cnngru/models/layers.py", "cnngru/models/recurrent.py",
        "cnngru/models/gru_sequence.py", "cnngru/models/transformer.py",
        "cnngru/training/config.py", "cnngru/training/streams.py", "cnngru/training/tasks.py",
        "cnngru/training/trainer.py", "cnngru/likelihood.py")
# How a trained model is scored (validation and test BPC, test losses per chunk). Loading a
# checkpoint and encoding text are held to the same numbers by their own tests instead: their
# files change for the demo's sake (messages, devices) and would otherwise retrain everything.
SCORING = ("cnngru/evaluation/scoring.py",)


def source_fingerprint(source: str) -> str:
    """A hash of Python source that ignores comments, formatting and docstrings, and that every
    Python version gives alike (a record made on one machine is reused on another)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(_canonical(tree).encode()).hexdigest()


def _canonical(node) -> str:
    """The syntax tree as text, leaving out empty fields: ``ast.dump`` differs between Python
    versions by the fields a version adds (3.12's ``type_params=[]``) or omits when empty
    (3.13), which would make the same code two versions."""
    if isinstance(node, ast.AST):
        fields = [f"{name}={_canonical(value)}" for name, value in ast.iter_fields(node)
                  if value is not None and value != []]
        return f"{type(node).__name__}({','.join(fields)})"
    if isinstance(node, list):
        return "[" + ",".join(map(_canonical, node)) + "]"
    return repr(node)


def code_version(files: tuple[str, ...] = CODE, root: Path = REPO) -> str:
    parts = [f"{name}:{source_fingerprint((root / name).read_text())}" for name in files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def data_version(corpus) -> str:
    """A hash of a corpus's three splits and its alphabet."""
    h = hashlib.sha256()
    for part in (corpus.train, corpus.validation, corpus.test, "".join(corpus.vocab)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


PROBE_FOLDER = "ladder-probe"  # under results/: the GPU probes' bf16 runs, apart from the study's


def precision_of(device: str) -> str:
    """The arithmetic a run trains in: bf16 autocast on a GPU, fp32 on a CPU (trainer.py)."""
    return "bf16" if device.startswith("cuda") else "fp32"


def scoring_version() -> str:
    return code_version(SCORING)


class Records:
    """The records of one corpus, code version and precision, in ``folder``.

    A record of another code version (training or ``scoring``: today's unless given), corpus
    text or precision is not reused: the run is trained again, and seeds of one row never mix
    precisions.
    """

    def __init__(self, folder: Path, code: str, data: str, precision: str,
                 scoring: str | None = None):
        self.folder, self.code, self.data, self.precision = Path(folder), code, data, precision
        self.scoring = scoring or scoring_version()
        self._cache: dict[str, dict | None] = {}

    def name(self, config: TrainConfig) -> str:
        design = f"-{config.design}" if config.design else ""
        return (f"{config.variant}{design}-{config.params // 1000}k-lr{config.lr:g}"
                f"-{config.max_chars}-s{config.seed}-{self.precision}-{recipe_key(config)}")

    def read(self, config: TrainConfig) -> dict | None:
        """The record of this run made by this code on this data, if there is one."""
        name = self.name(config)
        if self._cache.get(name) is None:
            self._cache[name] = self._load(self.folder / f"{name}.json")
        return self._cache[name]

    def holds(self, name: str) -> bool:
        """Whether the run ``name`` has a record made by this code on this data."""
        return self._load(self.folder / f"{name}.json") is not None

    def _load(self, path: Path) -> dict | None:
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        keys = ("code", "scoring", "data", "precision")
        ours = (self.code, self.scoring, self.data, self.precision)
        return record if tuple(record.get(k) for k in keys) == ours else None

    def all(self) -> list[dict]:
        """Every record made by this code on this data at this precision, by name."""
        found = (self._load(path) for path in sorted(self.folder.glob("*.json")))
        return [r for r in found if r is not None]

    def write(self, config: TrainConfig, figures: dict) -> Path:
        """Record a finished run: ``figures`` holds its summary, curve and test losses."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = self.name(config)
        record = {"name": name, "code": self.code, "scoring": self.scoring, "data": self.data,
                  "precision": self.precision, "config": config.to_dict(), **figures}
        path = self.folder / f"{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(path)
        self._cache[name] = record
        return path
