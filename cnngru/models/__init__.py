"""The models: every architecture a checkpoint can hold, and the NumPy step that generates with them.

    registry     the config base, ModelOutput, the registry, the parameter-budget solver
    layers       stateful causal building blocks: n-gram CNN, gated convolution, window attention
    recurrent    the four compared language models: gru, cnn-pre, cnn-post, hybrid
    designs      the candidate designs of each that the study chooses among, and the shipped one
    gru_sequence a fused GRU with a hand-written backward: the CPU training fast path
    transformer  the reference row of the results table
    numpy_step   a fused one-character step, held equal to forward by tests

Importing this package registers every language model (the refiner registers in cnngru.refiner).
"""

from . import transformer  # noqa: F401  (registers "transformer")
from .designs import CANDIDATES, SHIPPED, candidates, design_overrides
from .recurrent import VARIANTS, CNNPost, CNNPre, GRUModel, Hybrid
from .registry import (
    BUDGET_TOLERANCE,
    DEFAULT_PARAMS,
    REGISTRY,
    ModelConfig,
    ModelOutput,
    State,
    architecture,
    build_from_config,
    build_model,
    count_params,
    make_config,
    params_for,
)

LANGUAGE_MODELS = (*VARIANTS, "transformer")  # what can generate: the compared four, the reference

__all__ = [
    "VARIANTS", "LANGUAGE_MODELS", "CANDIDATES", "SHIPPED", "candidates", "design_overrides", "GRUModel", "CNNPre", "CNNPost", "Hybrid", "REGISTRY", "ModelConfig", "ModelOutput",
    "State", "architecture", "build_from_config", "build_model", "count_params", "make_config",
    "params_for", "DEFAULT_PARAMS", "BUDGET_TOLERANCE",
]
