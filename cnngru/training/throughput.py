"""Training throughput, measured: how many characters a second this model, task and batch train.

A time budget is turned into a character budget with it, so the learning-rate schedule anneals
over the characters that fit the time and a recorded run can be repeated exactly. The
measurement trains a copy of the model with a copy of the optimizer and puts the task's carried
state and the random generators back, so measuring does not change the run it measures.
"""

from __future__ import annotations

import copy
import time

import torch


def measure(trainer, seconds: float = 3.0, min_steps: int = 3) -> float:
    """Characters per second of ``trainer``'s training steps (after two untimed warm-up steps)."""
    model = copy.deepcopy(trainer.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=trainer.config.lr)  # same cost
    carried = {k: v.clone() for k, v in trainer.task.carried.items()}
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state() if torch.cuda.is_available() else None
    try:
        model.train()
        step, timed, t0, warmup = trainer.step, 0, None, 2
        while True:
            with trainer.autocast:
                loss = trainer.task.loss(model, step, trainer.rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.config.grad_clip)
            optimizer.step()
            loss.item()  # wait for the device
            step += 1
            if step - trainer.step < warmup:
                continue  # the first steps pay for allocations and kernel set-up: not timed
            if t0 is None:
                t0 = time.perf_counter()
                continue
            timed += 1
            took = time.perf_counter() - t0
            if took >= seconds and timed >= min_steps:
                return timed * trainer.config.chars_per_step / took  # every process's rows
    finally:
        trainer.task.restore_carried(carried)
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng)


def trainer_for(variant: str, params: int, corpus, batch_size: int, seq_len: int,
                model: dict | None = None):
    """A fresh trainer of ``variant`` (with ``model`` overrides) at this size and batch shape, for
    measuring (saves nothing)."""
    from .config import TrainConfig
    from .trainer import language_model_run  # here: the trainer imports this module

    config = TrainConfig(variant=variant, params=params, batch_size=batch_size, seq_len=seq_len,
                         max_chars=10 * batch_size * seq_len, model=model or {})
    return language_model_run(config, "/nonexistent-bench-run", progress=False, corpus=corpus)
