"""Training: a run's config and recipe, the tasks it learns, the loop, snapshots to resume from.

    config      TrainConfig and the recipe that names a run
    cpu_recipe  the batch shape, learning rate and warmup a CPU budget gets
    streams     contiguous character streams for truncated BPTT
    tasks       what a run learns: the language-model task (the refiner brings its own)
    trainer     the loop: optimizer, schedule, validation, best model, DDP
    snapshots   exact resume after a stop or a kill
"""

from .config import TrainConfig, recipe, recipe_key
from .trainer import Trainer, language_model_run, ship, train

__all__ = ["TrainConfig", "Trainer", "train", "language_model_run", "recipe", "recipe_key", "ship"]
