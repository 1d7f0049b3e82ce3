"""Measure the CPU recipe's trade-off: batch size against steps, at equal training time.

    python -m cnngru.training.recipe_study [--seconds 100] [--jobs 2]

1. Training throughput of the GRU at the shipped size for each batch size (``--rates-from``
   reuses figures measured earlier on an idle machine).
2. For each batch size, a run per learning rate, each given the characters that its batch size
   trains in ``--seconds`` seconds: equal training time, annealed to the end.
3. Validation BPC (state carried, the trainer's measure) and window BPC (nanoGPT's measure).
Each finished run leaves a small record in ``results/cpu-recipe/`` (committed), and a run with a
record is never trained again, so the study can be finished in several sittings on any machine;
unfinished runs resume from their snapshots under ``--runs``. When every run has a record it
writes ``results/cpu-recipe.json``; the rule in ``recipe.py`` is chosen from it.
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from ..paths import RESULTS_DIR

BATCHES = (16, 32, 64, 128)
LRS = (3e-3, 6e-3, 1.2e-2, 2.4e-2)
SEQ_LEN = 128


def measure_rates(variant: str, params: int, seconds: float) -> dict[int, float]:
    from ..corpus import load_corpus
    from . import throughput
    from .throughput import trainer_for

    corpus = load_corpus("shakespeare")
    return {b: throughput.measure(trainer_for(variant, params, corpus, b, SEQ_LEN), seconds)
            for b in BATCHES}


RECORDS = RESULTS_DIR / "cpu-recipe"


def run_one(job: tuple[dict, str, int]) -> dict:
    config_dict, out, threads = job
    record = RECORDS / f"{Path(out).name}.json"
    if record.is_file():
        return json.loads(record.read_text())
    import torch

    from .. import checkpoint
    from ..corpus import load_corpus
    from ..likelihood import window_bpc
    from . import TrainConfig, train

    torch.set_num_threads(threads)
    config = TrainConfig.from_dict(config_dict)
    summary_file = Path(out) / "summary.json"
    summary = (json.loads(summary_file.read_text()) if summary_file.is_file()
               else train(config, out, progress=False))
    if "window_bpc" not in summary:
        bundle = checkpoint.load(Path(out) / "best")
        ids = bundle.vocab.encode_tensor(load_corpus(config.corpus).validation)
        summary["window_bpc"] = round(window_bpc(bundle.model, ids), 4)
        summary_file.write_text(json.dumps(summary, indent=1))
    row = {"batch_size": config.batch_size, "lr": config.lr, "chars": summary["chars"],
           "steps": summary["steps"], "val_bpc": summary["best_val_bpc"],
           "window_bpc": summary["window_bpc"], "train_time_s": summary["time"],
           "threads": threads, "config": config.to_dict()}
    RECORDS.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(row, indent=1))
    return row


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="gru")
    p.add_argument("--params", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=100.0, help="training time per run")
    p.add_argument("--rates-from", default=None,
                   help="a JSON file of measured rates (default: results/cpu-recipe/rates.json, "
                        "measured and written there if absent)")
    p.add_argument("--runs", default="runs/cpu-recipe")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (each gets cores / jobs)")
    p.add_argument("--out", default=str(RESULTS_DIR / "cpu-recipe.json"))
    args = p.parse_args(argv)
    import torch

    from . import TrainConfig, recipe_key

    rates_file = Path(args.rates_from) if args.rates_from else RECORDS / "rates.json"
    if rates_file.is_file():
        rates = {int(b): r for b, r in json.loads(rates_file.read_text())["rates"].items()}
    else:  # measured once, on an idle machine, and kept: every later sitting plans from them
        from ..bench.training_speed import IDLE_BELOW, busy_share

        busy = busy_share()
        rates = measure_rates(args.variant, args.params, seconds=8.0)
        RECORDS.mkdir(parents=True, exist_ok=True)
        rates_file.write_text(json.dumps({
            "measured_by": "cnngru.training.throughput.measure, 8 s per batch size",
            "threads": torch.get_num_threads(), "idle": busy is not None and busy < IDLE_BELOW,
            "rates": {str(b): round(r) for b, r in rates.items()}}, indent=1))
    print("chars/s by batch size:", {b: round(r) for b, r in rates.items()}, flush=True)
    jobs = []
    for b in sorted(BATCHES, key=lambda b: abs(b - 48)):  # the likeliest choices first
        chars = int(rates[b] * args.seconds) // (b * SEQ_LEN) * (b * SEQ_LEN)
        steps = chars // (b * SEQ_LEN)
        for lr in LRS:
            config = TrainConfig(variant=args.variant, params=args.params, batch_size=b,
                                 seq_len=SEQ_LEN, max_chars=chars, lr=lr,
                                 warmup_steps=max(10, round(0.05 * steps)),
                                 eval_every=max(50, steps // 4), eval_chars=200_000)
            out = Path(args.runs) / f"b{b}-lr{lr:g}-{recipe_key(config)}"
            jobs.append((config.to_dict(), str(out), max(1, (os.cpu_count() or 1) // args.jobs)))
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        rows = []
        for row in pool.map(run_one, jobs):
            rows.append(row)
            print(json.dumps(row), flush=True)
    best = {b: min((r for r in rows if r["batch_size"] == b), key=lambda r: r["val_bpc"])
            for b in BATCHES}
    record = {"variant": args.variant, "params": args.params, "seconds": args.seconds,
              "seq_len": SEQ_LEN, "rates": {str(b): round(r) for b, r in rates.items()},
              "runs": rows, "best_per_batch": {str(b): r for b, r in best.items()}}
    Path(args.out).write_text(json.dumps(record, indent=1))
    print(json.dumps(record["best_per_batch"], indent=1))


if __name__ == "__main__":
    main()
