"""Reading a text with a model: the log-loss of every character, the state carried throughout.

A recurrent model's advantage is its long memory, so a text is read as one continuous stream
(cut into a few parallel streams only for speed), never as independent short windows.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from .models import GRUModel


@torch.inference_mode()
def nll_per_char(model: GRUModel, ids: torch.Tensor, streams: int = 64, chunk: int = 512,
                 cnn_off: bool = False) -> np.ndarray:
    """Negative log-likelihood (nats) of every character of ``ids`` but the first of each stream.

    The text is cut into ``streams`` contiguous pieces read side by side in ``chunk``-long steps
    with the state carried; the result is in text order, ``len(ids) - streams`` values (``streams``
    lowered, if need be, so that none is empty).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    streams = max(1, min(streams, len(ids) // 2))
    length = math.ceil(len(ids) / streams)
    streams = math.ceil(len(ids) / length)  # rounding up the length can leave the last ones empty
    padded = torch.zeros(streams * length, dtype=torch.long)
    padded[: len(ids)] = ids
    valid = torch.zeros(streams * length, dtype=torch.bool)
    valid[: len(ids)] = True
    grid, valid = padded.view(streams, length).to(device), valid.view(streams, length)
    out = torch.empty(streams, length - 1)
    state = None
    for a in range(0, length - 1, chunk):
        x, y = grid[:, a: a + chunk], grid[:, a + 1: a + chunk + 1]
        result = model(x[:, : y.shape[1]], state, cnn_off=cnn_off)
        state = result.state
        logits = result.logits.float()
        out[:, a: a + y.shape[1]] = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none"
        ).view(y.shape).cpu()
    model.train(was_training)
    return out[valid[:, 1:]].numpy()


def bits_per_char(nll: np.ndarray) -> float:
    return float(np.mean(nll) / math.log(2))


@torch.inference_mode()
def window_bpc(model: torch.nn.Module, ids: torch.Tensor, windows: int = 2048, length: int = 65,
               seed: int = 0, batch: int = 256) -> float:
    """Bits per character on short windows read from an empty state: nanoGPT's measure.

    ``windows`` windows of ``length`` characters start at positions drawn at random (``seed``);
    each scores its ``length - 1`` next-character predictions with no history before it. A
    recurrent model reading with its state carried (``nll_per_char``) does better than this;
    the windows make it comparable with a transformer trained on blocks of ``length - 1``.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    starts = torch.from_numpy(np.random.default_rng(seed).integers(0, len(ids) - length, windows))
    grid = ids[starts[:, None] + torch.arange(length)]  # (windows, length)
    total = 0.0
    for a in range(0, windows, batch):
        x = grid[a: a + batch].to(device)
        logits = model(x[:, :-1]).logits.float()
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                 reduction="sum").item()
    model.train(was_training)
    return total / (windows * (length - 1)) / math.log(2)
