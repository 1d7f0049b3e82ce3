"""What the tabs share: how their events are wired, updates that leave some outputs as they are,
turning failures into clear messages, the streaming cadence, and the JSON files of numbers
offered for download."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TypeVar

import gradio as gr

from ..checkpoint import CheckpointError
from ..vocab import UnknownCharactersError
from .validation import InputError

STREAM_INTERVAL = 0.05  # seconds between text updates: smooth to read, light on the browser
# Streamed updates the server sends per second, all visitors together: each costs the server's
# one event loop a few milliseconds, so 30 streams at 20 updates/s each would saturate it (a
# 30-visitor load took 74 s instead of 10). Past this, each stream's interval stretches.
UPDATES_PER_SECOND = 20
CONCURRENCY = 2  # model requests run at once: one per core here (see loaded_models.configure_threads)
# Generations run at once. They share one batched step per model (batched_generation.py), so
# many cost little more than a few; each still holds a server thread while it streams.
GENERATIONS = 32
# Requests that may wait, each shown its place in line; more are told the demo is busy. Sized for
# a crowd: 256 Generate requests of 400 characters (~0.5 s of a worker each here) clear in about a
# minute. No event has a validator (validation.py): Gradio would not enforce this bound for it.
QUEUE_SIZE = 256
TIME_LIMIT = 120  # seconds: no request holds a worker longer
FILE_READERS = 4  # Results requests read small files: a few at once, beside the model requests
SCRATCH_MAX_AGE = 15 * 60  # seconds a numbers file is kept (Gradio has copied it long before)

log = logging.getLogger("cnngru.app")
CLEAR_ERRORS = (InputError, UnknownCharactersError, CheckpointError)
WORKERS = {  # who runs a public endpoint's requests
    "models": dict(concurrency_id="models", concurrency_limit=CONCURRENCY, time_limit=TIME_LIMIT),
    "generations": dict(concurrency_id="generations", concurrency_limit=GENERATIONS,
                        time_limit=TIME_LIMIT),
    "files": dict(concurrency_id="files", concurrency_limit=FILE_READERS),
    # "Your text" jobs: the request only watches its job, which runs in the training line's own
    # process (training_jobs.py), one at a time, killed at its own hard limit
    "training": dict(concurrency_id="training", concurrency_limit=64, time_limit=None),
}
Outputs = TypeVar("Outputs", bound=NamedTuple)


def wire(trigger: Callable, fn: Callable, inputs=None, outputs=None, *,
         api_name: str | None = None, workers: str = "models"):
    """Run ``fn`` on ``trigger`` (``button.click``, ``dropdown.change``, ... or ``gr.api``, which
    takes no inputs or outputs) with the settings every tab shares:

    - with ``api_name``: a public endpoint, queued. ``workers="models"``: the requests share
      ``CONCURRENCY`` workers with every other model request, each cut off after ``TIME_LIMIT``
      seconds; ``"generations"``: up to ``GENERATIONS`` streams at once, batched by the engine;
      ``"files"``: up to ``FILE_READERS`` at once.
    - without: a private update of the page (a Stop button, a redraw, clearing the outputs
      before a request joins the queue), answered at once, outside the queue, with no progress
      shown over its outputs.

    Values reach ``fn`` as sent (no preprocessing), so our own checks name what is wrong.
    Returns the event (its ``.then`` chains another), None for ``gr.api``.
    """
    if api_name is None:
        settings = dict(api_visibility="private", queue=False, show_progress="hidden")
    else:
        settings = dict(api_name=api_name, **WORKERS[workers])
    if trigger is gr.api:
        gr.api(fn, **settings)  # never preprocesses
        return None
    return trigger(fn, inputs, outputs, preprocess=False, **settings)


def skipping(outputs: type[Outputs], **values) -> Outputs:
    """An ``outputs`` tuple with ``values`` set by name and every other field ``gr.skip()``:
    those components stay as they are."""
    return outputs(**({name: gr.skip() for name in outputs._fields} | values))


def _to_gradio_error(e: Exception) -> gr.Error:
    if isinstance(e, CLEAR_ERRORS):
        return gr.Error(str(e), title="Please check the input", print_exception=False)
    log.exception("request failed")
    return gr.Error(f"The demo failed on this request ({type(e).__name__}: {e}). "
                    "Please try other settings; the error has been logged.", title="Server error")


def with_clear_errors(fn: Callable) -> Callable:
    """Raise every failure of ``fn`` as a ``gr.Error`` that says what went wrong, so no user or
    API client ever sees Gradio's generic "the upstream app has raised an exception"."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as e:
                raise _to_gradio_error(e) from e
        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:
            raise _to_gradio_error(e) from e
    return call


class Throttle:
    """True at most once per interval (and on the first call): when a stream yields an update.

    The interval is ``STREAM_INTERVAL``, stretched so that all open throttles together stay
    within ``UPDATES_PER_SECOND``. Use it as a context manager: it counts as open inside.
    """

    _open = 0
    _lock = threading.Lock()

    def __init__(self, interval: float = STREAM_INTERVAL):
        self.base = interval
        self.last = None

    def __enter__(self) -> Throttle:
        with Throttle._lock:
            Throttle._open += 1
        return self

    def __exit__(self, *exc) -> None:
        with Throttle._lock:
            Throttle._open -= 1

    @property
    def interval(self) -> float:
        return max(self.base, Throttle._open / UPDATES_PER_SECOND)

    def ready(self) -> bool:
        now = time.perf_counter()
        if self.last is None or now - self.last >= self.interval:
            self.last = now
            return True
        return False


class NumbersFiles:
    """Writes the JSON files behind the figures into one scratch folder and prunes old ones."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="cnngru-numbers-"))
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, data: dict) -> str:
        self.prune()
        path = self.folder / f"{name}-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, allow_nan=False), encoding="utf-8")
        return str(path)

    def prune(self) -> None:
        cutoff = time.time() - SCRATCH_MAX_AGE
        for old in self.folder.glob("*.json"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except FileNotFoundError:  # another request pruned it first
                pass
