"""Causal building blocks that carry their own state between chunks.

Every layer here maps a chunk of positions ``(B, T, C)`` plus the state left by the previous
chunk to outputs and a new state, so that feeding a text in one piece, in chunks, or one
character at a time gives the same result. States are batch-first tensors, never stored on the
module: one model can serve many generations at once. A layer whose start matters (the
highway's closed gates, the depthwise convolution's zeros, the split gate's lean to the GRU)
sets it in ``special_init``, which a model's initialisation scheme applies again last.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CausalHistory:
    """The last ``size`` input vectors a causal convolution needs: left padding done right.

    With no history (the start of a text) the missing positions are zeros, exactly what
    ``F.pad(x, (k - 1, 0))`` would give; afterwards they are the real previous inputs.
    """

    @staticmethod
    def extend(x: Tensor, history: Tensor | None, size: int) -> tuple[Tensor, Tensor]:
        """Prepend the history to ``x`` (B, T, C); return (extended, new history)."""
        if size == 0:
            return x, x[:, :0]
        if history is None:
            history = x.new_zeros(x.shape[0], size, x.shape[2])
        extended = torch.cat([history, x], dim=1)  # (B, size + T, C)
        return extended, extended[:, -size:]


class CharCNN(nn.Module):
    """Causal character n-gram detectors (Kim et al. 2016) followed by a highway layer.

    Convolutions of several widths look at the last k characters' embeddings; each output
    position t sees characters t-k+1..t only. One shared history of ``max(widths) - 1``
    embeddings serves every width.
    """

    def __init__(self, embed_dim: int, widths: tuple[int, ...], filters: int, dropout: float):
        super().__init__()
        self.widths = tuple(widths)
        self.history = max(self.widths) - 1
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, k) for k in self.widths)
        self.out_dim = filters * len(self.widths)
        self.highway = Highway(self.out_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, emb: Tensor, history: Tensor | None) -> tuple[Tensor, Tensor]:
        x, history = CausalHistory.extend(emb, history, self.history)
        x = x.transpose(1, 2)  # (B, E, H + T)
        feats = [conv(x[:, :, self.history - (k - 1):]) for k, conv in zip(self.widths, self.convs, strict=True)]
        f = torch.relu(torch.cat(feats, dim=1)).transpose(1, 2)  # (B, T, F * n_widths)
        return self.dropout(self.highway(f)), history


class Highway(nn.Module):
    """y = g * relu(W x) + (1 - g) * x, g = sigmoid(W_g x) (Srivastava et al. 2015)."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * dim)
        self.special_init()

    @torch.no_grad()
    def special_init(self) -> None:
        """Gate bias -2: start close to the identity, as the paper does."""
        self.proj.bias[self.proj.out_features // 2:] = -2.0

    def forward(self, x: Tensor) -> Tensor:
        h, g = self.proj(x).chunk(2, dim=-1)
        g = torch.sigmoid(g)
        return g * torch.relu(h) + (1 - g) * x


class DepthwiseCausalConv(nn.Module):
    """x + a per-channel causal convolution over each channel's last ``width`` values.

    The short convolution in front of a recurrence: Mamba's ``d_conv=4``, Griffin's Conv1D before
    the RG-LRU, RWKV's token shift (width 2). Each channel mixes only its own recent values, so it
    costs ``(width + 1) * dim`` parameters. The convolution starts at zero: the layer starts as
    the identity, the model as the one without it, and weight decay pulls it back there.
    """

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.history = width - 1
        self.conv = nn.Conv1d(dim, dim, width, groups=dim)  # weight (dim, 1, width)
        self.special_init()

    @torch.no_grad()
    def special_init(self) -> None:
        """Zero convolution: the output equals the input until training says otherwise."""
        self.conv.weight.zero_()
        self.conv.bias.zero_()

    def forward(self, x: Tensor, history: Tensor | None) -> tuple[Tensor, Tensor]:
        """x (B, T, C), the last ``width - 1`` inputs or None -> (x + conv, new history)."""
        h, history = CausalHistory.extend(x, history, self.history)
        return x + self.conv(h.transpose(1, 2)).transpose(1, 2), history


class GatedCausalConv(nn.Module):
    """A residual, gated (GLU) causal convolution over a sequence of feature vectors."""

    def __init__(self, dim: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.history = (kernel_size - 1) * dilation
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, 2 * dim, kernel_size, dilation=dilation)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, history: Tensor | None) -> tuple[Tensor, Tensor]:
        h, history = CausalHistory.extend(self.norm(x), history, self.history)
        h = F.glu(self.conv(h.transpose(1, 2)), dim=1).transpose(1, 2)  # (B, T, C)
        return x + self.dropout(h), history


class WindowAttention(nn.Module):
    """Each query attends over the keys of the last ``window`` positions, its own included.

    Keys and values of the previous ``window - 1`` positions are the state; a mask marks which
    of them exist (none at the start of a text). A learned bias per distance tells the
    attention how recent each key is. Returns the context and the weights ``(B, T, window)``,
    oldest position first.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, window: int):
        super().__init__()
        self.window = window
        self.query = nn.Linear(query_dim, attn_dim)
        self.key = nn.Linear(key_dim, attn_dim)
        self.value = nn.Linear(key_dim, attn_dim)
        self.distance_bias = nn.Parameter(torch.zeros(window))  # index 0: the current position
        self.scale = 1.0 / math.sqrt(attn_dim)

    def forward(
        self, queries: Tensor, features: Tensor, past: tuple[Tensor, Tensor, Tensor] | None
    ) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor, Tensor]]:
        B, T, _ = queries.shape
        W = self.window
        q = self.query(queries)  # (B, T, A)
        k, v = self.key(features), self.value(features)  # (B, T, A)
        if past is None:
            past = (k.new_zeros(B, W - 1, k.shape[2]), k.new_zeros(B, W - 1, k.shape[2]),
                    torch.zeros(B, W - 1, dtype=torch.bool, device=k.device))
        past_k, past_v, past_mask = past
        k = torch.cat([past_k, k], dim=1)  # (B, W - 1 + T, A)
        v = torch.cat([past_v, v], dim=1)
        exists = torch.cat([past_mask, past_mask.new_ones(B, T)], dim=1)  # (B, W - 1 + T)

        # Position t of this chunk sits at column t + W - 1 and sees columns t..t+W-1: a band
        # of the full score matrix. Scoring all columns and gathering the band keeps the
        # work in two matmuls instead of materialising (B, T, W, A) copies of the keys.
        cols = torch.arange(T, device=q.device)[:, None] + torch.arange(W, device=q.device)
        scores = (q @ k.transpose(1, 2)) * self.scale  # (B, T, W - 1 + T)
        scores = scores.gather(2, cols.expand(B, T, W))  # (B, T, W), oldest first
        scores = scores + self.distance_bias.flip(0)  # the current position (last) gets bias[0]
        scores = scores.masked_fill(~exists[:, cols], float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # the current position always exists
        band = weights.new_zeros(B, T, W - 1 + T).scatter(2, cols.expand(B, T, W), weights)
        context = band @ v  # (B, T, A)
        new_past = (k[:, -(W - 1):], v[:, -(W - 1):], exists[:, -(W - 1):])
        return context, weights, new_past


class SplitGate(nn.Module):
    """Per-position weights over the GRU state and each attention context, summing to 1.

    ``split = softmax(W [g; c_1; ...; c_S] + b)``, column 0 the GRU state. It starts as the plain
    GRU, as SRU++ (Lei 2021) does by adding its attention through a scalar initialised to zero:
    W is zero and b gives the GRU state weight ``GRU_START`` at every position, the rest shared
    by the contexts. Training moves away from the GRU only as far as the contexts earn it.
    """

    GRU_START = 0.99  # the GRU state's weight at initialisation

    def __init__(self, dim: int, contexts: int):
        super().__init__()
        self.contexts = contexts
        self.proj = nn.Linear((1 + contexts) * dim, 1 + contexts)
        self.special_init()

    @torch.no_grad()
    def special_init(self) -> None:
        """Zero weights; bias log(GRU_START * S / (1 - GRU_START)) on the GRU column, else 0."""
        self.proj.weight.zero_()
        self.proj.bias.zero_()
        self.proj.bias[0] = math.log(self.GRU_START * self.contexts / (1 - self.GRU_START))

    def forward(self, parts: list[Tensor], dropped: Tensor | None = None) -> Tensor:
        """parts: the GRU state and the S contexts, each (B, T, C); ``dropped``: a (1 + S,) bool
        mask of columns to leave out (weight 0, the rest renormalised). Returns (B, T, 1 + S)."""
        logits = self.proj(torch.cat(parts, dim=-1))
        if dropped is not None:
            logits = logits.masked_fill(dropped, float("-inf"))
        return torch.softmax(logits, dim=-1)
