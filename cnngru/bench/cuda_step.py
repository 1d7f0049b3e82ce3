"""``python -m cnngru.bench.cuda_step``: does the batched generation step pay on a GPU?

Per shipped variant and batch size, the aggregate characters per second of stepping every row by
one character, each way counting what the engine needs beside the model: the logits to the host,
sampling every row there (``sample_rows``, as the engine does), the chosen characters back.

- ``cpu fused``: the fused NumPy step the engine uses on a CPU, on one thread;
- ``cuda forward``: the model's own forward on the GPU with the state kept there;
- ``cuda graph``: that forward captured once per batch size as a CUDA graph and replayed, so a
  step is one launch: the engine's step on a GPU (``cnngru.graph_step``).

Without a GPU only the CPU rows are measured. Prints a table; ``--json`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

BATCHES = (1, 16, 64, 256)
STEPS = 300  # timed steps per measurement (after a warm-up of 20)


def settings(rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Temperature 1, no top-k, no top-p: the engine's default row."""
    return np.ones(rows, np.float32), np.zeros(rows, np.int64), np.ones(rows, np.float64)


def rate(step, logits: np.ndarray, state, steps: int, sync=lambda: None) -> float:
    """Characters/s of ``steps`` batched steps, each drawing every row's next character from the
    last step's logits (after a warm-up of 20 steps)."""
    from ..sampling import sample_rows

    rows = len(logits)
    rng = np.random.default_rng(0)
    per_row = settings(rows)
    for i in range(20 + steps):
        if i == 20:
            sync()
            t0 = time.perf_counter()
        choice = sample_rows(logits, *per_row, rng.random(rows))
        logits, state, _ = step(choice, state)  # waits for the step: the next draw needs it
    return rows * steps / (time.perf_counter() - t0)


def cpu_fused(bundle, rows: int, steps: int) -> float:
    logits, state, _ = bundle.fast_step.step(np.zeros(rows, np.int64), None)
    return rate(bundle.fast_step.step, logits, state, steps)


def cuda_forward(bundle, rows: int, steps: int, graph: bool) -> float:
    """Rows stepped together on the GPU by the engine's step (``graph_step``), the state kept
    there: the forward launched kernel by kernel, or replayed as one captured graph."""
    import torch

    from ..generation import read_prompt
    from ..graph_step import GraphStep

    start = read_prompt(bundle, "ROMEO.\n")
    logits = np.repeat(start.logits[None], rows, axis=0)
    state = {k: np.repeat(v, rows, axis=0) for k, v in start.state.items()}
    return rate(GraphStep(bundle, capture=graph).step, logits, state, steps, torch.cuda.synchronize)


def run(variants: list[str], batches: tuple[int, ...], steps: int) -> list[dict]:
    import torch

    from ..checkpoint import load
    from ..threads import pinned

    rows = []
    for variant in variants:
        with pinned(1):
            bundle = load(variant, device="cpu")
            for b in batches:
                rows.append(measured(variant, "cpu fused", b, cpu_fused, bundle, b, steps))
        if not torch.cuda.is_available():
            continue
        bundle = load(variant, device="cuda")
        for graph in (False, True):
            way = "cuda graph" if graph else "cuda forward"
            for b in batches:
                rows.append(measured(variant, way, b, cuda_forward, bundle, b, steps, graph))
    return rows


def measured(model: str, way: str, batch: int, rate, *args) -> dict:
    """One row of the table; a way that fails is a finding too, so it says why."""
    try:
        value = round(rate(*args))
    except Exception as e:  # noqa: BLE001
        value = f"failed: {type(e).__name__}: {e}"[:200]
    row = {"model": model, "way": way, "batch": batch, "chars_per_s": value}
    print(row, flush=True)
    return row


def engine_rows(variants: list[str], streams: int = 16, length: int = 300) -> list[dict]:
    """The engine itself (``batched_generation``): ``streams`` concurrent generations of each
    model, on one CPU thread with the fused step and on the GPU with the graph step, and how far
    the graph step's logits are from the model's own forward on the GPU."""
    import torch

    from ..checkpoint import load
    from ..generation import _torch_step, read_prompt
    from ..graph_step import GraphStep
    from ..threads import pinned
    from .generation_speed import measure_streams

    rows = []
    for variant in variants:
        row = {"model": variant, "streams": streams}
        with pinned(1):
            row["cpu_engine"] = round(measure_streams(load(variant), streams, length, 1, False)[0])
        if torch.cuda.is_available():
            bundle = load(variant, device="cuda")
            measure_streams(bundle, streams, 50, 1, False)  # capture, warm-up
            row["cuda_engine"] = round(measure_streams(bundle, streams, length, 1, False)[0])
            row["cuda_engine_1"] = round(measure_streams(bundle, 1, length, 1, False)[0])
            reads = [read_prompt(bundle, "ROMEO.\n" * (i + 1)) for i in range(streams)]
            state = {k: np.concatenate([r.state[k] for r in reads]) for k in reads[0].state}
            graph, forward, worst = GraphStep(bundle), _torch_step(bundle), 0.0
            state_g = state_f = state
            for t in range(50):
                tokens = np.full(streams, t % len(bundle.vocab))
                a, state_g, _ = graph.step(tokens, state_g)
                b, state_f, _ = forward(tokens, state_f)
                worst = max(worst, float(np.abs(a - b).max()))
            row["graph_vs_forward_max_abs"] = worst
        print(row, flush=True)
        rows.append(row)
    return rows


def engine_table(rows: list[dict]) -> str:
    out = [f"the engine (`python -m cnngru.bench.cuda_step --engine`): {rows[0]['streams']} "
           "concurrent streams of 300 characters, aggregate characters/s, one reader; the CPU "
           "engine on one thread of the same machine",
           "| model | CPU engine, 16 streams | GPU engine, 16 streams | GPU engine, 1 stream "
           "| graph vs forward, max logit difference |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['model']} | {r['cpu_engine']:,} | {r.get('cuda_engine', 0):,} | "
                   f"{r.get('cuda_engine_1', 0):,} | {r.get('graph_vs_forward_max_abs', '-')} |")
    return "\n".join(out)


def table(rows: list[dict], batches: tuple[int, ...]) -> str:
    ways = list(dict.fromkeys(r["way"] for r in rows))
    out = ["| model | way | " + " | ".join(f"{b} row{'s' * (b != 1)}" for b in batches) + " |",
           "|---" * (2 + len(batches)) + "|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        for way in ways:
            cells = {r["batch"]: r["chars_per_s"] for r in rows if r["model"] == model and r["way"] == way}
            if cells:
                out.append(f"| {model} | {way} | " + " | ".join(
                    f"{cells[b]:,}" if isinstance(cells.get(b), int) else str(cells.get(b, "-"))
                    for b in batches) + " |")
    return "\n".join(out)


def heading(record: dict) -> str:
    return (f"a batched generation step with sampling, aggregate characters/s (`python -m "
            f"cnngru.bench.cuda_step`; CPU rows on one thread of the same machine's "
            f"{record['cpu'] or 'CPU'}; GPU: {record['gpu']}; torch {record['torch']})")


def main(argv: list[str] | None = None) -> None:
    import torch

    from ..models import VARIANTS

    p = argparse.ArgumentParser(prog="python -m cnngru.bench.cuda_step", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    p.add_argument("--engine", action="store_true", help="measure the engine itself instead "
                   "(16 streams on the CPU and the GPU) and check the graph step's logits")
    p.add_argument("--report", type=Path, help="print the table of a --json file and stop")
    p.add_argument("--write", type=Path, help="with --report: also write the table here")
    args = p.parse_args(argv)
    if args.report:
        record = json.loads(args.report.read_text())
        text = engine_table(record) if isinstance(record, list) else (
            heading(record) + "\n\n" + table(record["rows"], tuple(record["batches"])))
        print(text)
        if args.write:
            args.write.write_text(text + "\n")
        return
    if args.engine:
        rows = engine_rows(args.variants)
        print(engine_table(rows))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        return
    rows = run(args.variants, tuple(args.batches), args.steps)
    record = {"gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
              "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
              "steps": args.steps, "batches": args.batches, "rows": rows}
    print(heading(record) + "\n\n" + table(rows, tuple(args.batches)))
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
