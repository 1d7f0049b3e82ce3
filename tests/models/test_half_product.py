"""The float16-stored product equals the float32 one, is used where it can be, and steps aside
where it cannot."""

import os
import platform
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import cnngru
from cnngru.models import half_product
from cnngru.models.half_product import HalfMatrix, kernel
from cnngru.models.numpy_step import FastStep, weight_products


def float16_valued(rng, shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float16).astype(np.float32)


def cpu_flags() -> set[str]:
    try:
        return set(next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                        if line.startswith("flags")).split())
    except (OSError, StopIteration):
        return set()


def test_the_kernel_builds_on_a_machine_that_can_run_it():
    """Where a C compiler and an AVX + F16C x86 CPU are present (CI's machine), the fast path is
    really taken, not silently replaced by the float32 product."""
    if platform.machine() != "x86_64" or not {"avx", "f16c"} <= cpu_flags() or not (
            shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no x86 compiler and CPU for the kernel here")
    if os.environ.get(half_product.SWITCH) == "0":
        pytest.skip(f"{half_product.SWITCH}=0 turns the kernel off")
    assert kernel() is not None


def test_the_step_really_calls_it(monkeypatch):
    """Every product of a shipped model's step goes through the float16 kernel at a few rows."""
    if kernel() is None:
        pytest.skip("the kernel cannot be built here")
    calls = []
    real = HalfMatrix.__call__
    monkeypatch.setattr(HalfMatrix, "__call__", lambda self, x: calls.append(self) or real(self, x))
    stepper = cnngru.load("hybrid", device="cpu").fast_step.stepper
    _, state, _ = stepper.step(np.array([3, 4, 5]))
    calls.clear()
    stepper.step(np.array([6, 7, 8]), state)
    assert {id(m) for m in calls} == {id(p.half) for p in weight_products(stepper)}


needs_kernel = pytest.mark.skipif(kernel() is None, reason="the kernel cannot be built here")


@needs_kernel
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 8, 17])
@pytest.mark.parametrize("n_in, n_out", [(1, 1), (7, 63), (64, 64), (531, 1593), (300, 65)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_it_equals_the_float32_product(rows, n_in, n_out, with_bias):
    rng = np.random.default_rng(rows * 1000 + n_out)
    w = float16_valued(rng, (n_in, n_out))
    bias = rng.standard_normal(n_out).astype(np.float32) if with_bias else None
    x = rng.standard_normal((rows, n_in)).astype(np.float32)
    expected = x.astype(np.float64) @ w.astype(np.float64) + (0 if bias is None else bias)
    got = HalfMatrix.of(w, bias)(x)
    assert got.shape == (rows, n_out) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.sqrt(n_in))


@pytest.mark.parametrize("vectors", ["-mno-avx512f", ""], ids=["avx2", "native"])
def test_each_vector_width_builds_and_equals_the_float32_product(tmp_path, vectors):
    """The AVX2 branch of half_product.c is compiled and checked even on an AVX-512 machine."""
    if platform.machine() != "x86_64" or "f16c" not in cpu_flags() or not (
            shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no x86 compiler and F16C CPU here")
    flags = (*half_product.FLAGS, vectors) if vectors else half_product.FLAGS
    assert half_product.build(tmp_path / "kernel.so", flags)
    function = half_product.load(tmp_path / "kernel.so")
    rng = np.random.default_rng(3)
    for rows, n_in, n_out in [(1, 531, 1593), (3, 40, 65), (6, 7, 130)]:
        w, bias = float16_valued(rng, (n_in, n_out)), rng.standard_normal(n_out).astype(np.float32)
        x = rng.standard_normal((rows, n_in)).astype(np.float32)
        np.testing.assert_allclose(HalfMatrix.of(w, bias, function)(x), x @ w + bias,
                                   rtol=1e-5, atol=1e-4)


def test_rows_of_the_wrong_width_are_refused():
    if kernel() is None:
        pytest.skip("the kernel cannot be built here")
    matrix = HalfMatrix.of(np.ones((8, 3), np.float32))
    with pytest.raises(ValueError, match="rows of 8 values"):
        matrix(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="rows of 8 values"):
        matrix(np.ones(8, np.float32))


@needs_kernel
def test_a_row_view_with_strides_is_read_correctly():
    rng = np.random.default_rng(1)
    w = float16_valued(rng, (40, 70))
    h = rng.standard_normal((3, 2, 40)).astype(np.float32)  # a two-layer GRU state: (B, layers, H)
    np.testing.assert_allclose(HalfMatrix.of(w)(h[:, 1]), h[:, 1] @ w, rtol=1e-5, atol=1e-5)


def test_a_matrix_float16_cannot_hold_keeps_float32():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((8, 8)).astype(np.float32)  # float32 values: rounding would change them
    assert HalfMatrix.of(w) is None
    assert HalfMatrix.of(np.full((4, 4), 1e5, np.float32)) is None  # an integer beyond its range


@needs_kernel
@pytest.mark.parametrize("name", cnngru.VARIANTS)
def test_the_shipped_checkpoints_take_the_float16_products(name):
    stepper = cnngru.load(name, device="cpu").fast_step.stepper
    products = weight_products(stepper)
    assert products and all(p.half is not None for p in products)


def test_switched_off_the_step_is_still_exact(monkeypatch):
    """CNNGRU_HALF_PRODUCT=0 (or no compiler) leaves the float32 products, still equal to forward."""
    monkeypatch.setenv(half_product.SWITCH, "0")
    kernel.cache_clear()
    try:
        assert kernel() is None
        bundle = cnngru.load("hybrid", device="cpu")
        stepper = FastStep(bundle.model)
        assert all(p.half is None for p in weight_products(stepper.stepper))
        ids = bundle.vocab.encode_tensor("ROMEO.\nBut soft, what light")[None]
        with torch.no_grad():
            full = bundle.model(ids).logits[0].numpy()
        state = None
        for t in range(ids.shape[1]):
            logits, state, _ = stepper.step(ids[:, t].numpy(), state)
            np.testing.assert_allclose(logits[0], full[t], atol=2e-5, rtol=1e-4)
    finally:
        kernel.cache_clear()


def test_benchmarks_say_which_product_ran(monkeypatch):
    assert ("float16" in half_product.describe()) == (kernel() is not None)
    monkeypatch.setenv(half_product.SWITCH, "0")
    kernel.cache_clear()
    try:
        assert half_product.describe().startswith("float32 weights")
    finally:
        kernel.cache_clear()


def test_a_damaged_library_in_the_cache_is_built_again(monkeypatch, tmp_path):
    if platform.machine() != "x86_64" or "f16c" not in cpu_flags() or not (
            shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no x86 compiler and F16C CPU here")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(half_product.SWITCH, raising=False)
    kernel.cache_clear()
    library = half_product.library_path(half_product.module_flags())  # the build tried first
    library.parent.mkdir(parents=True)
    library.write_bytes(b"not a library")  # e.g. a disk that filled up mid-write
    try:
        assert kernel() is not None
        w = float16_valued(np.random.default_rng(5), (9, 70))
        np.testing.assert_allclose(HalfMatrix.of(w)(np.ones((1, 9), np.float32)),
                                   np.ones((1, 9)) @ w, rtol=1e-5, atol=1e-5)
    finally:
        kernel.cache_clear()


def test_the_python_extension_and_the_ctypes_build_agree(tmp_path):
    """Both routes to the kernel give the same products (bit for bit: one kernel), and the
    extension refuses buffers too small for the rows it is told of."""
    if platform.machine() != "x86_64" or "f16c" not in cpu_flags() or not (
            shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no x86 compiler and F16C CPU here")
    import sysconfig

    if not Path(sysconfig.get_paths()["include"], "Python.h").is_file():
        pytest.skip("no Python headers here: the ctypes build serves")
    assert half_product.build(tmp_path / "ext.so", half_product.module_flags())
    extension = half_product.load_module(tmp_path / "ext.so")
    assert half_product.build(tmp_path / "lib.so")
    through_ctypes = half_product.load(tmp_path / "lib.so")
    rng = np.random.default_rng(4)
    w, bias = float16_valued(rng, (70, 130)), rng.standard_normal(130).astype(np.float32)
    x = rng.standard_normal((5, 70)).astype(np.float32)
    a, b = HalfMatrix.of(w, bias, extension), HalfMatrix.of(w, bias, through_ctypes)
    assert np.array_equal(a(x), b(x))
    assert through_ctypes.threads(2) == extension.__self__.threads(2) == 2  # built with OpenMP
    x = rng.standard_normal((9, 70)).astype(np.float32)  # a batch the threads share
    assert np.array_equal(a(x), b(x))
    np.testing.assert_allclose(b(x), x @ w + bias, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(a(x), x @ w + bias, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="fewer than rows"):
        a._call(x[:2], np.empty((5, 130), np.float32), 5)


def test_the_extension_is_what_the_step_uses_where_python_headers_are():
    if kernel() is None:
        pytest.skip("the kernel cannot be built here")
    import sysconfig

    has_headers = Path(sysconfig.get_paths()["include"], "Python.h").is_file()
    assert (getattr(kernel(), "__module__", None) == "half_product_module") == has_headers


@needs_kernel
def test_a_batch_shared_among_threads_gives_the_same_bits():
    """Each output panel is computed whole by one thread, so sharing panels changes nothing;
    rows below the batch threshold stay on one thread."""
    rng = np.random.default_rng(5)
    w, bias = float16_valued(rng, (300, 1593)), rng.standard_normal(1593).astype(np.float32)
    matrix = HalfMatrix.of(w, bias)
    xs = [rng.standard_normal((rows, 300)).astype(np.float32) for rows in (1, 7, 8, 17, 30)]
    alone = [matrix(x) for x in xs]
    try:
        assert half_product.set_threads(2) == (2 if shutil.which("gcc") else 1)
        assert all(np.array_equal(matrix(x), y) for x, y in zip(xs, alone, strict=True))
    finally:
        assert half_product.set_threads(1) == 1


def test_threads_are_one_where_the_kernel_is_absent(monkeypatch):
    monkeypatch.setattr(half_product, "kernel", lambda: None)
    assert half_product.set_threads(4) == 1


def test_a_compiler_without_openmp_still_builds_the_kernel_on_one_thread(tmp_path, monkeypatch):
    if platform.machine() != "x86_64" or not {"avx", "f16c"} <= cpu_flags() or not shutil.which(
            "gcc"):
        pytest.skip("no x86 gcc and CPU for the kernel here")
    compiler = tmp_path / "cc-without-openmp"
    compiler.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = "-fopenmp" ] && exit 1; done\n'
                        'exec gcc "$@"\n')
    compiler.chmod(0o755)
    monkeypatch.setenv("CC", str(compiler))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    function = half_product.kernel.__wrapped__()  # built afresh, not the cached one
    assert function is not None
    assert half_product.threads_setter(function)(2) == 1
    w = float16_valued(np.random.default_rng(6), (40, 130))
    x = np.ones((9, 40), np.float32)
    np.testing.assert_allclose(HalfMatrix.of(w, None, function)(x), x @ w, rtol=1e-5, atol=1e-4)
