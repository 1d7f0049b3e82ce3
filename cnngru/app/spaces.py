"""``spaces.GPU`` when the Hugging Face ``spaces`` package is there, a no-op otherwise.

On a ZeroGPU Space a GPU is lent only to calls of functions decorated with ``spaces.GPU``; on any
other machine the package is absent and the functions run as they are.
"""

from __future__ import annotations

from collections.abc import Callable


def spaces_gpu(fn: Callable) -> Callable:
    """``fn`` decorated with ``spaces.GPU`` if the package imports, else ``fn`` itself.

    ``spaces.GPU`` keeps a generator a generator, so streaming handlers stay streaming.
    """
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(fn)
