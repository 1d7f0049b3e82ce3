"""The step breakdown counts the weights a step really multiplies."""

from cnngru import load
from cnngru.bench.step_breakdown import batched_table, breakdown, core_peak_gflops, table
from cnngru.models.half_product import kernel
from cnngru.models.numpy_step import weight_products


def test_the_gru_step_reads_its_recurrent_weights_and_head():
    bundle = load("gru")
    h = bundle.model.config.hidden
    sizes = sorted(p.w.size for p in weight_products(bundle.fast_step.stepper))
    assert sizes == sorted([h * 3 * h, h * len(bundle.vocab.chars)])  # input: a table lookup


def test_every_variant_reads_about_its_parameters_minus_its_tables():
    for name in ("cnn-pre", "cnn-post", "hybrid"):
        bundle = load(name)
        params = sum(p.numel() for p in bundle.model.parameters())
        floats = sum(p.w.size for p in weight_products(bundle.fast_step.stepper))
        assert 0.5 * params < floats <= params, name


def test_breakdown_row_and_table():
    row = breakdown(load("hybrid"), loops=2, calls=5)
    assert row["step_us"] > 0 and row["products_alone_us"] > 0
    # the shipped weights are float16 numbers: stored as float16 where the kernel builds here
    assert 1.5 < row["weight_mb"] < 2.3 if kernel() is not None else 3 < row["weight_mb"] < 4.5
    assert "| hybrid |" in table([row])


def test_a_batched_breakdown_does_a_rows_arithmetic_per_row_and_bounds_the_gain():
    bundle = load("gru")
    one = breakdown(bundle, loops=2, calls=5)
    many = breakdown(bundle, loops=2, calls=5, rows=16)
    assert many["rows"] == 16 and many["weight_mb"] == one["weight_mb"]  # each weight read once
    assert many["products_alone_us"] > one["products_alone_us"]  # but multiplied by 16 rows
    md = batched_table([many], [one], peak_gflops=100.0)
    ceiling = 16 * one["step_us"] / (many["products_alone_us"] + many["sampling_us"])
    rate = 2 * many["weights"] * 16 / (many["products_alone_us"] * 1e-6) / 1e9
    assert f"| {ceiling:.1f}x | {rate:.0f} | {rate / 100:.0%} |" in md and "| gru |" in md
    assert many["weights"] == sum(p.w.size for p in weight_products(bundle.fast_step.stepper))


def test_the_core_peak_is_a_large_product_s_rate():
    peak = core_peak_gflops(size=256, loops=2)
    assert 1 < peak < 10_000  # GFLOP/s: a CPU core, not a stalled or impossible figure
