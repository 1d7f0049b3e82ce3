"""``cnngru bench``: generation speed per variant at batch size 1 (prints figures; not a test).

For 250, 1,000 and 4,000 new characters, with diagnostics off and on, it reports characters
per second and the per-character cost at 4,000 relative to 250 (1.0: constant cost per
character, as a carried state promises). On the CPU each model is measured on both paths: the
fused NumPy step (``numpy``, the default there) and the model's own ``forward`` one character at a
time (``forward``), so the speed-up the fused step buys is on record. The CPU figures are taken
on ``--threads`` threads (1 by default; PyTorch's and BLAS's pools are pinned). With a GPU present
it measures the CUDA path (``forward``) too, so the default device can follow the measurement.

Then continuous batching (``cnngru.batched_generation``): the aggregate characters per second of
16 concurrent streams of one model, read by one thread in turn and by 16 threads (as a server's
handlers do), each against the batch-1 fused step's rate measured in the same run; and read by
one thread with the batch's products shared among every core (``half_product.batch_threads``, as
``cnngru generate -n`` does), the batch-1 step still on one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from ..models.half_product import batch_threads
from ..paths import RESULTS_DIR

LENGTHS = (250, 1000, 4000)
PATHS = {"numpy": True, "forward": False}  # path name -> generate(fast=...)
STREAMS = 16  # concurrent streams of one model in the batching figure
STREAM_LENGTH = 1000  # characters per stream there
# The time-budget benchmarks in the README: file name -> (its heading, seconds per variant)
TRAINING_BUDGETS = {"100s": ("A 100-second", 100), "15min": ("A 15-minute", 900)}


def selected_designs() -> list[str]:
    """``variant:design`` for each design the study selected that is not shipped yet
    (``results/results.json`` "candidates"), so the bench covers the forms about to ship."""
    from ..models.designs import SHIPPED

    path = RESULTS_DIR / "results.json"
    candidates = json.loads(path.read_text()).get("candidates", {}) if path.is_file() else {}
    return [f"{variant}:{row['design']}" for variant, rows in candidates.items() for row in rows
            if row.get("selected") and SHIPPED.get(variant) != row["design"]]


def bundle_for(name: str, device: str = "cpu"):
    """A shipped name or a checkpoint folder, or ``variant:design``: that design at the shipped
    size, untrained, its weights rounded to float16 as a saved checkpoint holds them (a step's
    speed does not depend on what the weights learned), with the shipped vocabulary."""
    import torch

    from ..checkpoint import Bundle, load
    from ..models import build_model
    from ..models.designs import design_overrides

    if ":" not in name:
        return load(name, device=device)
    variant, design = name.split(":", 1)
    shipped = load(variant, device=device)
    torch.manual_seed(0)
    model = build_model(variant, len(shipped.vocab), params=shipped.metadata.get("params", 1_000_000),
                        **design_overrides(variant, design))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
    return Bundle(model.to(device).eval(), shipped.vocab,
                  {"name": f"{variant} ({design}, untrained)"})


def measure(bundle, length: int, diagnostics: bool, repeats: int,
            fast: bool | None = None) -> float:
    """Median characters per second of ``repeats`` generations of ``length`` characters."""
    from ..generation import generate

    rates = []
    for r in range(repeats):
        gen = generate(bundle, "ROMEO.\n", max_new_tokens=length, seed=r, diagnostics=diagnostics,
                       fast=fast)
        t0 = time.perf_counter()
        for _ in gen:
            pass
        rates.append(length / (time.perf_counter() - t0))
    return statistics.median(rates)


def run(models: list[str], devices: list[str], repeats: int) -> list[dict]:
    rows = []
    for device in devices:
        for name in models:
            bundle = bundle_for(name, device)
            # the NumPy step computes on the CPU whatever the model's device: only there it counts
            paths = list(PATHS) if device == "cpu" else ["forward"]
            for path in paths:
                fast = PATHS[path]
                measure(bundle, 200, False, 1, fast)  # warm-up: first allocations, CUDA context
                for diagnostics in (False, True):
                    rates = {n: measure(bundle, n, diagnostics, repeats, fast) for n in LENGTHS}
                    rows.append({"model": bundle.name, "device": device, "path": path,
                                 "diagnostics": diagnostics,
                                 **{f"chars_per_s_{n}": round(r) for n, r in rates.items()},
                                 "cost_ratio_4000_vs_250": round(rates[250] / rates[4000], 3)})
    return rows


def measure_streams(bundle, streams: int, length: int, repeats: int,
                    reader_threads: bool) -> tuple[float, float]:
    """Median aggregate characters per second of ``streams`` streams through a fresh engine, and
    the mean batch size its steps had."""
    import threading

    from ..batched_generation import Engine, read_together

    rates, sizes = [], []
    for r in range(repeats):
        engine = Engine(bundle)
        rows = [engine.generate("ROMEO.\n", max_new_tokens=length, seed=r * streams + i)
                for i in range(streams)]
        t0 = time.perf_counter()
        if reader_threads:
            readers = [threading.Thread(target=list, args=(s,)) for s in rows]
            for t in readers:
                t.start()
            for t in readers:
                t.join()
        else:
            read_together(rows)
        rates.append(streams * length / (time.perf_counter() - t0))
        sizes.append(engine.mean_batch_size)
    return statistics.median(rates), statistics.median(sizes)


def run_batching(models: list[str], repeats: int) -> list[dict]:
    """Per model: the batch-1 fused step's rate, then 16 streams together (one reader; threads)."""
    from ..models import VARIANTS

    rows = []
    for name in models:
        bundle = bundle_for(name)
        if bundle.variant not in VARIANTS:
            continue
        measure(bundle, 200, False, 1, True)  # warm-up
        alone = measure(bundle, STREAM_LENGTH, False, repeats, True)
        one_reader, batch = measure_streams(bundle, STREAMS, STREAM_LENGTH, repeats, False)
        threads, threads_batch = measure_streams(bundle, STREAMS, STREAM_LENGTH, repeats, True)
        with batch_threads(os.cpu_count() or 1) as cores:
            shared, _ = measure_streams(bundle, STREAMS, STREAM_LENGTH, repeats, False)
        rows.append({"model": bundle.name, "streams": STREAMS, "chars_per_stream": STREAM_LENGTH,
                     "alone_chars_per_s": round(alone),
                     "one_reader_chars_per_s": round(one_reader),
                     "one_reader_ratio": round(one_reader / alone, 2),
                     "one_reader_mean_batch": round(batch, 1),
                     "threads_chars_per_s": round(threads),
                     "threads_ratio": round(threads / alone, 2),
                     "threads_mean_batch": round(threads_batch, 1),
                     "product_threads": cores, "shared_chars_per_s": round(shared),
                     "shared_ratio": round(shared / alone, 2)})
    return rows


def batching_table(rows: list[dict], threads: int) -> str:
    out = [f"continuous batching: {STREAMS} concurrent streams of one model, {STREAM_LENGTH:,} "
           f"characters each, diagnostics off, aggregate characters/s against the batch-1 fused "
           f"step in the same run ({threads} CPU thread(s))",
           "| model | batch 1 | 16 streams, one reader | x batch 1 | mean batch "
           "| 16 reader threads | x batch 1 | mean batch | one reader, products on "
           f"{rows[0]['product_threads'] if rows else 1} threads | x batch 1 |",
           "|---" * 10 + "|"]
    for r in rows:
        out.append(f"| {r['model']} | {r['alone_chars_per_s']:,} | "
                   f"{r['one_reader_chars_per_s']:,} | {r['one_reader_ratio']:.1f}x | "
                   f"{r['one_reader_mean_batch']:.1f} | {r['threads_chars_per_s']:,} | "
                   f"{r['threads_ratio']:.1f}x | {r['threads_mean_batch']:.1f} | "
                   f"{r['shared_chars_per_s']:,} | {r['shared_ratio']:.1f}x |")
    return "\n".join(out)


def table(rows: list[dict], threads: int) -> str:
    from ..models.half_product import describe

    out = [f"generation at batch 1 ({threads} CPU thread(s) for the CPU rows; the NumPy step "
           f"with {describe()})",
           "| model | device | path | diagnostics | "
           + " | ".join(f"chars/s @{n}" for n in LENGTHS)
           + " | cost/char 4000 vs 250 |", "|---" * (5 + len(LENGTHS)) + "|"]
    for r in rows:
        out.append(f"| {r['model']} | {r['device']} | {r['path']} | "
                   f"{'on' if r['diagnostics'] else 'off'} | "
                   + " | ".join(f"{r[f'chars_per_s_{n}']:,}" for n in LENGTHS)
                   + f" | {r['cost_ratio_4000_vs_250']:.2f}x |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """``cnngru bench``: generation speed; ``--train``: training throughput; ``--breakdown``:
    where a generation step's time goes."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if "--train" in argv:
        from .training_speed import main as training_main

        return training_main(argv)
    if "--breakdown" in argv:
        from .step_breakdown import main as breakdown_main

        return breakdown_main(argv)
    from ..models import VARIANTS

    p = argparse.ArgumentParser(
        prog="cnngru bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="other benchmarks, each with its own --help:\n"
               "  cnngru bench --train      training characters/s (--profile, --ceiling)\n"
               "  cnngru bench --breakdown  where a generation step's time goes")
    p.add_argument("--models", nargs="+", default=[*VARIANTS, *selected_designs()],
                   help="names, folders or variant:design (default: the shipped models and the "
                   "study's selected designs not shipped yet)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (BLAS and torch)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None, help="also write the rows to this file")
    p.add_argument("--write", action="store_true", help="write results/bench-cpu.{json,md} and "
                   "the README's benchmark block")
    args = p.parse_args(argv)
    import torch

    from ..threads import pinned

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with pinned(args.threads):
        rows = run(args.models, devices, args.repeats)
        batching = run_batching(args.models, args.repeats)
    md = table(rows, args.threads) + "\n\n" + batching_table(batching, args.threads)
    print(md)
    record = {"threads": args.threads, "cpu": platform.processor() or platform.machine(),
              "rows": rows, "batching": batching}
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))
    if args.write:
        write_results(record, md)


def write_results(record: dict, md: str) -> None:
    """Keep the CPU figures in ``results/`` and refresh the README's benchmark block."""
    (RESULTS_DIR / "bench-cpu.json").write_text(json.dumps(record, indent=1))
    (RESULTS_DIR / "bench-cpu.md").write_text(md + "\n")
    write_readme_block()


def write_readme_block() -> None:
    """The README's benchmark block: every benchmark file in ``results/``, as written."""
    from ..evaluation.readme_blocks import write_block

    parts = [(RESULTS_DIR / "bench-cpu.md").read_text().strip()]
    for p in sorted(RESULTS_DIR.glob("bench-gpu-*.txt")):
        machine = p.stem.removeprefix('bench-gpu-').split('-')[0].upper()
        parts.append(f"On {machine} (its own CPU and its GPU; "
                     f"`{p.name}`):\n\n" + p.read_text().strip())
    breakdown = RESULTS_DIR / "bench-breakdown.md"
    if breakdown.is_file():
        parts.append("Where a step's time goes (`cnngru bench --breakdown --write`; the machine "
                     "otherwise idle):\n\n" + breakdown.read_text().strip())
    train = RESULTS_DIR / "bench-train.md"
    if train.is_file():
        parts.append("Training (`cnngru bench --train --write results/bench-train.md`):\n\n"
                     + train.read_text().strip())
    for name, (label, seconds) in TRAINING_BUDGETS.items():
        budget = RESULTS_DIR / f"cpu-budget-{name}.md"
        if budget.is_file():
            parts.append(f"{label} training budget per variant (`python -m cnngru.bench."
                         f"time_budget --seconds {seconds} --write results/cpu-budget-{name}"
                         ".json`):\n\n" + budget.read_text().strip())
    app = RESULTS_DIR / "bench-app.txt"
    if app.is_file():
        parts.append("The demo (`python -m cnngru.bench.demo --out results/bench-app.txt`):\n\n```\n"
                     + app.read_text().strip() + "\n```")
    write_block("bench", "\n\n".join(parts))
