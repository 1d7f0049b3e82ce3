"""The training loop: AdamW with warmup and cosine decay, validation, snapshots, DDP.

The trainer knows two things: the model's ``forward`` (through the task) and the task's small
contract (``tasks.py``). It owns the optimizer, the schedule, the clock, validation and keeping
the best model, and it writes:

    <out>/config.json    the run's settings
    <out>/log.jsonl      one row per step (loss, lr, time) and per validation (val_bpc)
    <out>/best/          the best model on validation, a checkpoint
    <out>/last/          a snapshot to resume from exactly (snapshots.py)
    <out>/summary.json   what the finished run did

Ctrl-C (or SIGTERM) saves a snapshot and exits cleanly; running the same command again resumes.
Under ``torchrun`` each process takes its share of the batch's rows and DDP averages gradients.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from .. import checkpoint
from ..corpus import Corpus, load_corpus
from ..models import build_model, count_params, design_overrides
from ..vocab import Vocab
from . import snapshots, throughput
from .config import TrainConfig, recipe
from .tasks import LanguageModelTask, Task

SAFETY_MARGIN = 1.25  # a time-budgeted run is cut at this multiple of its budget, if ever
MEASURE_SECONDS = 3.0  # spent measuring throughput before a time-budgeted run


DONE, STOPPED_EARLY, PAUSED, INTERRUPTED = "done", "stopped early", "paused", "interrupted"


class Stop(Exception):
    """Raised from a signal handler: save and leave."""


class Trainer:
    def __init__(self, model: nn.Module, task: Task, config: TrainConfig,
                 out_dir: str | os.PathLike, progress: bool = True):
        self.config, self.task, self.out, self.progress = config, task, Path(out_dir), progress
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        self.is_main = self.rank == 0
        self.device = torch.device(config.device)
        self.model = model.to(self.device)
        self.net = torch.nn.parallel.DistributedDataParallel(model) if self.world > 1 else model
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.99))
        if config.batch_size % self.world:
            raise ValueError(f"batch_size {config.batch_size} must divide among {self.world} processes")
        per_rank = config.batch_size // self.world
        self.rows = slice(self.rank * per_rank, (self.rank + 1) * per_rank)  # this process's share
        self.step = 0
        self.chars = 0
        self.elapsed = 0.0  # seconds spent in training steps (validation and saving not counted)
        self.best_val = float("inf")
        self.checks_since_best = 0  # validations without a new best (for ``patience``)
        self.measured_chars_per_s: float | None = None
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda"
                         else contextlib.nullcontext())

    @property
    def vocab(self) -> Vocab:
        return self.task.vocab

    # ---- the loop -------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train until the character or time budget is spent; return the final summary."""
        self.prepare()
        outcome = self.run()
        if outcome == INTERRUPTED:
            if self.is_main:
                print(f"\nstopped at step {self.step}; resume with the same command ({self.out})")
            return {"interrupted": True, "step": self.step}
        return self.finish(outcome == STOPPED_EARLY)

    def prepare(self) -> None:
        """Resume a stopped run if there is one, fix the budget, record the run's settings."""
        cfg = self.config
        self.resume()
        if cfg.max_chars is None or (cfg.max_minutes is not None and self.step == 0):
            self.budget_from_time()
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))

    def run(self, until_step: int | None = None) -> str:
        """Train up to ``until_step`` (default: the end of the budget), then save a snapshot.

        Several runs can take turns this way, a slice each (the "Your text" tab's round robin).
        Returns ``DONE``, ``STOPPED_EARLY`` (out of patience), ``PAUSED`` (``until_step``
        reached first) or ``INTERRUPTED`` (Ctrl-C or SIGTERM).
        """
        cfg = self.config
        last = cfg.steps if until_step is None else min(cfg.steps, until_step)
        bar = self._progress_bar()
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
        for s in previous:
            signal.signal(s, _raise_stop)
        outcome = None
        try:
            while self.step < last and not self._out_of_time():
                t0 = time.perf_counter()
                loss = self.train_step()
                self.elapsed += time.perf_counter() - t0
                self.log({"step": self.step, "chars": self.chars, "loss": loss,
                          "lr": self.optimizer.param_groups[0]["lr"], "time": round(self.elapsed, 3)})
                if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                    self.log_validation(self.validate(cfg.eval_chars))
                    self.save_last()  # a killed run loses at most eval_every steps
                    if self._out_of_patience():
                        outcome = STOPPED_EARLY
                        break
                if bar:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.3f}", chars_s=f"{self.chars / max(self.elapsed, 1e-9):,.0f}")
        except (KeyboardInterrupt, Stop):
            outcome = INTERRUPTED
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if bar:
                bar.close()
        self.save_last()
        if outcome is None:
            finished = self.step >= cfg.steps or self._out_of_time()
            outcome = DONE if finished else PAUSED
        return outcome

    def budget_from_time(self) -> None:
        """Turn ``max_minutes`` into training characters, from this run's measured throughput.

        The schedule then anneals over exactly those characters, and the recorded config repeats
        the run. A character budget given as well is kept when it binds first. Every process
        takes the slowest one's figure, so all agree on the step count.
        """
        cfg = self.config
        if cfg.max_minutes is None:
            raise ValueError("give a character budget (max_chars) or a time budget (max_minutes)")
        rate = throughput.measure(self, seconds=MEASURE_SECONDS)
        if self.world > 1:
            shared = torch.tensor([rate], dtype=torch.float64)
            dist.all_reduce(shared, op=dist.ReduceOp.MIN)
            rate = shared.item()
        self.measured_chars_per_s = rate
        fits = max(1, int(rate * cfg.max_minutes * 60) // cfg.chars_per_step) * cfg.chars_per_step
        cfg.max_chars = fits if cfg.max_chars is None else min(cfg.max_chars, fits)
        if self.is_main and self.progress:
            print(f"{rate:,.0f} training characters/s measured: {cfg.max_minutes:g} min is "
                  f"{cfg.max_chars:,} characters ({cfg.steps} steps)")

    def train_step(self) -> float:
        cfg = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.lr_at(self.step)
        self.net.train()
        with self.autocast:
            loss = self.task.loss(self.net, self.step, self.rows)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        self.chars += cfg.chars_per_step
        return loss.item()

    def validate(self, max_chars: int | None = None) -> float | None:
        """Score on validation (main process only); keep the model if it is the best so far."""
        if not self.is_main:
            return None
        was_training = self.model.training
        self.model.eval()
        with self.autocast:
            bpc = self.task.validation_bpc(self.model, max_chars)
        self.model.train(was_training)
        if bpc < self.best_val:
            self.best_val, self.checks_since_best = bpc, 0
            self.save_best(bpc)
        else:
            self.checks_since_best += 1
        return round(bpc, 5)

    def finish(self, stopped_early: bool = False) -> dict:
        summary = {"steps": self.step, "chars": self.chars, "time": round(self.elapsed, 1),
                   "chars_per_s": round(self.chars / max(self.elapsed, 1e-9)),
                   "val_bpc": self.validate(None), "best_val_bpc": round(self.best_val, 5),
                   "params": count_params(self.model), "device": str(self.device),
                   "planned_chars": self.config.max_chars,
                   "time_limited": self.step < self.config.steps and not stopped_early,
                   "stopped_early": stopped_early}
        if self.measured_chars_per_s is not None:
            summary["measured_chars_per_s"] = round(self.measured_chars_per_s)
        if self.is_main:
            self.save_best(self.best_val, final=summary)
            (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
        return summary

    def _out_of_time(self) -> bool:
        """The safety stop: a run budgeted by time that runs far slower than measured."""
        limit = self.config.max_minutes
        return limit is not None and self.elapsed >= limit * 60 * SAFETY_MARGIN

    def _out_of_patience(self) -> bool:
        patience = self.config.patience
        return patience is not None and self.checks_since_best >= patience

    def _progress_bar(self):
        if not (self.progress and self.is_main):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.config.steps, initial=self.step, unit="step",
                    desc=f"{self.config.variant}", dynamic_ncols=True)

    def log(self, row: dict) -> None:
        if self.is_main:
            with open(self.out / "log.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    def log_validation(self, val_bpc: float | None) -> None:
        """Validation figures are a row of their own: ``{"step", "chars", "val_bpc"}``."""
        if val_bpc is not None:
            self.log({"step": self.step, "chars": self.chars, "val_bpc": val_bpc})

    # ---- checkpoints and snapshots ------------------------------------------------------------
    def metadata(self, val_bpc: float) -> dict:
        return {"train_chars": self.chars, "train_steps": self.step, "train_time_s": round(self.elapsed, 1),
                "val_bpc": round(val_bpc, 5), "params": count_params(self.model),
                **self.task.metadata(), "device": str(self.device),
                "train_config": self.config.to_dict()}

    def save_best(self, val_bpc: float, final: dict | None = None) -> None:
        """Keep the best weights; at the end, record in them what the whole run did."""
        if not self.is_main:
            return
        if final:
            checkpoint.update_metadata(self.out / "best", run=final)
        else:
            checkpoint.save(self.out / "best", self.model, self.vocab, self.metadata(val_bpc),
                            dtype=getattr(torch, self.config.save_dtype))

    def save_last(self) -> None:
        """A snapshot of the whole run (every process's carried rows gathered first)."""
        carried = {k: self._gather(v) for k, v in self.task.carried.items()}
        if self.is_main:
            progress = {"step": self.step, "chars": self.chars, "elapsed": self.elapsed,
                        "best_val": self.best_val, "checks_since_best": self.checks_since_best,
                        "config": self.config.to_dict()}
            snapshots.save(self.out, self.model, self.vocab, self.metadata(self.best_val),
                           self.optimizer, carried, progress)

    def resume(self) -> None:
        """Continue from the snapshot in ``out`` if a run was stopped there."""
        folder = snapshots.find(self.out)
        if folder is None:
            return
        saved = TrainConfig.from_dict(snapshots.progress_of(folder)["config"])
        if self.config.max_chars is None or self.config.max_minutes is not None:
            self.config.max_chars = saved.max_chars  # the budget this run measured when it began
        if recipe(saved) != recipe(self.config):
            raise ValueError(f"{folder}: was trained with another configuration; use a new output "
                             f"folder or the same settings")
        progress, carried = snapshots.restore(folder, self.model, self.optimizer, self.device)
        self.task.restore_carried({k: v[self.rows] for k, v in carried.items()})
        self.step, self.chars, self.elapsed = progress["step"], progress["chars"], progress["elapsed"]
        self.best_val = progress["best_val"]
        self.checks_since_best = progress.get("checks_since_best", 0)
        if self.is_main:
            snapshots.truncate_log(self.out / "log.jsonl", self.step)
            if self.progress:
                print(f"resuming {self.out} at step {self.step}")

    def _gather(self, t: torch.Tensor) -> torch.Tensor:
        """The whole batch of a carried state from every process's rows (collective)."""
        if self.world == 1:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts)


def _raise_stop(signum, frame):
    raise Stop()


def language_model_run(config: TrainConfig, out_dir: str | os.PathLike, progress: bool = True,
                       corpus: Corpus | None = None) -> Trainer:
    """A trainer for ``config``: its corpus read, vocabulary built, model sized to the budget."""
    corpus = corpus or load_corpus(config.corpus, config.split)
    vocab = Vocab(corpus.vocab)
    task = LanguageModelTask(corpus, vocab, config.batch_size, config.seq_len, config.device)
    torch.manual_seed(config.seed)
    overrides = {**design_overrides(config.variant, config.design), **config.model}
    model = build_model(config.variant, len(vocab), config.params, **overrides)
    return Trainer(model, task, config, out_dir, progress)


def train(config: TrainConfig, out_dir: str | os.PathLike, progress: bool = True,
          corpus: Corpus | None = None) -> dict:
    """Run (or resume) one language-model run; with several processes, set up DDP first."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    if distributed:
        backend = "nccl" if config.device.startswith("cuda") else "gloo"
        dist.init_process_group(backend)
        if config.device.startswith("cuda"):
            config.device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
            torch.cuda.set_device(config.device)
    try:
        return language_model_run(config, out_dir, progress, corpus).fit()
    finally:
        if distributed:
            dist.destroy_process_group()


def ship(run: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy a run's best checkpoint and its log into ``target`` (e.g. ``checkpoints/gru``),
    replacing what is there in one rename, so a reader never sees half a checkpoint."""
    run, target = Path(run), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        staged = Path(tmp) / "staged"
        shutil.copytree(run / "best", staged, ignore=shutil.ignore_patterns(".saving-*"))
        if (run / "log.jsonl").is_file():
            shutil.copy2(run / "log.jsonl", staged / "log.jsonl")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staged, target)
