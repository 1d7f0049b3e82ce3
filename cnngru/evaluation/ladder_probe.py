"""``python -m cnngru.evaluation.ladder_probe``: one scale's GRU ladder, every rung at once, on a GPU.

The study climbs a convergence ladder one rung at a time on the CPU, and at 1M parameters its top
rungs take days there. On a GPU the rungs the CPU has yet to climb (and the GRU's sweep runs the
ladder waits on) train side by side in minutes. They train in bf16, so their records are kept
apart (``results/ladder-probe``, precision ``bf16``, shared with ``scale_probe``) and never stand
in for the study's fp32 runs: they show how far the CPU's ladder is likely to climb, and so how
long the study still has to run.

    python -m cnngru.evaluation.ladder_probe --params 1000000 --records results/ladder-probe
    python -m cnngru.evaluation.ladder_probe --write  # results/ladder-probe.md, the README's block

Its records carry this checkout's code and data versions (``cnngru.evaluation.run_records``).
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

from ..paths import RESULTS_DIR
from ..training.config import TrainConfig
from .readme_blocks import write_result
from .reproduce import run_line, threads_per_job, train_and_record
from .run_records import PROBE_FOLDER, Records, code_version, data_version, precision_of
from .study import CPU, Study


def probe_runs(study: Study, params: int, max_chars: int, lr: float | None = None
               ) -> list[TrainConfig]:
    """The GRU's runs ``study``'s ladder at ``params`` may still wait on: its sweep over the
    starting grid and one rate below it, then every rung (up to ``max_chars``) at ``lr``, by
    default the best rate the study's sweep has recorded."""
    _, decided = study.walk(assume=True)  # the GRU's row, even while other designs are pending
    if params not in decided["scales"]:
        raise SystemExit(f"The study has no {params:,}-parameter scale to probe: "
                         f"{decided.get('failed') or 'its designs are not selected'}.")
    gru = decided["scales"][params]["rows"][0]
    budget = study.budget
    scale = budget.scale(params)
    grid = sorted({min(budget.grid) / 2, *budget.grid})
    sweep = {rate: study.config(gru, params, rate, scale.sweep_chars) for rate in grid}
    scores = {rate: study.val(c) for rate, c in sweep.items() if study.val(c) is not None}
    lr = lr or min(scores, key=scores.get)
    rungs = [study.config(gru, params, lr, scale.full_chars * 2**k) for k in range(budget.rungs)]
    return [c for c in [*sweep.values(), *rungs] if c.max_chars <= max_chars]


def report(folder: Path, fp32: Path = RESULTS_DIR / "runs") -> str:
    """The probes' runs of the GRU (seed 0: its sweeps and rungs) as a table, beside the study's
    fp32 record of the same run where there is one, and each rung's gain over the one below."""
    records = (json.loads(p.read_text()) for p in folder.glob("*.json"))
    rows = sorted((r for r in records if r["config"]["variant"] == "gru" and r["config"]["seed"] == 0),
                  key=lambda r: (r["config"]["params"], r["config"]["lr"], r["config"]["max_chars"]))
    out = ["| parameters | rate | characters | validation BPC (bf16) | gain over half the "
           "characters | study's fp32 run | test BPC (bf16) | characters/s |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    val = {}
    for r in rows:
        c, t = r["config"], r["train"]
        val[c["params"], c["lr"], c["max_chars"]] = r.get("val_bpc")
        below = val.get((c["params"], c["lr"], c["max_chars"] // 2))
        gain = f"{below - r['val_bpc']:.4f}" if below and "val_bpc" in r else ""
        twin = fp32 / f"{r['name'].replace('-bf16-', '-fp32-')}.json"
        study = json.loads(twin.read_text()) if twin.is_file() else {}
        if (study.get("code"), study.get("data")) != (r.get("code"), r.get("data")):
            study = {}  # made by other code or on other text: not this run's twin
        out.append(" | ".join([
            f"| {c['params'] // 1000}k", f"{c['lr']:g}", f"{c['max_chars'] / 1e6:.1f}M",
            f"{r['val_bpc']:.4f}" if "val_bpc" in r else
            f"unstable at {r['unstable']['chars'] / 1e6:.1f}M", gain,
            f"{study['val_bpc']:.4f}" if "val_bpc" in study else "",
            f"{r['test_bpc']:.4f}" if "test_bpc" in r else "",
            f"{t['chars_per_s']:,} |"]))
    return "\n".join(out)


def write_report(results: Path = RESULTS_DIR) -> str | None:
    """``results/ladder-probe.md`` (and the README's block, for ``results/``) from the probe's
    records and the study's; ``reproduce --write-only`` calls it as records arrive."""
    folder = results / PROBE_FOLDER
    if not folder.is_dir():
        return None
    table = report(folder, results / "runs")
    write_result(results, "ladder-probe", table)
    return table


def main(argv: list[str] | None = None) -> None:
    from ..corpus import load_corpus

    p = argparse.ArgumentParser(prog="python -m cnngru.evaluation.ladder_probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", type=int, default=1_000_000)
    p.add_argument("--lr", type=float, help="the ladder's rate (default: the sweep's best)")
    p.add_argument("--max-chars", type=int, default=80_000_000, help="longest run to train")
    p.add_argument("--records", type=Path, help="where the probe's records go")
    p.add_argument("--runs", type=Path, default=Path("runs/probe"), help="checkpoints meanwhile")
    p.add_argument("--device", default="cuda")
    p.add_argument("--report", type=Path, help="print the records in this folder and stop")
    p.add_argument("--write", action="store_true", help="write results/ladder-probe.md and the "
                   "README's block from results/ladder-probe and stop")
    args = p.parse_args(argv)
    if args.report:
        print(report(args.report))
        return
    if args.write:
        print(write_report())
        return
    corpus = load_corpus("shakespeare")
    code, data = code_version(), data_version(corpus)  # what this checkout trains and reads
    records = Records(args.records, code, data, precision_of(args.device))
    study = Study(CPU, "shakespeare", Records(RESULTS_DIR / "runs", code, data, "fp32").read)
    configs = [c for c in probe_runs(study, args.params, args.max_chars, args.lr)
               if records.read(c) is None]  # runs the probe has recorded are not trained again
    for c in configs:
        print(f"  {c.variant} {c.design} lr {c.lr:g} over {c.max_chars:,} characters", flush=True)
    threads = threads_per_job(max(1, len(configs)))
    with ProcessPoolExecutor(max(1, len(configs)), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(train_and_record, replace(c, device=args.device),
                               args.runs / records.name(c), records, None, threads, None)
                   for c in configs]
        for future in as_completed(futures):
            print(run_line(future.result()), flush=True)


if __name__ == "__main__":
    main()
