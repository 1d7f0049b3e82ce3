"""Training: truncated BPTT over contiguous streams, AdamW with warmup and cosine decay.

The trainer knows one thing about a model: ``model(tokens, state) -> (logits, state, trace)``.
Everything a run needs to continue exactly where it stopped (weights, optimizer, step, carried
state, random generators) is written atomically to ``<out>/last``; the best model on validation
goes to ``<out>/best``; every step's figures go to ``<out>/log.jsonl``. Ctrl-C (or SIGTERM) saves
and exits cleanly. Under ``torchrun`` the streams are shared out among processes with DDP.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from .. import checkpoint
from ..corpus import Corpus, load_corpus
from ..likelihood import bits_per_char, nll_per_char
from ..models import build_model, count_params
from ..vocab import Vocab
from .streams import StreamBatches


@dataclass
class TrainConfig:
    """One training run. Every row of the results table uses the same recipe but for ``variant``."""

    variant: str = "gru"
    corpus: str = "shakespeare"  # "shakespeare" or a path to a UTF-8 text file
    split: tuple[float, float, float] | None = None  # for text files: train/validation/test ratios
    params: int = 1_000_000  # parameter budget the model is sized to
    model: dict = field(default_factory=dict)  # config overrides, e.g. {"dropout": 0.2}
    batch_size: int = 128  # parallel streams
    seq_len: int = 128  # characters per truncated-BPTT chunk
    max_chars: int = 24_000_000  # training characters (the budget every row gets)
    max_minutes: float | None = None  # wall-clock budget; stops early if reached first
    lr: float = 3e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # cosine decays to lr * this
    warmup_steps: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 200  # steps between validations
    eval_chars: int = 200_000  # validation characters per periodic check (all at the end)
    seed: int = 0
    device: str = "cpu"
    save_dtype: str = "float16"  # the shipped weights: compact, upcast to fp32 on load

    @property
    def steps(self) -> int:
        return max(1, self.max_chars // (self.batch_size * self.seq_len))

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps))
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        if d.get("split") is not None:
            d["split"] = tuple(d["split"])
        return cls(**d)


class Stop(Exception):
    """Raised from a signal handler: save and leave."""


class Trainer:
    def __init__(self, config: TrainConfig, out_dir: str | os.PathLike, progress: bool = True,
                 corpus: Corpus | None = None, model_factory=None):
        self.config = config
        self.out = Path(out_dir)
        self.progress = progress
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        self.is_main = self.rank == 0
        self.device = torch.device(config.device)
        self.corpus = corpus or load_corpus(config.corpus, config.split)
        self.vocab = Vocab(self.corpus.vocab)
        torch.manual_seed(config.seed)
        factory = model_factory or build_model
        self.model = factory(config.variant, len(self.vocab), config.params, **config.model).to(self.device)
        self.net = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(self.model)
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.99))
        if config.batch_size % self.world:
            raise ValueError(f"batch_size {config.batch_size} must divide among {self.world} processes")
        per_rank = config.batch_size // self.world
        self.rows = slice(self.rank * per_rank, (self.rank + 1) * per_rank)  # this process's share
        self.setup_data()
        self.step = 0
        self.chars = 0
        self.elapsed = 0.0
        self.best_val = float("inf")
        self.carried: dict[str, torch.Tensor] | None = None
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda"
                         else contextlib.nullcontext())

    # ---- the loop -------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train until the character or time budget is spent; return the final summary."""
        cfg = self.config
        self.resume()
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
        bar = self._progress_bar()
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
        for s in previous:
            signal.signal(s, _raise_stop)
        interrupted = False
        try:
            while self.step < cfg.steps and not self._out_of_time():
                t0 = time.perf_counter()
                loss = self.train_step()
                self.elapsed += time.perf_counter() - t0
                row = {"step": self.step, "chars": self.chars, "loss": loss,
                       "lr": self.optimizer.param_groups[0]["lr"], "time": round(self.elapsed, 3)}
                self.log(row)
                if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                    self.log_validation(self.validate(cfg.eval_chars))
                    self.save_last()  # a killed run loses at most eval_every steps
                if bar:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.3f}", chars_s=f"{self.chars / max(self.elapsed, 1e-9):,.0f}")
        except (KeyboardInterrupt, Stop):
            interrupted = True
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if bar:
                bar.close()
        self.save_last()
        if interrupted:
            if self.is_main:
                print(f"\nstopped at step {self.step}; resume with the same command ({self.out})")
            return {"interrupted": True, "step": self.step}
        return self.finish()

    def train_step(self) -> float:
        cfg = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.lr_at(self.step)
        self.net.train()
        with self.autocast:
            loss = self.compute_loss(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        self.chars += cfg.batch_size * cfg.seq_len
        return loss.item()

    # ---- the task: next-character prediction; a subclass may train another one ------------
    def setup_data(self) -> None:
        self.batches = StreamBatches(self.vocab.encode_tensor(self.corpus.train),
                                     self.config.batch_size, self.config.seq_len)
        self.val_ids = self.vocab.encode_tensor(self.corpus.validation)

    def compute_loss(self, step: int) -> torch.Tensor:
        """Mean cross-entropy of one chunk of every stream, the state carried from the last."""
        x, y, new_epoch = self.batches[step]
        x, y = x[self.rows].to(self.device), y[self.rows].to(self.device)
        if new_epoch:
            self.carried = None  # the streams start over: no history to carry
        out = self.net(x, self.carried)
        self.carried = {k: v.detach() for k, v in out.state.items()}  # truncated BPTT
        return F.cross_entropy(out.logits.float().reshape(-1, out.logits.shape[-1]), y.reshape(-1))

    def validation_score(self, max_chars: int | None) -> float:
        """Validation bits per character, reading the text with the state carried."""
        ids = self.val_ids if max_chars is None else self.val_ids[:max_chars]
        return bits_per_char(nll_per_char(self.model, ids, streams=32))

    def validate(self, max_chars: int | None = None) -> float | None:
        """Score on validation (main process only); keep the model if it is the best so far."""
        if not self.is_main:
            return None
        with self.autocast:
            bpc = self.validation_score(max_chars)
        if bpc < self.best_val:
            self.best_val = bpc
            self.save_best(bpc)
        return round(bpc, 5)

    def finish(self) -> dict:
        summary = {"steps": self.step, "chars": self.chars, "time": round(self.elapsed, 1),
                   "chars_per_s": round(self.chars / max(self.elapsed, 1e-9)),
                   "val_bpc": self.validate(None), "best_val_bpc": round(self.best_val, 5),
                   "params": count_params(self.model), "device": str(self.device)}
        if self.is_main:
            self.save_best(self.best_val, final=summary)
            (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
        return summary

    def _out_of_time(self) -> bool:
        limit = self.config.max_minutes
        return limit is not None and self.elapsed >= limit * 60

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

    # ---- checkpoints ------------------------------------------------------------------------
    def metadata(self, val_bpc: float) -> dict:
        return {"train_chars": self.chars, "train_steps": self.step, "train_time_s": round(self.elapsed, 1),
                "val_bpc": round(val_bpc, 5), "params": count_params(self.model),
                "corpus": self.corpus.name, "device": str(self.device), "train_config": asdict(self.config)}

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
        """Everything needed to continue exactly: written beside, then swapped in."""
        carried = {k: self._gather(v) for k, v in (self.carried or {}).items()}
        if not self.is_main:
            return
        tmp, last, old = self.out / "last.tmp", self.out / "last", self.out / "last.old"
        shutil.rmtree(tmp, ignore_errors=True)
        checkpoint.save(tmp, self.model, self.vocab, self.metadata(self.best_val), dtype=torch.float32)
        tensors, meta = {}, {"step": self.step, "chars": self.chars, "elapsed": self.elapsed,
                             "best_val": self.best_val, "config": asdict(self.config)}
        for i, state in self.optimizer.state_dict()["state"].items():
            for k, v in state.items():
                tensors[f"optim.{i}.{k}"] = v.detach().cpu().contiguous()
        for k, v in carried.items():
            tensors[f"carried.{k}"] = v.cpu().contiguous()
        tensors["rng.cpu"] = torch.get_rng_state()
        if torch.cuda.is_available():
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
        save_file(tensors, tmp / "train_state.safetensors")
        (tmp / "train_state.json").write_text(json.dumps(meta, indent=1))
        if last.exists():
            os.replace(last, old)
        os.replace(tmp, last)
        shutil.rmtree(old, ignore_errors=True)

    def resume(self) -> None:
        """Continue from ``<out>/last`` if a run was stopped there (``last.old`` if a swap was cut)."""
        folder = next((p for p in (self.out / "last", self.out / "last.old")
                       if (p / "train_state.json").is_file()), None)
        if folder is None:
            return
        meta = json.loads((folder / "train_state.json").read_text())
        saved = TrainConfig.from_dict(meta["config"])
        if _recipe(saved) != _recipe(self.config):
            raise ValueError(f"{folder}: was trained with another configuration; use a new output "
                             f"folder or the same settings")
        bundle = checkpoint.load(folder, device=self.device)
        self.model.load_state_dict(bundle.model.state_dict())
        tensors = load_file(folder / "train_state.safetensors")
        optim = self.optimizer.state_dict()
        for key, v in tensors.items():
            if key.startswith("optim."):
                _, i, name = key.split(".", 2)
                optim["state"].setdefault(int(i), {})[name] = v.to(self.device) if name != "step" else v
        self.optimizer.load_state_dict(optim)
        carried = {k[len("carried."):]: v.to(self.device) for k, v in tensors.items() if k.startswith("carried.")}
        self.carried = {k: v[self.rows] for k, v in carried.items()} or None
        torch.set_rng_state(tensors["rng.cpu"])
        if "rng.cuda" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["rng.cuda"])
        self.step, self.chars, self.elapsed = meta["step"], meta["chars"], meta["elapsed"]
        self.best_val = meta["best_val"]
        self._truncate_log()
        if self.is_main and self.progress:
            print(f"resuming {self.out} at step {self.step}")


    def _truncate_log(self) -> None:
        """Drop log rows written after the state we resume from (a run killed between saves)."""
        log = self.out / "log.jsonl"
        if not (self.is_main and log.is_file()):
            return
        rows = [line for line in log.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= self.step]
        log.write_text("".join(r + "\n" for r in rows))

    def _gather(self, t: torch.Tensor) -> torch.Tensor:
        """The whole batch of a carried state from every process's rows (collective)."""
        if self.world == 1:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts)


def _recipe(config: TrainConfig) -> dict:
    """The settings a resumed run must share with the original (the time budget may change)."""
    d = asdict(config)
    d.pop("max_minutes")
    d.pop("device")
    return d


def _raise_stop(signum, frame):
    raise Stop()


def train(config: TrainConfig, out_dir: str | os.PathLike, progress: bool = True, **kwargs) -> dict:
    """Run (or resume) one training run; with several processes, set up DDP first."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    if distributed:
        backend = "nccl" if config.device.startswith("cuda") else "gloo"
        dist.init_process_group(backend)
        if config.device.startswith("cuda"):
            config.device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
            torch.cuda.set_device(config.device)
    try:
        return Trainer(config, out_dir, progress, **kwargs).fit()
    finally:
        if distributed:
            dist.destroy_process_group()

