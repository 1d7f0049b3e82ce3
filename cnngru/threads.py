"""Thread pools for small, latency-bound work: one character at a time is a vector times a
matrix, which one thread does fastest; more threads per step only add hand-offs (several times
slower when other work holds the cores)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

_SET_BLAS_THREADS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads")


def limit_blas_threads(n: int) -> int:
    """Set the thread count of every OpenBLAS this process has loaded (NumPy's among them),
    as threadpoolctl does; returns how many libraries took it (0 where none is found)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:  # not Linux: leave it to OPENBLAS_NUM_THREADS
        return 0
    libraries = {line.split()[-1] for line in maps.splitlines()
                 if "openblas" in line.lower() and ".so" in line}
    done = 0
    for path in sorted(libraries):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(library, name) for name in _SET_BLAS_THREADS
                       if hasattr(library, name)), None)
        if setter is not None:
            setter(n)
            done += 1
    return done


@contextmanager
def pinned(n: int = 1) -> Iterator[None]:
    """Run the block on ``n`` threads (PyTorch and BLAS), then give the defaults back."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    limit_blas_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        limit_blas_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1)))
