"""Train the refiner with the language models' trainer, on a denoising task.

Each step takes random windows of the training split, corrupts each window at a noise level drawn
from ``NOISE_LEVELS`` (some windows stay clean, so the model also learns to leave good text
alone) and minimises the cross-entropy of the clean characters. The noise of step ``s`` comes
from a generator seeded with ``(seed, s)``, so a resumed run sees exactly the batches it would
have seen. Validation: bits per clean character on a fixed corrupted copy of the validation split.

    cnngru train-refiner --out runs/refiner --max-chars 6000000 --ship checkpoints/refiner
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import checkpoint
from ..corpus import Corpus, load_corpus
from ..models import build_model
from ..training import TrainConfig, Trainer
from ..training import ship as ship_run
from ..vocab import Vocab
from .noise import CONFUSABLE_GROUPS, RECIPE, Noise

NOISE_LEVELS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)  # per window, uniformly; mean 8.7%
VAL_WINDOW = 1024  # characters per validation window
VAL_SEED = 1234  # the validation corruption is fixed, so scores compare across steps and runs
DEFAULT_PARAMS = 800_000
DEFAULT_CHARS = 6_000_000  # ~15 minutes on two busy CPU cores


class DenoiseTask:
    """Noisy -> clean windows of training text: the refiner's task for the shared trainer."""

    noise_levels = NOISE_LEVELS

    def __init__(self, corpus: Corpus, vocab: Vocab, config: TrainConfig):
        self.corpus, self.vocab, self.config = corpus, vocab, config
        self.device = torch.device(config.device)
        self.noise = Noise(vocab)
        self.train_ids = vocab.encode_tensor(corpus.train)
        if len(self.train_ids) <= config.seq_len:
            raise ValueError(f"the training split ({len(self.train_ids)} characters) is shorter "
                             f"than one window of {config.seq_len}")
        val = vocab.encode_tensor(corpus.validation)
        n = max(1, len(val) // VAL_WINDOW)
        clean = val[:n * VAL_WINDOW].view(n, -1)
        rates = torch.tensor(self.noise_levels)[torch.arange(n) % len(self.noise_levels)]
        self.val_clean = clean
        self.val_noisy = self.noise.corrupt_ids(clean, rates, torch.Generator().manual_seed(VAL_SEED))

    def loss(self, net: torch.nn.Module, step: int, rows: slice) -> torch.Tensor:
        """Cross-entropy of the clean characters of a freshly corrupted batch (fixed by ``step``)."""
        cfg = self.config
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        starts = torch.randint(0, len(self.train_ids) - cfg.seq_len, (cfg.batch_size,), generator=g)
        clean = self.train_ids[starts[:, None] + torch.arange(cfg.seq_len)]  # (B, T)
        levels = torch.tensor(self.noise_levels)
        rates = levels[torch.randint(len(levels), (cfg.batch_size,), generator=g)]
        noisy = self.noise.corrupt_ids(clean, rates, g)
        clean, noisy = clean[rows].to(self.device), noisy[rows].to(self.device)
        logits = net(noisy)
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), clean.reshape(-1))

    @torch.no_grad()
    def validation_bpc(self, model: torch.nn.Module, max_chars: int | None) -> float:
        """Bits per clean character given the fixed corrupted validation text (lower is better)."""
        rows = len(self.val_clean) if max_chars is None else max(1, -(-max_chars // VAL_WINDOW))
        total, count = 0.0, 0
        for i in range(0, min(rows, len(self.val_clean)), 16):
            noisy = self.val_noisy[i:i + 16].to(self.device)
            clean = self.val_clean[i:i + 16].to(self.device)
            logits = model(noisy).float()
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), clean.reshape(-1),
                                     reduction="sum").item()
            count += clean.numel()
        return total / count / math.log(2)

    carried: dict = {}  # windows are independent: nothing to carry between steps

    def restore_carried(self, carried: dict) -> None:
        pass

    def metadata(self) -> dict:
        return {"corpus": self.corpus.name, "task": "denoise", "noise": noise_description(),
                "val_bpc_meaning": "bits per clean validation character given the corrupted text"}


def denoiser_run(config: TrainConfig, out: str | os.PathLike, progress: bool = True,
                 corpus: Corpus | None = None) -> Trainer:
    """A trainer for a refiner: the corpus read, the task set up, the model sized."""
    corpus = corpus or load_corpus(config.corpus, config.split)
    vocab = Vocab(corpus.vocab)
    torch.manual_seed(config.seed)
    model = build_model("refiner", len(vocab), config.params, **config.model)
    return Trainer(model, DenoiseTask(corpus, vocab, config), config, out, progress)


def noise_description() -> dict:
    """The training noise, as recorded in the checkpoint."""
    return {"kind": "substitutions only", "levels": list(NOISE_LEVELS), "recipe": RECIPE,
            "confusable_groups": list(CONFUSABLE_GROUPS)}


def train_refiner(out: str | os.PathLike, *, max_chars: int = DEFAULT_CHARS,
                  max_minutes: float | None = None, params: int = DEFAULT_PARAMS, lr: float = 2e-3,
                  seed: int = 0, device: str = "cpu", corpus: str = "shakespeare",
                  batch_size: int = 32, seq_len: int = 256, eval_every: int = 100,
                  eval_chars: int = 64 * VAL_WINDOW, ship: str | os.PathLike | None = None,
                  progress: bool = True) -> dict:
    """Train (or resume) a refiner in ``out``; measure it on validation text; optionally ship it.

    ``ship`` copies the best checkpoint and the training log to a folder such as
    ``checkpoints/refiner``. Returns the run summary with the validation figures.
    """
    config = TrainConfig(variant="refiner", corpus=corpus, params=params, batch_size=batch_size,
                         seq_len=seq_len, max_chars=max_chars, max_minutes=max_minutes, lr=lr,
                         seed=seed, device=device, eval_every=eval_every, eval_chars=eval_chars)
    trainer = denoiser_run(config, out, progress=progress)
    summary = trainer.fit()
    if summary.get("interrupted"):
        return summary
    from .metrics import heldout_figures  # here: metrics imports refine, which needs no trainer
    best = Path(out) / "best"
    bundle = checkpoint.load(best, device=device)
    summary["validation"] = heldout_figures(bundle, trainer.task.corpus.validation, max_chars=20_000)
    checkpoint.update_metadata(best, validation=summary["validation"])
    if ship is not None:
        ship_run(out, ship)
        summary["shipped"] = str(ship)
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnngru train-refiner",
                                description="Train the denoising refiner (resumes if --out holds a stopped run).")
    p.add_argument("--out", required=True, help="run folder (best/, last/, log.jsonl)")
    p.add_argument("--max-chars", type=int, default=DEFAULT_CHARS, help="training characters")
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    p.add_argument("--params", type=int, default=DEFAULT_PARAMS, help="parameter budget")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--corpus", default="shakespeare", help="'shakespeare' or a UTF-8 text file")
    p.add_argument("--batch-size", type=int, default=32, help="windows per step")
    p.add_argument("--seq-len", type=int, default=256, help="characters per window")
    p.add_argument("--eval-every", type=int, default=100, help="steps between validations")
    p.add_argument("--ship", default=None, help="also copy the best checkpoint and log here, "
                   "e.g. checkpoints/refiner")
    p.add_argument("--quiet", action="store_true")
    return p


def cli_train_refiner(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    summary = train_refiner(args.out, max_chars=args.max_chars, max_minutes=args.max_minutes,
                            params=args.params, lr=args.lr, seed=args.seed,
                            device=args.device or "cpu", corpus=args.corpus,
                            batch_size=args.batch_size, seq_len=args.seq_len,
                            eval_every=args.eval_every, ship=args.ship, progress=not args.quiet)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    cli_train_refiner()
