"""Training jobs for the "Your text" tab: one at a time, each in its own process, in a line.

A job is ``cnngru.evaluation.study_worker`` run as a subprocess with one PyTorch thread, so on a
2-core machine generation for every other visitor keeps a core. It has a hard time limit,
``HARD_LIMIT_FACTOR`` x the budget + ``HARD_LIMIT_MARGIN`` seconds (the plan's throughput
measurement, start-up and the final evaluation fit in the margin; GPL-3 at 1 min per strategy took
205 s in all, under 4 x 60 + 60 = 300); past it the process group is killed (SIGKILL).

Jobs wait in a first-in, first-out line; a waiting job knows its place. Cancel asks a running
job to stop after the round of slices under way (the four strategies then stand at the same
point, and the table is written from what was trained) or takes a waiting job out of the line.
A job whose process dies (killed, out of memory, limit reached) keeps the best checkpoint that
each strategy had saved so far (``survivors`` finds them) if all four had saved one: a session's
models are always the four strategies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import VARIANTS
from ..evaluation.study_worker import STOP, TABLE, TEXT
from ..evaluation.text_study import SLICES

HARD_LIMIT_FACTOR = 4  # x the budget per strategy (four strategies train in turns)
HARD_LIMIT_MARGIN = 60  # seconds: start-up, measuring throughput once, the final evaluation
# After Cancel a job finishes its round of slices (four slices, a twelfth of the budget each)
# and writes its table; it is killed if that takes twice as long as a round should, plus this.
CANCEL_GRACE = 30  # seconds

WAITING, RUNNING, DONE, CANCELLED, FAILED = "waiting", "running", "done", "cancelled", "failed"
ENDED = (DONE, CANCELLED, FAILED)


def hard_limit(seconds: float) -> float:
    """Seconds a job of ``seconds`` per strategy may run before it is killed."""
    return HARD_LIMIT_FACTOR * seconds + HARD_LIMIT_MARGIN


def cancel_grace(seconds: float) -> float:
    """Seconds a cancelled job of ``seconds`` per strategy may take to stop (see CANCEL_GRACE)."""
    return 2 * len(VARIANTS) * seconds / SLICES + CANCEL_GRACE


@dataclass
class Job:
    """One visitor's training: what it trains, where, and how far it has got."""

    owner: str  # the session that asked for it
    folder: Path  # text.txt in, checkpoints and table.json out
    seconds: float  # budget per strategy
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = WAITING
    plan: dict | None = None  # the worker's plan (params, chars, steps, ...)
    progress: list[dict] = field(default_factory=list)  # one per slice trained
    table: dict | None = None
    message: str = ""  # what happened, for the page (why it failed, what survived)
    started: float | None = None  # time.monotonic() when its process started
    ended: float | None = None
    cancel_requested: bool = False
    cancelled_at: float | None = None  # when the line first saw the request
    pid: int | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def limit(self) -> float:
        return hard_limit(self.seconds)

    def fraction(self) -> float:
        """How much of the training is done, 0 to 1 (evaluation not counted)."""
        if not self.plan or not self.progress:
            return 0.0
        latest = {p["strategy"]: p["step"] for p in self.progress}
        return min(1.0, sum(latest.values()) / (len(VARIANTS) * self.plan["steps"]))

    def remaining_s(self) -> float | None:
        """Seconds of training left, from the pace so far (None before the first slice)."""
        f = self.fraction()
        if not self.progress or f <= 0:
            return None
        elapsed = self.progress[-1]["elapsed_s"]
        return max(0.0, elapsed * (1 - f) / f)


class TrainingLine:
    """Runs jobs one at a time, in order of arrival, each in its own process.

    ``on_end(job)`` runs in the line's thread when a job has ended (whatever the outcome), before
    anyone waiting on ``job.done`` is woken: the app loads the job's models there, so they are in
    place even if the page that asked for them has gone.
    """

    def __init__(self, rates_file: Path, on_end: Callable[[Job], None] | None = None,
                 python: str = sys.executable):
        self.rates_file = Path(rates_file)
        self.on_end = on_end
        self.python = python
        self._waiting: deque[Job] = deque()
        self._running: Job | None = None
        self._lock = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name="training-line", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Job:
        with self._lock:
            self._waiting.append(job)
            self._lock.notify_all()
        return job

    def place(self, job: Job) -> int:
        """0 while running or ended; else 1 + the jobs ahead of it (the running one included)."""
        with self._lock:
            if job not in self._waiting:
                return 0
            return list(self._waiting).index(job) + 1 + (self._running is not None)

    @property
    def running(self) -> Job | None:
        return self._running

    def jobs_of(self, owner: str) -> list[Job]:
        with self._lock:
            jobs = [*self._waiting, *([self._running] if self._running else [])]
        return [j for j in jobs if j.owner == owner]

    def cancel(self, job: Job) -> None:
        """Take a waiting job out of the line, or ask a running one to stop after its round."""
        with self._lock:
            job.cancel_requested = True
            if job in self._waiting:
                self._waiting.remove(job)
                job.state, job.message = CANCELLED, "Cancelled before it started."
                self._end(job)
                return
        if job.state == RUNNING:
            (job.folder / STOP).touch()

    def kill(self, job: Job) -> None:
        """Kill a running job's process group now (what the hard limit does)."""
        if job.pid is not None and job.state == RUNNING:
            try:
                os.killpg(job.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                job = self._running = self._waiting.popleft()
            try:
                self._run(job)
            except Exception as e:  # the line must go on whatever one job does
                job.state, job.message = FAILED, f"The job failed to run ({type(e).__name__}: {e})."
            finally:
                with self._lock:
                    self._running = None
                self._end(job)

    def _end(self, job: Job) -> None:
        job.ended = time.monotonic()
        if self.on_end:
            try:
                self.on_end(job)
            except Exception as e:
                job.message += f" Its models could not be loaded ({type(e).__name__}: {e})."
        job.done.set()

    def _run(self, job: Job) -> None:
        job.state, job.started = RUNNING, time.monotonic()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "CNNGRU_APP_PID": str(os.getpid())}
        command = [self.python, "-m", "cnngru.evaluation.study_worker", str(job.folder),
                   str(job.seconds), "--rates", str(self.rates_file)]
        log = open(job.folder / "worker.log", "w")  # noqa: SIM115 -- closed below
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                                start_new_session=True)  # its own group: a kill takes it all
        job.pid = proc.pid
        reader = threading.Thread(target=self._read, args=(job, proc), daemon=True)
        reader.start()
        deadline, grace = job.started + job.limit, cancel_grace(job.seconds)
        killed_for = None
        while proc.poll() is None:
            now = time.monotonic()
            if now > deadline:
                killed_for = f"it reached its hard time limit of {job.limit:.0f} s"
            elif job.cancel_requested and now > (job.cancelled_at or now) + grace:
                killed_for = f"it did not stop within {grace:.0f} s of Cancel"
            if killed_for:
                self.kill(job)
            if job.cancel_requested and job.cancelled_at is None:
                job.cancelled_at = now
            time.sleep(0.1)
        reader.join(5)
        log.close()
        self._outcome(job, proc.returncode, killed_for)

    def _read(self, job: Job, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.pop("event", None)
            if kind == "plan":
                job.plan = event
            elif kind == "progress":
                job.progress.append(event)
            elif kind == "error":
                job.message = event.get("message", "")

    def _outcome(self, job: Job, returncode: int, killed_for: str | None) -> None:
        table_file = job.folder / TABLE
        if returncode == 0 and table_file.is_file():
            job.table = json.loads(table_file.read_text())
            job.table["job_s"] = round(time.monotonic() - job.started, 1)  # process start to end
            job.state = CANCELLED if job.table.get("stopped") else DONE
            job.message = ("Cancelled: the four strategies were stopped at the same point and "
                           "evaluated as they were." if job.state == CANCELLED else "Trained.")
            shutil.rmtree(job.folder / "runs", ignore_errors=True)  # resume files: not needed
            return
        job.state = FAILED
        if job.message and returncode == 2:  # the worker refused the text: its own words
            return
        if killed_for:
            why = f"The training process was killed: {killed_for}."
        elif returncode is not None and returncode < 0:
            why = (f"The training process was killed ({signal.Signals(-returncode).name}), "
                   "perhaps for lack of memory.")
        else:
            why = f"The training process failed (exit status {returncode}); see worker.log."
        kept = survivors(job.folder)
        if len(kept) == len(VARIANTS):
            why += (f" The models trained so far were kept: {', '.join(kept)} (each its best "
                    "checkpoint); there is no table, as not every strategy was evaluated.")
        elif kept:
            why += (f" Only {', '.join(kept)} had saved a checkpoint, and a set needs all four "
                    "strategies, so none was kept.")
        else:
            why += " No model had been saved yet, so nothing could be kept."
        job.message = why


def survivors(folder: Path) -> list[str]:
    """The strategies whose best checkpoint so far is on disk, shipped as ``folder/<variant>``."""
    from ..checkpoint import META
    from ..training import ship

    kept = []
    for v in VARIANTS:
        run = folder / "runs" / v
        if (run / "best" / META).is_file():
            if not (folder / v / META).is_file():
                ship(run, folder / v)
            kept.append(v)
    return kept


def new_job(owner: str, text: str, seconds: float, root: Path) -> Job:
    """A job for ``owner``, its text written into a fresh folder under ``root``."""
    folder = Path(root) / f"job-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    (folder / TEXT).write_text(text, encoding="utf-8")
    return Job(owner, folder, seconds)
