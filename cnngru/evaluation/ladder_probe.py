"""``python -m cnngru.evaluation.ladder_probe``: one scale's GRU ladder, every rung at once, on a GPU.

The study climbs a convergence ladder one rung at a time on the CPU, and at 1M parameters its top
rungs take days there. On a GPU the rungs the CPU has yet to climb (and the GRU's sweep runs the
ladder waits on) train side by side in minutes. They train in bf16, so their records are kept
apart (their own folder, precision ``bf16``) and never stand in for the study's fp32 runs: they
show how far the CPU's ladder is likely to climb, and so how long the study still has to run.

    python -m cnngru.evaluation.ladder_probe --params 1000000 --max-chars 80000000 --records OUT
    python -m cnngru.evaluation.ladder_probe --report OUT --write results/ladder-probe-1000k.md
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

from ..paths import RESULTS_DIR
from ..training.config import TrainConfig
from .reproduce import run_line, train_and_record
from .run_records import Records, code_version, data_version
from .study import CPU, Study


def probe_runs(params: int, max_chars: int, corpus: str = "shakespeare") -> list[TrainConfig]:
    """The GRU's runs the study's ladder at ``params`` may still wait on, from the fp32 records so
    far: its sweep over the starting grid and one rate below it, then every rung (up to
    ``max_chars``) at the best rate the sweep has recorded."""
    from ..corpus import load_corpus

    records = Records(RESULTS_DIR / "runs", code_version(), data_version(load_corpus(corpus)), "fp32")
    study = Study(CPU, corpus, records.read)
    _, decided = study.walk()
    gru = decided["scales"][params]["rows"][0]
    scale = CPU.scale(params)
    grid = sorted({min(CPU.grid) / 2, *CPU.grid})
    sweep = {lr: study.config(gru, params, lr, scale.sweep_chars) for lr in grid}
    scores = {lr: study.val(c) for lr, c in sweep.items() if study.val(c) is not None}
    best = min(scores, key=scores.get)
    rungs = [study.config(gru, params, best, scale.full_chars * 2**k) for k in range(CPU.rungs)]
    return [c for c in [*sweep.values(), *rungs]
            if c.max_chars <= max_chars and study.val(c) is None]


def report(folder: Path) -> str:
    """The probe's finished runs as a table, shortest first."""
    rows = sorted((json.loads(p.read_text()) for p in folder.glob("*.json")),
                  key=lambda r: (r["config"]["lr"], r["config"]["max_chars"]))
    out = ["| rate | characters | validation BPC | test BPC | characters/s | device |",
           "|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        c, t = r["config"], r["train"]
        val = f"{r['val_bpc']:.4f}" if "val_bpc" in r else "unstable"
        test = f"{r['test_bpc']:.4f}" if "test_bpc" in r else "-"
        out.append(f"| {c['lr']:g} | {c['max_chars'] / 1e6:.1f}M | {val} | {test} | "
                   f"{t['chars_per_s']:,} | {t['device']} ({r['precision']}) |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    from ..corpus import load_corpus

    p = argparse.ArgumentParser(prog="python -m cnngru.evaluation.ladder_probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", type=int, default=1_000_000)
    p.add_argument("--max-chars", type=int, default=80_000_000, help="longest run to train")
    p.add_argument("--records", type=Path, help="where the probe's records go")
    p.add_argument("--runs", type=Path, default=Path("runs/probe"), help="checkpoints meanwhile")
    p.add_argument("--device", default="cuda")
    p.add_argument("--report", type=Path, help="print the records in this folder and stop")
    p.add_argument("--write", type=Path, help="with --report: also write the table here")
    args = p.parse_args(argv)
    if args.report:
        table = report(args.report)
        print(table)
        if args.write:
            args.write.write_text(table + "\n")
        return
    configs = probe_runs(args.params, args.max_chars)
    for c in configs:
        print(f"  {c.variant} {c.design} lr {c.lr:g} over {c.max_chars:,} characters", flush=True)
    corpus = load_corpus("shakespeare")
    precision = "bf16" if args.device.startswith("cuda") else "fp32"
    records = Records(args.records, code_version(), data_version(corpus), precision)
    threads = max(1, (os.cpu_count() or 1) // max(1, len(configs)))
    with ProcessPoolExecutor(max(1, len(configs)), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(train_and_record, replace(c, device=args.device),
                               args.runs / records.name(c), records, None, threads, False)
                   for c in configs]
        for future in as_completed(futures):
            print(run_line(future.result()), flush=True)


if __name__ == "__main__":
    main()
