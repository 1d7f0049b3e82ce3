"""One training run, described by a dataclass: what it trains, on what, for how long, how.

The *recipe* of a run is every setting that defines its result. Two runs with the same recipe
give the same model (on one kind of device), so the recipe names a run's folder in the study,
and a stopped run may only be resumed with the recipe it started with. The device and the
wall-clock safety limit are not part of it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field


@dataclass
class TrainConfig:
    """Every row of a comparison uses the same recipe but for ``variant`` (and ``model``)."""

    variant: str = "gru"
    corpus: str = "shakespeare"  # "shakespeare" or a path to a UTF-8 text file
    split: tuple[float, float, float] | None = None  # for text files: train/validation/test ratios
    params: int = 1_000_000  # parameter budget the model is sized to
    design: str | None = None  # a candidate design of the variant (models/designs.py); None: shipped
    model: dict = field(default_factory=dict)  # config overrides on top, e.g. {"dropout": 0.2}
    batch_size: int = 128  # parallel streams
    seq_len: int = 128  # characters per truncated-BPTT chunk
    # Training characters: the budget the schedule anneals over and every row of a comparison
    # gets. With ``max_minutes`` the trainer first measures its throughput and records here the
    # characters that fit the time (or keeps a smaller number given here): whichever binds.
    max_chars: int | None = 24_000_000
    max_minutes: float | None = None  # training-time budget (validation and saving not counted)
    lr: float = 3e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # cosine decays to lr * this
    warmup_steps: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 200  # steps between validations
    eval_chars: int = 200_000  # validation characters per periodic check (all at the end)
    patience: int | None = None  # stop after this many validations without a new best; None: off
    seed: int = 0
    device: str = "cpu"
    save_dtype: str = "float16"  # the shipped weights: compact, upcast to fp32 on load

    @property
    def chars_per_step(self) -> int:
        return self.batch_size * self.seq_len

    @property
    def steps(self) -> int:
        if self.max_chars is None:
            raise ValueError("no character budget yet: it is measured from max_minutes when the "
                             "run starts")
        return max(1, self.max_chars // self.chars_per_step)

    def lr_at(self, step: int) -> float:
        """Linear warmup, then cosine decay to ``lr * min_lr_ratio`` at the last step."""
        warmup = min(self.warmup_steps, max(1, self.steps // 4))  # a short run still anneals
        if step < warmup:
            return self.lr * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, self.steps - warmup))
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        if d.get("split") is not None:
            d["split"] = tuple(d["split"])
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


def recipe(config: TrainConfig) -> dict:
    """The settings that define a run's result: all but the device and the time limit."""
    d = asdict(config)
    d.pop("device")
    d.pop("max_minutes")
    return d


def recipe_key(config: TrainConfig) -> str:
    """A short hash of the recipe: a run's name in the study's records and folders."""
    return hashlib.sha256(json.dumps(recipe(config), sort_keys=True).encode()).hexdigest()[:10]
