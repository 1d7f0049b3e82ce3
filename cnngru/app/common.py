"""What the tabs share: turning failures into clear messages, the streaming cadence, and the
JSON files of numbers offered for download."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from ..checkpoint import CheckpointError
from ..vocab import UnknownCharactersError
from .validation import InputError

STREAM_INTERVAL = 0.05  # seconds between text updates: smooth to read, light on the browser
CONCURRENCY = 2  # model requests run at once: one per core here (see models.configure_threads)
# Requests that may wait; more are told the demo is busy. The costliest request (Compare, 1,000
# characters per model) takes ~2.5 s of a worker here, so a full queue clears in ~20 s.
QUEUE_SIZE = 16
TIME_LIMIT = 120  # seconds: no request holds a worker longer
SCRATCH_MAX_AGE = 15 * 60  # seconds a numbers file is kept (Gradio has copied it long before)

log = logging.getLogger("cnngru.app")
CLEAR_ERRORS = (InputError, UnknownCharactersError, CheckpointError)


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
    """True at most once per ``interval`` seconds (and on the first call): when to yield."""

    def __init__(self, interval: float = STREAM_INTERVAL):
        self.interval = interval
        self.last = None

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
