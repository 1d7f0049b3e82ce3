"""Products with float16-stored weights for the NumPy step: half the bytes per character.

A batch-1 step reads every weight once per character, so its time is the time to fetch them. A
1M-parameter model's ~3.7 MB of float32 weights exceed a core's 2 MB L2 cache and stream from L3
each step; the checkpoints are saved in float16, so every weight is a float16 number and storing
it as float16 loses nothing. ``half_product.c`` widens the weights to float32 as it reads them and
computes in float32, so the product equals NumPy's up to summation order.

The kernel is compiled here, once per machine and source, with the machine's own vector width
(``-march=native``), into a cache folder: as a Python extension where Python's headers are
installed (a call then costs ~1 us, against ~4 us through ctypes, which converts every address
from Python: 5-10 calls a batch-1 step, 20% of a hybrid's step), else as a library that ctypes
calls. Where that cannot happen (no C compiler, a CPU without
AVX and F16C, ``CNNGRU_HALF_PRODUCT=0``), or a matrix holds values float16 cannot, ``HalfMatrix.of``
returns None and the float32 product serves.

A batch's products may also share their columns among threads (``set_threads``; one by default):
built with OpenMP where the compiler has it, else without.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, partial
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("half_product.c")
PANEL = 64  # output columns per stored panel, as in half_product.c
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-fopenmp")
# "0" turns the kernel off (the float32 product serves); read once, at the first model prepared
SWITCH = "CNNGRU_HALF_PRODUCT"


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "cnngru"


def _cpu_flags() -> str:
    """The CPU's feature flags as /proc/cpuinfo lists them ("" where it cannot be read)."""
    try:
        return next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")), "")
    except OSError:
        return ""


def _machine_key(flags: tuple[str, ...]) -> str:
    """What the compiled library depends on: the source, flags and this CPU's features."""
    parts = (SOURCE.read_bytes(), " ".join(flags).encode(), platform.machine().encode(),
             _cpu_flags().encode(), sys.version.encode())
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def build(target: Path, flags: tuple[str, ...] = FLAGS) -> bool:
    """Compile the kernel into ``target``; False where no compiler is found or it fails."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        done = subprocess.run([compiler, *flags, str(SOURCE), "-o", str(built)],
                              capture_output=True, timeout=120)
        if done.returncode != 0:
            return False
        os.replace(built, target)  # atomic: another process may be compiling the same
    return True


def load(library: Path):
    """The ``half_product`` function of a library compiled with ``FLAGS``, called through ctypes:
    ``(panels_address, bias_address, n_in, n_panels, n_out, x, y, rows)``, x and y arrays."""
    shared = ctypes.CDLL(str(library))
    function = shared.half_product
    pointer, count = ctypes.c_void_p, ctypes.c_int
    # (panels, bias, n_in, n_panels, n_out, x, y, rows): addresses and sizes, see half_product.c
    function.argtypes = [pointer, pointer, count, count, count, pointer, pointer, count]
    function.restype = None

    def product(panels, bias, n_in, n_panels, n_out, x, y, rows):
        function(panels, bias, n_in, n_panels, n_out, x.ctypes.data, y.ctypes.data, rows)

    product.threads = shared.half_product_threads  # as the extension's ``threads``
    return product


def module_flags(flags: tuple[str, ...] = FLAGS) -> tuple[str, ...]:
    """``flags`` for the kernel built as a Python extension module (``load_module``)."""
    return (*flags, "-DCNNGRU_PYTHON_MODULE", f"-I{sysconfig.get_paths()['include']}")


def load_module(library: Path):
    """The ``product`` function of the kernel built as a Python extension (``module_flags``):
    the same arguments as ``load``'s, a tenth of its overhead per call."""
    spec = importlib.util.spec_from_file_location("half_product_module", library)
    if spec is None or spec.loader is None:
        raise ImportError(f"{library} is not an extension module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.product


def library_path(flags: tuple[str, ...]) -> Path:
    """Where the kernel built with ``flags`` is cached."""
    return _cache_dir() / f"half_product-{_machine_key(flags)}.so"


@cache
def kernel(flags: tuple[str, ...] = FLAGS):
    """The compiled kernel, ``load``'s signature: as a Python extension where Python's headers
    are here, else through ctypes; None where it cannot be built here."""
    if os.environ.get(SWITCH, "1") == "0" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    serial = tuple(f for f in flags if f != "-fopenmp")
    routes = [(flags, load), (serial, load)]
    if Path(sysconfig.get_paths()["include"], "Python.h").is_file():
        routes[:0] = [(module_flags(flags), load_module), (module_flags(serial), load_module)]
    try:
        for build_flags, loader in routes:
            function = _built(library_path(build_flags), build_flags, loader)
            if function is not None:
                return function
    except (OSError, RuntimeError, subprocess.SubprocessError):  # RuntimeError: no home folder
        pass
    return None


def _built(library: Path, flags: tuple[str, ...], loader):
    """``loader(library)``, building it first where it is missing, and again where the cached
    file is damaged; None where it cannot be built."""
    if not library.exists() and not build(library, flags):
        return None
    try:
        return loader(library)
    except (OSError, ImportError):  # a damaged file in the cache: build it again, once
        library.unlink(missing_ok=True)
        return loader(library) if build(library, flags) else None


def set_threads(n: int) -> int:
    """Let this process's products of a batch (8 rows or more) split their columns among ``n``
    threads; fewer rows stay on one. Returns the threads in force: 1 by default, and where the
    kernel is absent or was built without OpenMP.

    A batch's products run at the core's arithmetic peak (``cnngru bench --breakdown``), so a
    second core nearly halves them; one row's are too small to share."""
    setter = threads_setter(kernel())
    return int(setter(n)) if setter is not None else 1


@contextmanager
def batch_threads(n: int) -> Iterator[int]:
    """``set_threads(n)`` for the block (yielding the threads in force), then one again."""
    try:
        yield set_threads(n)
    finally:
        set_threads(1)


def threads_setter(function) -> Callable[[int], int] | None:
    """A built kernel's ``threads(n)``: the extension module's function, or the library's."""
    return getattr(getattr(function, "__self__", None), "threads", None) or getattr(
        function, "threads", None)


def describe() -> str:
    """Which product the NumPy step uses here, for benchmark headers."""
    if kernel() is None:
        return "float32 weights (NumPy's product: the float16 kernel is not available here)"
    width = "AVX-512" if "avx512f" in _cpu_flags().split() else "AVX2"
    route = ("a Python extension" if getattr(kernel(), "__module__", None) == "half_product_module"
             else "called through ctypes")
    return f"float16-stored weights (the compiled {width} product, {route})"


class HalfMatrix:
    """``x @ w + bias`` for a float32 matrix (in, out) whose values are all float16 numbers,
    stored as float16 panels; the bias stays float32."""

    __slots__ = ("_panels", "_bias", "n_in", "columns", "_call")

    def __init__(self, panels: np.ndarray, bias: np.ndarray, columns: int, function=None):
        # The kernel is bound to the arrays' addresses: they are kept here, and never replaced.
        self._panels = panels  # (n_panels, n_in, PANEL) float16, columns padded with zeros
        self._bias = bias  # (n_panels * PANEL,) float32
        n_panels, self.n_in, _ = panels.shape
        self.columns = columns  # the matrix's own output columns
        self._call = partial(function or kernel(), panels.ctypes.data, bias.ctypes.data,
                             self.n_in, n_panels, columns)  # (x, y, rows) -> y filled

    @property
    def nbytes(self) -> int:
        """The bytes a product reads: the stored weights."""
        return self._panels.nbytes

    @classmethod
    def of(cls, w: np.ndarray, bias: np.ndarray | None = None, function=None
           ) -> HalfMatrix | None:
        """The float16 form of ``w``, or None if it would change a value or no kernel is here.
        ``function``: another build of the kernel (tests build more than one)."""
        if (function or kernel()) is None or w.size == 0:
            return None
        with np.errstate(over="ignore"):  # a value beyond float16's range fails the test below
            half = w.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), w):
            return None
        n_in, columns = w.shape
        padded = -(-columns // PANEL) * PANEL
        stored = np.zeros((n_in, padded), np.float16)
        stored[:, :columns] = half
        panels = np.ascontiguousarray(stored.reshape(n_in, -1, PANEL).transpose(1, 0, 2))
        full_bias = np.zeros(padded, np.float32)
        if bias is not None:
            full_bias[:columns] = bias
        return cls(panels, full_bias, columns, function)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Rows x (B, in) -> (B, out), float32."""
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"expected rows of {self.n_in} values, got shape {x.shape}")
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float32)
        y = np.empty((len(x), self.columns), np.float32)
        self._call(x, y, len(x))
        return y
