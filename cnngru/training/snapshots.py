"""Snapshots: everything a stopped run needs to continue exactly, written atomically.

A snapshot folder holds the model as a normal checkpoint (loadable by ``cnngru.load``), the
optimizer's moments, the task's carried state and the random generators in
``train_state.safetensors``, and the step, counters and config in ``train_state.json``. It is
written beside the old one and swapped in, so a run killed at any moment leaves one complete
snapshot: ``last`` or, if the kill fell inside the swap, ``last.old``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .. import checkpoint
from ..vocab import Vocab

STATE_TENSORS = "train_state.safetensors"
STATE_JSON = "train_state.json"


def save(out: Path, model: torch.nn.Module, vocab: Vocab, metadata: dict,
         optimizer: torch.optim.Optimizer, carried: dict[str, torch.Tensor], progress: dict) -> None:
    """Write ``<out>/last`` (``progress``: step, counters and config, JSON-ready)."""
    tmp, last, old = out / "last.tmp", out / "last", out / "last.old"
    shutil.rmtree(tmp, ignore_errors=True)
    checkpoint.save(tmp, model, vocab, metadata, dtype=torch.float32)
    tensors = {}
    for i, state in optimizer.state_dict()["state"].items():
        for k, v in state.items():
            tensors[f"optim.{i}.{k}"] = v.detach().cpu().contiguous()
    for k, v in carried.items():
        tensors[f"carried.{k}"] = v.cpu().contiguous()
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    save_file(tensors, tmp / STATE_TENSORS)
    (tmp / STATE_JSON).write_text(json.dumps(progress, indent=1))
    if last.exists():
        os.replace(last, old)
    os.replace(tmp, last)
    shutil.rmtree(old, ignore_errors=True)


def find(out: Path) -> Path | None:
    """The complete snapshot in ``out``, if a run was stopped there."""
    return next((p for p in (out / "last", out / "last.old") if (p / STATE_JSON).is_file()), None)


def progress_of(folder: Path) -> dict:
    return json.loads((folder / STATE_JSON).read_text())


def restore(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            device: torch.device) -> tuple[dict, dict[str, torch.Tensor]]:
    """Load weights, optimizer moments and random generators; return (progress, carried)."""
    model.load_state_dict(checkpoint.load(folder, device=device).model.state_dict())
    tensors = load_file(folder / STATE_TENSORS)
    optim = optimizer.state_dict()
    for key, v in tensors.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            optim["state"].setdefault(int(i), {})[name] = v.to(device) if name != "step" else v
    optimizer.load_state_dict(optim)
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    carried = {k[len("carried."):]: v for k, v in tensors.items() if k.startswith("carried.")}
    return progress_of(folder), carried


def validations(folder: Path) -> list[list[float]]:
    """A run's periodic validations so far, from its log: ``[[chars, val_bpc], ...]``."""
    log = (folder / "log.jsonl").read_text().splitlines()
    return [[r["chars"], r["val_bpc"]] for r in map(json.loads, log) if "val_bpc" in r]


def truncate_log(log: Path, step: int) -> None:
    """Drop log rows written after ``step`` (a run killed between two snapshots wrote them)."""
    if not log.is_file():
        return
    rows = [line for line in log.read_text().splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    log.write_text("".join(r + "\n" for r in rows))
