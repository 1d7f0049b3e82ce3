"""ZeroGPU: what may hold the GPU there, and what must not.

On a ZeroGPU Space a GPU is lent only to calls of functions wrapped in ``spaces.GPU``, and each
such call runs in a worker process forked from the server (``spaces/zero/wrappers.py``): its
arguments and result are pickled across, and what it changes stays in the worker. So:

- Generation never asks for the GPU. Its engine (``batched_generation``) batches every visitor's
  rows, lives as long as the server and runs on the CPU there: a forked call would see a copy of
  it and batch with nobody. Alone, a character comes faster from the fused CPU step than from
  an eager step on a GPU (Benchmarks).
- A visitor's own models ("Your text") live in the server; a worker forked before they were
  trained does not hold them. They are read on the CPU.
- What may use the GPU is a pure, whole-text job on the shipped models: Score's reading
  (``read_on_lent_gpu``), with copies of them that were moved to CUDA at start.

Elsewhere (no ``spaces`` package, or ``SPACES_ZERO_GPU`` unset) nothing is wrapped.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def on_zero_gpu() -> bool:
    """Whether this is a ZeroGPU Space: ``SPACES_ZERO_GPU`` set and ``spaces`` importable."""
    if not os.environ.get("SPACES_ZERO_GPU"):
        return False
    try:
        import spaces  # noqa: F401
    except ImportError:
        return False
    return True


def spaces_gpu(fn: Callable) -> Callable:
    """``fn`` wrapped in ``spaces.GPU`` on a ZeroGPU Space, else ``fn`` itself."""
    if not on_zero_gpu():
        return fn
    import spaces

    return spaces.GPU(fn)
