"""Training characters/s of this checkout against an earlier revision, on this machine.

    python -m cnngru.bench.training_versions REV [--batch-sizes 16 32 128] [--variant gru]

A speed change is judged against the code before it on the same machine, never against a figure
from another one. Each revision (REV in a temporary git worktree, then this checkout) trains
the same way in a fresh process with its own package first on the path: its
``language_model_run`` builds the model and data, and the steps are timed as its trainer takes
them (loss, backward, clipping, AdamW), three spells of ``--seconds`` after two warm-up steps,
at 1M parameters and on two threads unless told otherwise. Any revision since the trainer took
a task (4fffe04) runs. Take it with nothing else running: each row says whether the machine was
idle just before.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..paths import REPO
from .training_speed import IDLE_BELOW, busy_share

TIMING = """
import sys, tempfile, time, torch
torch.set_num_threads({threads})
import cnngru
from cnngru.training.config import TrainConfig
from cnngru.training.trainer import language_model_run
config = TrainConfig(variant={variant!r}, params={params}, batch_size={batch}, seq_len=128,
                     max_chars=10**9)
trainer = language_model_run(config, tempfile.mkdtemp(), progress=False)
model, optimizer = trainer.model, trainer.optimizer
model.train()

def step(i):
    loss = trainer.task.loss(model, i, trainer.rows)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    loss.item()

step(0); step(1)
i = 2
for _ in range(3):
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < {seconds}:
        step(i); i += 1; steps += 1
    print(steps * {batch} * 128 / (time.perf_counter() - start), flush=True)
"""


def rates(package_root: Path, variant: str, batch: int, seconds: float, threads: int,
          params: int = 1_000_000) -> list[float]:
    """Characters/s of three timed spells of the package at ``package_root``."""
    code = TIMING.format(threads=threads, variant=variant, params=params, batch=batch,
                         seconds=seconds)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), timeout=600,
                         env={**os.environ, "PYTHONPATH": str(package_root)})
    if out.returncode != 0:
        raise RuntimeError(f"{package_root}: {out.stderr[-2000:]}")
    return [float(line) for line in out.stdout.split()]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m cnngru.bench.training_versions",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("revision", help="the earlier revision (a commit, tag or branch)")
    p.add_argument("--variant", default="gru")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 128])
    p.add_argument("--seconds", type=float, default=8.0, help="per timed spell (three of them)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--params", type=int, default=1_000_000)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        then = Path(folder) / "then"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(then),
                        args.revision], check=True)
        try:
            print(f"{args.variant} at {args.params:,} parameters, batch x 128 characters, {args.threads} "
                  f"threads: training characters/s, three spells of {args.seconds:g} s each")
            print("| batch | revision | idle before | chars/s | today / then |\n|---|---|---|---|---|")
            for batch in args.batch_sizes:
                medians = {}
                for label, root in ((args.revision, then), ("this checkout", REPO)):
                    busy = busy_share()
                    idle = "unknown" if busy is None else (
                        "yes" if busy < IDLE_BELOW else f"no ({busy:.0%} busy)")
                    spells = rates(root, args.variant, batch, args.seconds, args.threads,
                                   args.params)
                    medians[label] = sorted(spells)[1]
                    ratio = (f"{medians[label] / medians[args.revision]:.2f}x"
                             if label != args.revision else "")
                    print(f"| {batch} | {label} | {idle} | "
                          f"{', '.join(f'{r:,.0f}' for r in spells)} | {ratio} |", flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(then)],
                           check=False)


if __name__ == "__main__":
    main()
