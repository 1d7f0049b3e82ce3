"""``cnngru bench --breakdown``: where one generated character's time goes, per variant.

At batch 1 a step multiplies one row by every weight matrix of the model, so its floor is the
time to read its weights: ~3.7 MB in float32, half that where they are stored as float16
(``models/half_product.py``). This prints, per variant on one core: the whole fused step;
its GRU recurrence, output head and the rest (CNN, attention, refinement, gates) each timed alone;
the same weight products with nothing else around them (the memory floor) and the bytes they
read; and the sampling of one character. Each figure is the best of several timed loops, so
another process on the machine inflates it less. Parts timed alone keep their weights in the
core's cache, so they add up to less than the whole step: the difference is what reading the
weights from the shared cache costs.

The same parts at ``ROWS`` rows (continuous batching's 16 streams) show what a batch can gain.
There each weight is read once for every row, so the products do ``ROWS`` times the arithmetic of
one row: their time and the rows' sampling bound the batched step from below, and
``ROWS x step(1) / (products + sampling)`` is the most a batch of ``ROWS`` can make of a
batch-1 step's rate, whatever else the step does. Beside it: the products' arithmetic rate
(two operations per weight and row) against the core's own float32 peak, a large matrix product
on one thread (``core_peak_gflops``). Where the products already run near that peak, no kernel
can lift the ceiling.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ..models.numpy_step import Dense, weight_products

RESULT = "bench-breakdown.md"
LOOPS, CALLS = 15, 300  # timed loops of CALLS calls each; the best loop counts
PEAK_SIZE = 2048  # the square float32 matrix product that measures a core's arithmetic peak
ROWS = 16  # the batched breakdown's rows, as the 16 streams of ``generation_speed``


def best_microseconds(fn, loops: int = LOOPS, calls: int = CALLS) -> float:
    """The fastest of ``loops`` timed loops of ``calls`` calls, per call, in microseconds."""
    fn()
    best = float("inf")
    for _ in range(loops):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


def core_peak_gflops(size: int = PEAK_SIZE, loops: int = 5) -> float:
    """Float32 operations per second of one (size x size) @ (size x size) product in PyTorch,
    the fastest of ``loops``, in billions: what the core does at best (run it on one thread)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = best_microseconds(lambda: torch.mm(a, b), loops=loops, calls=1) / 1e6
    return 2 * size ** 3 / seconds / 1e9


def bytes_read(product: Dense) -> int:
    """The weight bytes one product reads: float16 where the step stores them so."""
    return product.w.nbytes if product.half is None else product.half.nbytes


def breakdown(bundle, loops: int = LOOPS, calls: int = CALLS, rows: int = 1) -> dict:
    """The step's parts in microseconds (see the module docstring) for one loaded model, each
    over ``rows`` rows."""
    from ..sampling import SamplingSettings, sample, sample_rows

    def timed(fn):
        return best_microseconds(fn, loops, calls)

    fast = bundle.fast_step
    stepper = fast.stepper
    tokens = np.ones(rows, np.int64)
    _, state, _ = fast.step(tokens)
    for _ in range(64):  # a state deep enough that every window is full
        _, state, _ = fast.step(tokens, state)
    step = timed(lambda: fast.step(tokens, state))
    gru_in = stepper.input_table[tokens]
    gru = timed(lambda: stepper.gru(gru_in, state["gru"]))
    top = state["gru"][:, -1]
    head = timed(lambda: stepper.head(top))
    products_made = weight_products(stepper)
    inputs = [np.ones((rows, p.w.shape[0]), np.float32) for p in products_made]

    def products():
        for x, product in zip(inputs, products_made, strict=True):
            product(x)

    logits = np.linspace(-3, 3, len(bundle.vocab.chars)).astype(np.float32)
    settings = SamplingSettings()  # generate()'s defaults, as the speed bench samples
    if rows == 1:
        sampling = timed(lambda: sample(logits, settings, 0.5))
    else:
        batch = np.tile(logits, (rows, 1))
        per_row = (np.full(rows, settings.temperature, np.float32), np.full(rows, settings.top_k),
                   np.full(rows, settings.top_p), np.full(rows, 0.5))
        sampling = timed(lambda: sample_rows(batch, *per_row))
    return {"model": bundle.name, "rows": rows, "step_us": round(step, 1), "gru_us": round(gru, 1),
            "head_us": round(head, 1), "rest_us": round(max(step - gru - head, 0), 1),
            "products_alone_us": round(timed(products), 1),
            "weight_mb": round(sum(bytes_read(p) for p in products_made) / 1e6, 2),
            "weights": sum(p.w.size for p in products_made),
            "sampling_us": round(sampling, 1)}


def table(rows: list[dict]) -> str:
    from ..models.half_product import describe

    out = ["where a batch-1 step's time goes, one core, microseconds (best of "
           f"{LOOPS} loops of {CALLS}); 'rest' = CNN, attention, refinement and gates; "
           f"{describe()}",
           "| model | step | GRU alone | head alone | rest | weight products alone | weights read "
           "| sampling | floor chars/s |", "|---" * 9 + "|"]
    for r in rows:
        out.append(f"| {r['model']} | {r['step_us']:.0f} | {r['gru_us']:.0f} | {r['head_us']:.0f}"
                   f" | {r['rest_us']:.0f} | {r['products_alone_us']:.0f} | {r['weight_mb']:.2f} MB"
                   f" | {r['sampling_us']:.0f} | {r['rows'] * 1e6 / _floor_us(r):,.0f} |")
    return "\n".join(out)


def batched_table(batched: list[dict], alone: list[dict], peak_gflops: float) -> str:
    """The parts at ``ROWS`` rows, the most a batch can make of the batch-1 step's rate, and
    the products' arithmetic rate against the core's peak."""
    n = batched[0]["rows"]
    out = [f"the same parts for a batch of {n} rows (one core, microseconds a step); the ceiling "
           f"is {n} x the batch-1 step over the products and sampling at {n} rows, the most "
           "continuous batching can gain whatever else the step does; the products' rate is 2 "
           f"operations per weight and row, against this core's float32 peak of "
           f"{peak_gflops:.0f} GFLOP/s (a {PEAK_SIZE} x {PEAK_SIZE} torch.mm on one thread)",
           "| model | step | GRU alone | head alone | rest | weight products alone | sampling "
           "| x batch-1 step | ceiling | products, GFLOP/s | of the peak |", "|---" * 11 + "|"]
    for r, one in zip(batched, alone, strict=True):
        rate = products_gflops(r)
        out.append(f"| {r['model']} | {r['step_us']:.0f} | {r['gru_us']:.0f} | {r['head_us']:.0f}"
                   f" | {r['rest_us']:.0f} | {r['products_alone_us']:.0f} | {r['sampling_us']:.0f}"
                   f" | {n * one['step_us'] / r['step_us']:.1f}x"
                   f" | {n * one['step_us'] / _floor_us(r):.1f}x"
                   f" | {rate:.0f} | {rate / peak_gflops:.0%} |")
    return "\n".join(out)


def products_gflops(r: dict) -> float:
    """The weight products' arithmetic rate: 2 operations per weight and row."""
    return 2 * r["weights"] * r["rows"] / (r["products_alone_us"] * 1e-6) / 1e9


def _floor_us(r: dict) -> float:
    return r["products_alone_us"] + r["sampling_us"]


def main(argv: list[str] | None = None) -> None:
    from ..models import VARIANTS
    from ..threads import pinned
    from .generation_speed import bundle_for, selected_designs

    p = argparse.ArgumentParser(prog="cnngru bench --breakdown", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--breakdown", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--models", nargs="+", default=[*VARIANTS, *selected_designs()],
                   help="names, folders or variant:design (as cnngru bench)")
    p.add_argument("--write", action="store_true", help=f"write results/{RESULT} and the "
                   "README's benchmark block")
    args = p.parse_args(argv)
    with pinned(1):
        bundles = [bundle_for(name) for name in args.models]
        alone = [breakdown(b) for b in bundles]
        batched = [breakdown(b, rows=ROWS) for b in bundles]
        peak = core_peak_gflops()
    md = table(alone) + "\n\n" + batched_table(batched, alone, peak)
    print(md)
    if args.write:
        from ..paths import RESULTS_DIR
        from .generation_speed import write_readme_block

        (RESULTS_DIR / RESULT).write_text(md + "\n")
        write_readme_block()
