"""Analysed generations served by a helper process: the models' work on a second core.

A Gradio server runs every request in a thread of one process, and Python runs one thread at a
time, so a crowd's generations (the batched steps, their diagnostics, the analyses) and the
server's own work (requests, updates, figures) share one core of two. ``GenerationProcess`` moves
the first to a child process that loads the same checkpoints and runs their batching engines,
behind ``analysed_generation``'s interface:

    generations = GenerationProcess(models)  # {name: Bundle}, loaded from checkpoint folders
    with generations.stream(bundle, "ROMEO:\\n", max_new_tokens=400, seed=0) as gen:
        text = "".join(c.char for c in gen)
    analysis = gen.analysis()

The child has one thread. Between batched steps it takes requests; it steps every model that has
rows for a burst, then sends every row's new characters in one message, and at a row's end its
continuation and analysis. Rows of one model from every request share one batch, as in
``batched_generation``, and a seed writes the same text as ``cnngru.generate``. A model the child
did not load (a visitor's own) runs in this process instead.

If the child dies, every open stream ends with a clear error and the next request starts a new
child; if it cannot load the models, they all run in this process (``failed`` says why).
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import pickle
import queue
import sys
import threading
from collections.abc import Callable

from .analysed_generation import AnalysedGenerations, AnalysedStream, Streamed, engine_stats
from .batched_generation import BURST, engine_for
from .checkpoint import Bundle
from .diagnostics import Analysis
from .generation import Continuation

LOST = "the generation process stopped ({}); try again: a new one is starting"
READY_WITHIN = 120  # seconds a request waits for a starting child to load the models
ANSWER_WITHIN = 30  # seconds to wait for the child's figures


class GenerationProcess:
    """``AnalysedGenerations`` for the CPU-loaded checkpoints among ``bundles``, in a child."""

    def __init__(self, bundles: dict[str, Bundle]):
        self._served = {id(b): (name, b) for name, b in bundles.items()
                        if b.path is not None and b.device.type == "cpu"}
        self._paths = {name: str(b.path) for name, b in self._served.values()}
        self._local = AnalysedGenerations()
        self._lock = threading.Lock()  # sending, and starting a child
        self._ids = itertools.count()
        # by request: the child it went to, and where its messages go
        self._inboxes: dict[int, tuple[object, queue.SimpleQueue]] = {}
        self._conn = None
        self._process = None
        self._ready = threading.Event()  # the child has loaded the models, or failed to
        self.failed: str | None = None  # why the child could not load them: all run here
        self._start()

    def stream(self, bundle: Bundle, prompt: str = "", *,
               continue_from: Continuation | None = None, **settings) -> AnalysedStream | RemoteStream:
        """A new generation (``AnalysedGenerations.stream``'s arguments)."""
        served = self._served.get(id(bundle))
        if served is not None:
            self._ready.wait(READY_WITHIN)
        if served is None or served[1] is not bundle or self.failed:
            return self._local.stream(bundle, prompt, continue_from=continue_from, **settings)
        start_text = (continue_from.text if continue_from else "") + prompt
        inbox = queue.SimpleQueue()
        rid = self._send(lambda rid: ("start", rid, served[0], prompt, continue_from, settings),
                         inbox)
        return RemoteStream(self, rid, bundle, start_text, inbox)

    def stats(self, bundles: dict[str, Bundle]) -> dict[str, dict]:
        """``AnalysedGenerations.stats``, the served models' figures from the child."""
        served = {}
        if not self.failed:
            inbox = queue.SimpleQueue()
            self._send(lambda rid: ("stats", rid), inbox)
            try:
                served = _value(inbox.get(timeout=ANSWER_WITHIN))
            except queue.Empty:
                raise RuntimeError("the generation process did not answer within "
                                   f"{ANSWER_WITHIN} s") from None
        return {name: served[name] if name in served else engine_stats(engine_for(bundle))
                for name, bundle in bundles.items()}

    def close(self) -> None:
        """Stop the child (a daemon: it also ends with this process)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.send(("quit",))
                except OSError:
                    pass
            process, self._conn = self._process, None
        if process is not None:
            process.join(10)
            if process.is_alive():
                process.kill()

    @property
    def pid(self) -> int | None:
        """The child's process id (None before it starts)."""
        return self._process.pid if self._process is not None else None

    # internals

    def _start(self) -> None:
        """Start a child (with the lock held, or before anyone else can send)."""
        context = multiprocessing.get_context("spawn")  # no forked copy of a threaded server
        ours, theirs = context.Pipe()
        self._ready = threading.Event()
        self._process = context.Process(target=serve, args=(theirs, self._paths), daemon=True,
                                        name="cnngru-generations")
        self._process.start()
        theirs.close()
        self._conn = ours
        threading.Thread(target=self._receive, args=(ours, self._ready), daemon=True,
                         name="cnngru-generations-receiver").start()

    def _send(self, message: Callable[[int], tuple], inbox: queue.SimpleQueue) -> int:
        with self._lock:
            if self._conn is None:
                self._start()
            rid = next(self._ids)
            self._inboxes[rid] = (self._conn, inbox)
            try:
                self._conn.send(message(rid))
            except OSError as e:  # the child is gone: the receiver tells every open request
                inbox.put(("end", None, None, RuntimeError(LOST.format(e))))
            return rid

    def _tell(self, message: tuple) -> None:
        """Send ``message`` if a child runs (stop and close need nothing back)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.send(message)
                except OSError:
                    pass

    def _forget(self, rid: int) -> None:
        with self._lock:
            self._inboxes.pop(rid, None)

    def _receive(self, conn, ready: threading.Event) -> None:
        """Hand each message from the child to the request it is for (a thread of its own)."""
        reason = "it exited"
        try:
            while True:
                kind, *body = conn.recv()
                if kind == "ready":
                    ready.set()
                elif kind == "chars":
                    for rid, chars in body[0].items():
                        entry = self._inboxes.get(rid)
                        if entry is not None:
                            entry[1].put(("chars", *chars))
                elif kind in ("end", "reply"):
                    with self._lock:
                        entry = self._inboxes.pop(body[0], None)
                    if entry is not None:
                        entry[1].put((kind, *body[1:]))
                elif kind == "failed":  # from now on every model runs here
                    reason = self.failed = body[0]
                    print(f"cnngru: the generation process could not load the models ({reason});"
                          " generations run in the server's process", file=sys.stderr)
                    break
        except (EOFError, OSError) as e:
            reason = str(e) or type(e).__name__
        with self._lock:
            if self._conn is conn:
                self._conn = None  # the next request starts a new child
            # this child's requests only: after close(), a new child may already serve others
            mine = [rid for rid, (to, _) in self._inboxes.items() if to is conn]
            orphans = [self._inboxes.pop(rid)[1] for rid in mine]
        for inbox in orphans:
            inbox.put(("end", None, None, RuntimeError(LOST.format(reason))))
        ready.set()  # nobody waits for a child that is gone


class RemoteStream:
    """One generation in the child, as ``AnalysedStream``: iterate it for ``Streamed``
    characters; ``continuation`` and ``analysis()`` once it has ended or been stopped."""

    def __init__(self, owner: GenerationProcess, rid: int, bundle: Bundle, start_text: str,
                 inbox: queue.SimpleQueue):
        self._owner, self._rid, self._inbox = owner, rid, inbox
        self.bundle = bundle  # as loaded here: the child has its own copy
        self.start_text = start_text
        self._chars: list[str] = []  # arrived
        self._probabilities: list[float] = []
        self._read = 0  # of them, handed out
        self._ended = False
        self._continuation: Continuation | None = None
        self._analysis: Analysis | None = None
        self._error: BaseException | None = None
        self.chars_per_s = 0.0  # ``AnalysedStream.chars_per_s``, as of the last characters sent

    def __iter__(self) -> RemoteStream:
        return self

    def __next__(self) -> Streamed:
        while self._read == len(self._chars):
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopIteration
            self._take(self._inbox.get())
        i, self._read = self._read, self._read + 1
        return Streamed(self._chars[i], self._probabilities[i])

    @property
    def text(self) -> str:
        """The start and what has been read so far."""
        return self.start_text + "".join(self._chars[:self._read])

    def stop(self) -> None:
        if not self._ended:
            self._owner._tell(("stop", self._rid))

    def close(self) -> None:
        if not self._ended:
            self._ended = True
            self._owner._forget(self._rid)
            self._owner._tell(("close", self._rid))

    def __enter__(self) -> RemoteStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def continuation(self) -> Continuation:
        self._wait_for_end()
        return self._continuation

    def analysis(self) -> Analysis | None:
        self._wait_for_end()
        return self._analysis

    def _wait_for_end(self) -> None:
        while not self._ended:
            self._take(self._inbox.get())
        if self._error is not None:
            raise self._error
        if self._continuation is None:
            raise RuntimeError("the stream was closed before it ended")

    def _take(self, message: tuple) -> None:
        kind, *body = message
        if kind == "chars":
            self._chars.extend(body[0])
            self._probabilities.extend(body[1])
            self.chars_per_s = body[2]
        else:  # "end"
            self._continuation, self._analysis, self._error = body
            self._ended = True


def _value(message: tuple):
    kind, *body = message
    if kind == "end":  # the child went away before it answered
        raise body[2]
    return body[0]


# The child.


def serve(conn, paths: dict[str, str]) -> None:
    """The child's loop (see the module's docstring): load ``paths``, then serve until told to
    quit or the parent goes away."""
    import torch

    from .checkpoint import load
    from .threads import limit_blas_threads

    torch.set_num_threads(1)  # one core for the steps: the other is the server's
    limit_blas_threads(1)
    try:
        bundles = {name: load(path) for name, path in paths.items()}
        for bundle in bundles.values():
            bundle.fast_step  # noqa: B018 -- prepared now, not in the first request
    except Exception as e:  # noqa: BLE001 - told to the parent, which serves them itself
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    gc.collect()
    gc.freeze()  # the models live as long as the child: full collections need not walk them
    conn.send(("ready",))
    generations = AnalysedGenerations()
    runs: dict[int, AnalysedStream] = {}
    try:
        while True:
            while conn.poll(0 if runs else None):
                if not _handle(conn, conn.recv(), bundles, generations, runs):
                    return
            _advance(conn, runs)
    except (EOFError, OSError, KeyboardInterrupt):  # the parent is gone
        return


def _handle(conn, message: tuple, bundles: dict[str, Bundle], generations: AnalysedGenerations,
            runs: dict[int, AnalysedStream]) -> bool:
    """Act on one request; False: quit."""
    kind, *body = message
    if kind == "start":
        rid, name, prompt, continue_from, settings = body
        try:
            runs[rid] = generations.stream(bundles[name], prompt, continue_from=continue_from,
                                           **settings)
        except Exception as e:  # noqa: BLE001 - the request's own error, sent back to it
            conn.send(("end", rid, None, None, _portable(e)))
    elif kind == "stop" and body[0] in runs:
        runs[body[0]].stop()
    elif kind == "close" and body[0] in runs:
        runs.pop(body[0]).close()
    elif kind == "stats":
        conn.send(("reply", body[0], generations.stats(bundles)))
    elif kind == "quit":
        return False
    return True


def _advance(conn, runs: dict[int, AnalysedStream]) -> None:
    """Step every model with rows for a burst; send what each row made, and each ended row's
    continuation and analysis."""
    for engine in {run.engine for run in runs.values()}:
        try:
            engine.step(BURST)
        except Exception:  # noqa: BLE001, S110 - the rows hold the error: take_ready raises it
            pass
    made, ended = {}, []
    for rid, run in runs.items():
        try:
            chars = run.take_ready()
        except Exception as e:  # noqa: BLE001
            ended.append((rid, e))
            continue
        if chars:
            made[rid] = ("".join(c.char for c in chars), [c.probability for c in chars],
                         run.chars_per_s)
        if run.finished:
            ended.append((rid, None))
    if made:
        conn.send(("chars", made))
    for rid, error in ended:
        run = runs.pop(rid)
        if error is None:
            try:
                conn.send(("end", rid, run.continuation, run.analysis(), None))
                continue
            except Exception as e:  # noqa: BLE001
                error = e
        conn.send(("end", rid, None, None, _portable(error)))


def _portable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(error).__name__}: {error}")
