"""``cnngru bench --train``: training characters per second per variant (prints figures).

Each variant is built at the shipped size on the default corpus with the CPU recipe
(``cnngru.training.cpu_recipe``) and trained for ``--seconds`` on a copy (the measurement of
``cnngru.training.throughput``). The table says how many threads ran and whether the machine was
otherwise idle, read from /proc/stat just before: figures from a busy machine are not comparable.
``--profile`` adds where a step's time goes, by phase and by operator; ``--ceiling`` the rate
with the GRU's per-step element-wise work free (``training_floor.py``): the most that fusing it
into one kernel could give.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

IDLE_BELOW = 0.10  # share of the CPUs busy with other work below which the machine counts as idle


def busy_share(seconds: float = 2.0) -> float | None:
    """The share of all CPU time spent busy over ``seconds`` (None where /proc/stat is absent)."""

    def read() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    try:
        busy0, total0 = read()
        time.sleep(seconds)
        busy1, total1 = read()
    except OSError:
        return None
    return (busy1 - busy0) / max(1, total1 - total0)


def profile(trainer, steps: int = 4) -> str:
    """Seconds per phase of a training step, and the operators that took the most time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    phases = {"forward + loss": 0.0, "backward": 0.0, "clip + optimizer": 0.0}
    model, optimizer = trainer.model, trainer.optimizer
    model.train()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for step in range(steps):
            t0 = time.perf_counter()
            loss = trainer.task.loss(model, step, trainer.rows)
            t1 = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            t3 = time.perf_counter()
            for name, took in zip(phases, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                phases[name] += took / steps
    total = sum(phases.values())
    lines = [f"  {name}: {took * 1000:.0f} ms ({took / total:.0%})" for name, took in phases.items()]
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
    return "\n".join(lines) + "\n" + table


def main(argv: list[str] | None = None) -> None:
    import argparse

    from ..corpus import load_corpus
    from ..models import DEFAULT_PARAMS, VARIANTS
    from ..training.cpu_recipe import cpu_recipe

    p = argparse.ArgumentParser(prog="cnngru bench --train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", action="store_true", help="(selects this benchmark)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--params", type=int, default=DEFAULT_PARAMS)
    p.add_argument("--batch-size", type=int, default=None, help="default: the CPU recipe's")
    p.add_argument("--seq-len", type=int, default=None, help="default: the CPU recipe's")
    p.add_argument("--seconds", type=float, default=10.0, help="measured per variant")
    p.add_argument("--threads", type=int, default=None, help="default: PyTorch's (all cores)")
    p.add_argument("--profile", action="store_true", help="also show where a step's time goes")
    p.add_argument("--ceiling", action="store_true", help="also the rate with the GRU's gates "
                   "free (wrong numbers): the ceiling of fusing them")
    p.add_argument("--write", default=None, metavar="FILE",
                   help="also write the table to FILE (results/bench-train.md goes in the README)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = cpu_recipe()
    batch_size, seq_len = args.batch_size or recipe.batch_size, args.seq_len or recipe.seq_len
    corpus = load_corpus("shakespeare")
    busy = busy_share()
    idle = "unknown" if busy is None else ("yes" if busy < IDLE_BELOW else f"no ({busy:.0%} busy)")
    import platform

    from ..models import count_params
    from ..training import throughput
    from ..training.throughput import trainer_for

    lines = [f"training throughput ({platform.processor() or platform.machine()}, "
             f"{torch.get_num_threads()} thread(s), batch {batch_size} x {seq_len}, "
             f"machine otherwise idle: {idle})",
             "| variant | params | chars/s |" + (" gates free (ceiling) |" if args.ceiling else ""),
             "|---|---|---|" + ("---|" if args.ceiling else "")]
    print("\n".join(lines), flush=True)
    for variant in args.variants:
        trainer = trainer_for(variant, args.params, corpus, batch_size, seq_len)
        rate = throughput.measure(trainer, seconds=args.seconds)
        row = f"| {variant} | {count_params(trainer.model):,} | {rate:,.0f} |"
        if args.ceiling:
            from .training_floor import gates_free

            with gates_free():
                free = throughput.measure(trainer, seconds=args.seconds)
            row += f" {free:,.0f} ({free / rate:.2f}x) |"
        lines.append(row)
        print(lines[-1], flush=True)
        if args.profile:
            print(profile(trainer))
    if args.write:
        Path(args.write).write_text("\n".join(lines) + "\n")
