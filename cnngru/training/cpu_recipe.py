"""The CPU recipe: batch shape, warmup and peak learning rate for a given training budget.

One rule, used by ``cnngru train``, the study and the "Your text" tab alike. A small budget on a
CPU is spent best on many small steps rather than a few large ones; ``results/cpu-recipe.json``
holds the measurements the rule was chosen from (``python -m cnngru.training.recipe_study``):
validation BPC at equal training time for four batch sizes, each at its best learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQ_LEN = 128  # characters per truncated-BPTT chunk
# Peak learning rate per batch size (streams): the best of 3e-3, 6e-3, 1.2e-2 and 2.4e-2 for
# each batch at 100 s of training (results/cpu-recipe.json, gru at 1M parameters). 16, 32 and
# 64 are bracketed (1.2e-2 already spikes). For 128 the 100 s runs (128 steps) favour the top of
# the grid, 2.4e-2, unbracketed; the rule gives 128 only to budgets of 600+ steps, where 1e-2 is
# what the GPU study's sweep and the 15-minute CPU run (results/cpu-15min-gru.json) used.
LR_BY_BATCH = {16: 6e-3, 32: 6e-3, 64: 6e-3, 128: 1e-2}
# At 100 s the smallest batch won (validation BPC 2.264 at 16, 2.318 at 32, 2.550 at 64, 2.367
# at 128): steps matter more than batch size while they are few. So the largest batch that still
# gives this many steps is chosen (16 streams give 789 steps in 100 s here, 32 give 469).
MIN_STEPS = 600
WARMUP_SHARE = 0.05  # of the steps, at least MIN_WARMUP
MIN_WARMUP = 10


@dataclass(frozen=True)
class Recipe:
    batch_size: int
    seq_len: int
    lr: float
    warmup_steps: int

    def steps(self, chars: int) -> int:
        return max(1, chars // (self.batch_size * self.seq_len))


def warmup_for(steps: int) -> int:
    """Warmup steps for a run of ``steps``: a share of them, never more than a quarter."""
    return min(max(MIN_WARMUP, round(WARMUP_SHARE * steps)), max(1, steps // 4))


def cpu_recipe(chars: int | None = None) -> Recipe:
    """The recipe for a budget of ``chars`` training characters (None: the largest batch)."""
    batches = sorted(LR_BY_BATCH)
    batch = batches[-1]
    if chars is not None:
        fitting = [b for b in batches if chars // (b * SEQ_LEN) >= MIN_STEPS]
        batch = fitting[-1] if fitting else batches[0]
    warmup = 50 if chars is None else warmup_for(max(1, chars // (batch * SEQ_LEN)))
    return Recipe(batch, SEQ_LEN, LR_BY_BATCH[batch], warmup)


def cpu_recipe_for_time(seconds: float, chars_per_s_at) -> Recipe:
    """The recipe for a training-time budget: ``chars_per_s_at(batch_size)`` measures throughput.

    The characters a budget holds depend on the batch, and the batch on the characters: measure
    at the largest batch, choose from the characters that gives, and measure again at the chosen
    batch if it differs (once: throughput changes slowly with the batch).
    """
    largest = cpu_recipe(None)
    chosen = cpu_recipe(int(chars_per_s_at(largest.batch_size) * seconds))
    if chosen.batch_size == largest.batch_size:
        return chosen
    return cpu_recipe(int(chars_per_s_at(chosen.batch_size) * seconds))
