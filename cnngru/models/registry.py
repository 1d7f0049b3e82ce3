"""What every architecture shares: its config base, its output, the registry and the budget solver.

An architecture is an ``nn.Module`` whose ``forward(tokens, state=None, cnn_off=False)`` returns a
``ModelOutput`` and whose class attribute ``Config`` is its config dataclass. ``@register(name)``
puts it in ``REGISTRY``, where checkpoints find it by name. ``build_model`` sizes any of them to a
parameter budget by solving for its width, so the compared models differ only in where they spend
the same budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import torch
from torch import Tensor, nn

State = dict[str, Tensor]  # batch-first tensors; see each architecture's docstring for the keys


class ModelOutput(NamedTuple):
    logits: Tensor  # (B, T, vocab)
    state: State  # pass back in to continue the text
    trace: dict[str, Tensor]  # the architecture's diagnostics, e.g. the hybrid's attention


@dataclass
class ModelConfig:
    """What every architecture's config has: a vocabulary and a width the budget solver sets."""

    vocab_size: int
    hidden: int = 512  # the width build_model() solves to meet a parameter budget

    width_multiple = 1  # the solver tries multiples of this (a transformer: its head count)

    @property
    def variant(self) -> str:
        return next(name for name, cls in REGISTRY.items() if cls.Config is type(self))

    def to_dict(self) -> dict:
        return asdict(self)


# Every architecture a checkpoint can hold, by name. The language models fill it when
# cnngru.models is imported, the refiner when cnngru.refiner is (cnngru imports both).
REGISTRY: dict[str, type[nn.Module]] = {}
DEFAULT_PARAMS = 1_000_000  # the budget every shipped variant is sized to
BUDGET_TOLERANCE = 0.05  # compared models lie within this fraction of one budget


def register(name: str):
    """Class decorator: make an architecture loadable by ``name``."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise ValueError(f"two architectures registered as {name!r}")
        REGISTRY[name] = cls
        return cls

    return add


def architecture(name: str) -> type[nn.Module]:
    """The class registered under ``name``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def make_config(variant: str, vocab_size: int, **overrides) -> ModelConfig:
    """The config of ``variant`` with ``overrides``; lists from JSON become tuples."""
    cls = architecture(variant).Config
    known = {f.name for f in fields(cls)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"{variant}: unknown config fields {sorted(unknown)}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return cls(vocab_size=vocab_size, **overrides)


def build_from_config(config: ModelConfig) -> nn.Module:
    return architecture(config.variant)(config)


def params_for(variant: str, vocab_size: int, **overrides) -> int:
    """Parameter count of a configuration, without allocating its weights."""
    with torch.device("meta"):
        return count_params(build_from_config(make_config(variant, vocab_size, **overrides)))


def build_model(variant: str, vocab_size: int, params: int | None = None, **overrides) -> nn.Module:
    """Build ``variant`` sized to ``params`` parameters (default 1M) by solving the width.

    Every other dimension keeps its default (or override), so the variants share one budget and
    differ only in where they spend it. Passing ``hidden`` explicitly skips the sizing.
    """
    if "hidden" not in overrides:
        overrides["hidden"] = solve_hidden(variant, vocab_size, params or DEFAULT_PARAMS, **overrides)
    elif params is not None:
        raise ValueError("give either a parameter budget or an explicit hidden size, not both")
    return build_from_config(make_config(variant, vocab_size, **overrides))


def solve_hidden(variant: str, vocab_size: int, budget: int, **overrides) -> int:
    """The width whose parameter count is closest to ``budget`` (bisection: it grows with width)."""
    step = architecture(variant).Config.width_multiple

    def count(m: int) -> int:
        return params_for(variant, vocab_size, hidden=m * step, **overrides)

    lo, hi = 1, 8192 // step
    if count(lo) > budget:
        raise ValueError(f"{variant}: a budget of {budget:,} parameters is too small for the "
                         f"fixed parts of this configuration")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) <= budget else (lo, mid)
    best = lo if budget - count(lo) <= count(hi) - budget else hi
    return best * step
