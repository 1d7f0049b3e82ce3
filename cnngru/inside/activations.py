"""What a model's character filters and GRU units do at every position of a text.

A *filter* is one output channel of a convolution that sees a fixed window of characters: the
CharCNN's n-gram detectors (``cnn-pre``, ``hybrid``) and the depthwise convolution on the
embedding (``cnn-pre``'s depthwise forms). Found from the model's structure, not its name, so
whatever design ships is covered. ``cnn-post``'s convolutions read GRU outputs, each of which
sums up the whole text before it: they have no fixed window of characters, so no filters here.

A filter's *activation* at position t is its convolution's output there before the ReLU (the
depthwise convolution has none), for the window of characters ending at ``text[t]``.
Convolutions are run on their own (embedding, then the layers in front of them), without the
GRU: a million characters take seconds. ``tests/inside`` checks this against the model's own
forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..models.layers import CharCNN, DepthwiseCausalConv


@dataclass(frozen=True)
class FilterBank:
    """One convolution's channels: ``channels`` filters that each see ``window`` characters."""

    name: str  # the convolution's module name in the model, e.g. "cnn.convs.0"
    window: int  # characters each filter sees, the layers in front of it included
    channels: int
    first: int  # index of its first filter in the model's filter list


def filter_banks(model: nn.Module) -> list[FilterBank]:
    """Every convolution of ``model`` with a fixed window of characters, in module order."""
    banks: list[FilterBank] = []
    depthwise = getattr(model, "depthwise", None)
    before = depthwise.history if isinstance(depthwise, DepthwiseCausalConv) else 0
    if isinstance(depthwise, DepthwiseCausalConv):
        banks.append(FilterBank("depthwise.conv", depthwise.history + 1,
                                depthwise.conv.out_channels, 0))
    cnn = getattr(model, "cnn", None)
    if isinstance(cnn, CharCNN):
        for i, (k, conv) in enumerate(zip(cnn.widths, cnn.convs, strict=True)):
            first = sum(b.channels for b in banks)
            banks.append(FilterBank(f"cnn.convs.{i}", k + before, conv.out_channels, first))
    return banks


def left_out_note(model: nn.Module) -> str | None:
    """Why a model's convolutions (if any) have no filter table, or None."""
    if filter_banks(model):
        return None
    if any(isinstance(m, nn.Conv1d) for m in model.modules()):
        return ("Its convolutions read the GRU's outputs, and each of those sums up the whole "
                "text before it: a filter there has no fixed window of characters, so there is "
                "no n-gram it detects. Its GRU units are listed below.")
    return "It has no convolution."


@torch.inference_mode()
def filter_activations(model: nn.Module, ids: np.ndarray) -> np.ndarray:
    """(N, filters) float32: every filter's activation at every position of ``ids`` (N,), the
    text read from its start (zeros before it, as the model's left padding)."""
    banks = filter_banks(model)
    if not banks or len(ids) == 0:
        return np.zeros((len(ids), sum(b.channels for b in banks)), dtype=np.float32)
    device = next(model.parameters()).device
    tokens = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)[None]
    e = model.embed(tokens)  # (1, N, E)
    outputs = []
    depthwise = getattr(model, "depthwise", None)
    x = e
    if isinstance(depthwise, DepthwiseCausalConv):
        padded = nn.functional.pad(e.transpose(1, 2), (depthwise.history, 0))
        outputs.append(depthwise.conv(padded))  # (1, C, N)
        x = e + outputs[-1].transpose(1, 2)
    cnn = getattr(model, "cnn", None)
    if isinstance(cnn, CharCNN):
        xt = x.transpose(1, 2)
        for k, conv in zip(cnn.widths, cnn.convs, strict=True):
            outputs.append(conv(nn.functional.pad(xt, (k - 1, 0))))  # (1, F, N)
    return torch.cat(outputs, dim=1)[0].T.float().cpu().numpy()


@torch.inference_mode()
def unit_activations(model: nn.Module, blocks: list[np.ndarray], chunk: int = 1024) -> np.ndarray:
    """(sum of block lengths, H) float32: the GRU's top-layer output (the trace's ``units``) at
    every position, each block read from its start with the state carried between chunks; the
    blocks run side by side as one batch when they are of equal length."""
    device = next(model.parameters()).device
    lengths = {len(b) for b in blocks}
    groups = [blocks] if len(lengths) == 1 else [[b] for b in blocks]
    out = []
    for group in groups:
        tokens = torch.as_tensor(np.stack(group).astype(np.int64), device=device)  # (B, T)
        state, parts = None, []
        for a in range(0, tokens.shape[1], chunk):
            result = model(tokens[:, a:a + chunk], state)
            state = result.state
            parts.append(result.trace["units"].float().cpu())
        units = torch.cat(parts, dim=1)  # (B, T, H)
        out.append(units.reshape(-1, units.shape[-1]).numpy())
    return np.concatenate(out).astype(np.float32, copy=False)
