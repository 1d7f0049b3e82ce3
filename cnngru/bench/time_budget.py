"""What a CPU user gets from a time budget: each variant trained for ``--seconds`` of training
with the CPU recipe, from scratch, on the default corpus (prints figures; not a test).

    python -m cnngru.bench.time_budget --seconds 100 [--write results/cpu-budget-100s.json]

Each run is ``cnngru train --max-minutes``: it measures its throughput, trains the characters
that fit, anneals over them. Reported per variant: the trainer's own validation BPC (the whole
validation split read with the state carried) and nanoGPT's measure (2,048 windows of 65
characters from an empty state, ``cnngru.likelihood.window_bpc``), the characters, steps,
batch, learning rate, training and wall time, and whether the machine was otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch


def run_variant(variant: str, seconds: float, out: Path, corpus) -> dict:
    from .. import checkpoint
    from ..likelihood import window_bpc
    from ..training import TrainConfig, language_model_run, throughput
    from ..training.cpu_recipe import cpu_recipe_for_time
    from ..training.throughput import trainer_for

    shutil.rmtree(out, ignore_errors=True)  # a benchmark starts from scratch
    started = time.perf_counter()
    recipe = cpu_recipe_for_time(seconds, lambda batch: throughput.measure(
        trainer_for(variant, 1_000_000, corpus, batch, 128), 2.0))
    config = TrainConfig(variant=variant, max_chars=None, max_minutes=seconds / 60,
                         batch_size=recipe.batch_size, seq_len=recipe.seq_len, lr=recipe.lr,
                         warmup_steps=recipe.warmup_steps, eval_every=10**9)
    summary = language_model_run(config, out, progress=False, corpus=corpus).fit()
    bundle = checkpoint.load(out / "best")
    windows = window_bpc(bundle.model, bundle.vocab.encode_tensor(corpus.validation))
    return {"variant": variant, "val_bpc": summary["best_val_bpc"], "window_bpc": round(windows, 4),
            "chars": summary["chars"], "steps": summary["steps"], "batch_size": recipe.batch_size,
            "seq_len": recipe.seq_len, "lr": recipe.lr, "train_time_s": summary["time"],
            "wall_time_s": round(time.perf_counter() - started, 1),
            "measured_chars_per_s": summary.get("measured_chars_per_s"),
            "time_limited": summary["time_limited"]}


def main(argv: list[str] | None = None) -> None:
    from ..corpus import load_corpus
    from ..models import VARIANTS
    from .training_speed import IDLE_BELOW, busy_share

    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=100.0, help="training time per variant")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--runs", default="runs/time-budget")
    p.add_argument("--write", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    corpus = load_corpus("shakespeare")
    busy = busy_share()
    record = {"seconds": args.seconds, "threads": torch.get_num_threads(),
              "idle": None if busy is None else busy < IDLE_BELOW, "rows": []}
    lines = [f"{args.seconds:g} s of training per variant, {record['threads']} thread(s), "
             f"machine otherwise idle: {record['idle']}",
             "| variant | val BPC (state carried) | window BPC | chars | steps | batch | lr | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for variant in args.variants:
        row = run_variant(variant, args.seconds, Path(args.runs) / f"{variant}-{args.seconds:g}s",
                          corpus)
        record["rows"].append(row)
        lines.append(f"| {variant} | {row['val_bpc']:.3f} | {row['window_bpc']:.3f} "
                     f"| {row['chars']:,} | {row['steps']} | {row['batch_size']} | {row['lr']:g} "
                     f"| {row['wall_time_s']:.0f} |")
        print(lines[-1], flush=True)
        if args.write:  # after every variant: a stopped benchmark keeps what it measured
            Path(args.write).write_text(json.dumps(record, indent=1))
            Path(args.write).with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
