"""Many texts' analyses in one batched forward: the figures of a crowd of generations.

A text that was not generated here (the Score tab's, a stopped comparison's, a generation with
no prompt) is analysed by ``diagnostics.analyse``: a forward over its whole text, and a second
one without the CNN where the trace cannot stand in for it (``log_probs_without_cnn``); a
generation with a prompt is analysed from its own steps instead (``analysed_generation``). One
at a time, 30 visitors' analyses are 30 forwards at batch 1;
a forward over 30 texts together costs a few times one, because each step's products read the
weights once for all rows. So requests that wait at the same time share one forward: whichever
waits first runs the next batch for everyone waiting (no extra thread), and each gets the
``Analysis`` that ``analyse`` gives it alone, up to the rounding of a batched product (~1e-6).

    analysis = analyser_for(bundle).analyse(text)
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import torch

from .checkpoint import Bundle
from .diagnostics import Analysis, analysis_of, encode, log_probs, log_probs_with_cnn_off

MAX_ROWS = 32  # texts in one forward: bounded memory (rows x length x vocabulary, float64)


@dataclass
class _Job:
    ids: torch.Tensor
    influence: bool
    result: Analysis | None = None
    error: BaseException | None = None
    done: bool = False


class Analyser:
    """Batches the analyses of one loaded model; thread-safe, one per model instance."""

    def __init__(self, bundle: Bundle, max_rows: int = MAX_ROWS):
        self._bundle = weakref.ref(bundle)  # the registry below must not keep the model alive
        self.max_rows = max_rows
        self._pending: list[_Job] = []
        self._running = False
        self._changed = threading.Condition()
        self.forwards = 0  # batches run, and the texts they held (the tests' check of sharing)
        self.texts = 0

    @property
    def bundle(self) -> Bundle:
        return self._bundle()

    def analyse(self, text: str, influence: bool = True, unknown: str = "error") -> Analysis:
        """``diagnostics.analyse(bundle, text, influence, unknown)``, sharing a forward with the
        texts that wait at the same time."""
        job = _Job(encode(self.bundle, text, unknown), influence)  # bad text: raised here
        with self._changed:
            self._pending.append(job)
            while not job.done:
                if self._running:
                    self._changed.wait()
                    continue
                batch, self._pending = (self._pending[:self.max_rows],
                                        self._pending[self.max_rows:])
                self._running = True
                self._changed.release()
                try:
                    self._run(batch)
                finally:
                    self._changed.acquire()
                    self._running = False
                    self._changed.notify_all()
        if job.error is not None:
            raise job.error
        return job.result

    @torch.inference_mode()
    def _run(self, batch: list[_Job]) -> None:
        try:
            texts = [job.ids for job in batch]
            logp, trace = log_probs(self.bundle, texts, cnn_off=False)
            wanted = [b for b, job in enumerate(batch)
                      if job.influence and self.bundle.variant != "gru"]
            logq = {}
            if wanted:
                without = log_probs_with_cnn_off(self.bundle, [texts[b] for b in wanted],
                                                 {k: v[wanted] for k, v in trace.items()})
                logq = dict(zip(wanted, without, strict=True))
            for b, job in enumerate(batch):
                job.result = analysis_of(self.bundle, job.ids, logp[b],
                                         {k: v[b] for k, v in trace.items()}, logq.get(b))
        except Exception as e:  # every waiter hears of it, none waits forever
            for job in batch:
                job.error = e
        finally:
            self.forwards += 1
            self.texts += len(batch)
            for job in batch:
                job.done = True


_ANALYSERS: dict[int, Analyser] = {}  # id(bundle) -> its analyser, dropped with the bundle
_ANALYSERS_LOCK = threading.Lock()


def analyser_for(bundle: Bundle) -> Analyser:
    """The process's one analyser of this loaded model (by instance, like ``engine_for``)."""
    with _ANALYSERS_LOCK:
        analyser = _ANALYSERS.get(id(bundle))
        if analyser is None or analyser.bundle is not bundle:
            analyser = _ANALYSERS[id(bundle)] = Analyser(bundle)
            weakref.finalize(bundle, _ANALYSERS.pop, id(bundle), None)
        return analyser
