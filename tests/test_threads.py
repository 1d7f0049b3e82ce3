"""Thread pools for one-character steps: NumPy's OpenBLAS is told to use one thread."""

import ctypes
from pathlib import Path

import pytest

from cnngru.threads import limit_blas_threads


def test_numpys_blas_runs_one_thread_per_step():
    maps = Path("/proc/self/maps")
    blas = [line.split()[-1] for line in (maps.read_text() if maps.exists() else "").splitlines()
            if "openblas" in line.lower() and ".so" in line]
    if not blas:
        pytest.skip("NumPy here does not use OpenBLAS (or this is not Linux)")
    assert limit_blas_threads(1) >= 1  # NumPy's OpenBLAS was found and told
    library = ctypes.CDLL(blas[0])
    getter = next(getattr(library, n) for n in ("scipy_openblas_get_num_threads64_",
                                                "openblas_get_num_threads") if hasattr(library, n))
    assert getter() == 1
