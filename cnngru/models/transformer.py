"""A small causal transformer: the reference row of the results table, not a demo strategy.

nanoGPT's architecture (pre-LayerNorm blocks, GELU MLP, tied embedding and head) with one
change so it fits the stateful interface every row shares: each layer attends over a sliding
window of the last ``context`` positions, with rotary position embeddings (relative, so the
window can slide forever). The state is every layer's keys and values of the last
``context - 1`` positions (a rolling KV cache), so reading a text in chunks gives exactly the
logits of one pass, as the recurrent models' state does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .registry import ModelConfig, ModelOutput, State, register


@dataclass
class TransformerConfig(ModelConfig):
    hidden: int = 144  # embedding width, solved from the budget in multiples of n_head
    n_layer: int = 4  # nanoGPT's CPU recipe: 4 layers, 4 heads
    n_head: int = 4
    context: int = 128  # characters each position attends to, itself included
    dropout: float = 0.1

    width_multiple = 8  # hidden must split into heads of even size (rotary pairs)


def rotary(x: Tensor, positions: Tensor) -> Tensor:
    """Rotate channel pairs by position-dependent angles (Su et al. 2021): relative positions."""
    d = x.shape[-1]
    # float64: at positions in the thousands, float32 angles round differently for a chunk than
    # for the whole text, and chunked reading would drift from one pass by ~1e-4
    freqs = 10000 ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float64) / d)
    angles = positions[:, None].double() * freqs  # (T, d/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class SelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.hidden, 3 * config.hidden)
        self.proj = nn.Linear(config.hidden, config.hidden)
        self.dropout = config.dropout

    def forward(self, x: Tensor, mask: Tensor, positions: Tensor, past: tuple[Tensor, Tensor] | None
                ) -> tuple[Tensor, Tensor, Tensor]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, nh, P + T, d)
        # the cache holds unrotated keys; rotating by positions relative to this chunk keeps the
        # angles small however long the text
        y = F.scaled_dot_product_attention(
            rotary(q, positions[-T:]), rotary(k, positions), v, attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, C)), k, v


class Block(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.hidden)
        self.mlp = nn.Sequential(nn.Linear(config.hidden, 4 * config.hidden), nn.GELU(),
                                 nn.Linear(4 * config.hidden, config.hidden), nn.Dropout(config.dropout))

    def forward(self, x, mask, positions, past):
        a, k, v = self.attn(self.ln_1(x), mask, positions, past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), k, v


@register("transformer")
class Transformer(nn.Module):
    """State: ``k.i`` and ``v.i``, layer i's keys and values of the last ``context - 1`` positions."""

    Config = TransformerConfig

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.hidden)
        self.head = nn.Linear(config.hidden, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # weight tying, as GPT-2 and nanoGPT
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scaled residual projections (GPT-2)
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        """``cnn_off`` is accepted for a uniform interface; there is no CNN here."""
        state = state or {}
        T = tokens.shape[1]
        P = state["k.0"].shape[2] if state else 0
        positions = torch.arange(-P, T, device=tokens.device)
        delta = positions[-T:, None] - positions[None, :]  # (T, P + T): query minus key position
        mask = (delta >= 0) & (delta < self.config.context)
        x = self.drop(self.embed(tokens))
        keep = self.config.context - 1
        new_state = {}
        for i, block in enumerate(self.blocks):
            past = (state[f"k.{i}"], state[f"v.{i}"]) if state else None
            x, k, v = block(x, mask, positions, past)
            new_state[f"k.{i}"], new_state[f"v.{i}"] = k[:, :, -keep:], v[:, :, -keep:]
        return ModelOutput(self.head(self.ln_f(x)), new_state, {})


