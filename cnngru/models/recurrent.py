"""The four character-level language models: a GRU baseline and three ways to add a CNN.

All of them are strictly causal (the output at position t depends on characters <= t only) and
have one forward path: ``model(tokens, state=None) -> ModelOutput(logits, state, trace)`` on a
chunk of any length. Training feeds long chunks, generation one character at a time, scoring
whole texts; carrying the state between chunks gives the same logits as one full pass.

    gru       embedding -> GRU -> head
    cnn-pre   embedding -> CharCNN (n-gram detectors + highway) -> [embedding; features] -> GRU -> head
    cnn-post  embedding -> GRU -> gated residual causal CNN stack over the GRU outputs -> head
    hybrid    GRU states attend over the CharCNN features of a window of recent positions;
              a learned per-position weight mixes that CNN context with the GRU state -> head

``cnn_off=True`` removes the CNN path (features zeroed, refinement skipped, mixing weight 0):
comparing the two runs measures how much the CNN changes a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .layers import CharCNN, GatedCausalConv, WindowAttention
from .registry import ModelConfig, ModelOutput, State, register


@dataclass
class GRUConfig(ModelConfig):
    embed_dim: int = 64  # characters need few dimensions; the GRU does the work
    layers: int = 1
    dropout: float = 0.1  # on embeddings and GRU outputs; 1M params overfit Shakespeare quickly


# CNN widths left as None follow the GRU width, so any parameter budget can be met and the
# share of parameters each part gets stays the same from a test-sized model to the shipped one.


@dataclass
class CNNPreConfig(GRUConfig):
    widths: tuple[int, ...] = (2, 3, 4, 5, 6)  # n-gram sizes the detectors look at
    filters: int | None = None  # detectors per width; None: hidden / 8 (48 at the 1M budget)
    concat_embedding: bool = True  # GRU input: [embedding; CNN features] (False: features only)

    def __post_init__(self):
        self.filters = self.filters or max(4, round(self.hidden / 8))


@dataclass
class CNNPostConfig(GRUConfig):
    refine_dim: int | None = None  # refinement stack width (a bottleneck); None: hidden / 3
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4)  # receptive field 1 + 2 * (1 + 2 + 4) = 15 GRU outputs

    def __post_init__(self):
        self.refine_dim = self.refine_dim or max(8, round(self.hidden / 3))


@dataclass
class HybridConfig(GRUConfig):
    widths: tuple[int, ...] = (2, 3, 4, 5, 6)
    filters: int | None = None  # None: hidden / 8
    window: int = 32  # recent positions whose CNN features the GRU state may attend to
    attn_dim: int | None = None  # None: hidden / 7 (64 at the 1M budget)

    def __post_init__(self):
        self.filters = self.filters or max(4, round(self.hidden / 8))
        self.attn_dim = self.attn_dim or max(8, round(self.hidden / 7))


@register("gru")
class GRUModel(nn.Module):
    """The baseline, embedding -> GRU -> head; each CNN variant extends it.

    State: ``gru``, the hidden state (B, layers, H). PyTorch's default initialisation throughout.
    """

    Config = GRUConfig

    def __init__(self, config: GRUConfig, gru_input: int | None = None):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.gru = nn.GRU(gru_input or config.embed_dim, config.hidden, config.layers,
                          batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def run_gru(self, x: Tensor, state: State) -> tuple[Tensor, Tensor]:
        """GRU over (B, T, I); the hidden state is kept batch-first as (B, layers, H)."""
        h0 = state.get("gru")
        with torch.autocast(x.device.type, enabled=False):  # the recurrence stays in fp32
            out, h = self.gru(x.float(), None if h0 is None else h0.transpose(0, 1).contiguous())
        return out, h.transpose(0, 1)

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        state = state or {}
        x = self.dropout(self.embed(tokens))  # (B, T, E)
        g, h = self.run_gru(x, state)  # (B, T, H)
        return ModelOutput(self.head(self.dropout(g)), {"gru": h}, {})


@register("cnn-pre")
class CNNPre(GRUModel):
    """CNN feature extractor in front of the GRU. State: ``gru`` and ``cnn`` (last embeddings)."""

    Config = CNNPreConfig

    def __init__(self, config: CNNPreConfig):
        cnn = CharCNN(config.embed_dim, config.widths, config.filters, config.dropout)
        super().__init__(config, cnn.out_dim + config.embed_dim * config.concat_embedding)
        self.cnn = cnn

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        state = state or {}
        e = self.embed(tokens)  # (B, T, E)
        f, cnn_history = self.cnn(e, state.get("cnn"))  # (B, T, F)
        if cnn_off:
            f = torch.zeros_like(f)
        x = torch.cat([self.dropout(e), f], dim=-1) if self.config.concat_embedding else f
        g, h = self.run_gru(x, state)
        return ModelOutput(self.head(self.dropout(g)), {"gru": h, "cnn": cnn_history}, {})


@register("cnn-post")
class CNNPost(GRUModel):
    """GRU, then a causal CNN that refines its outputs: h + up(CNN(down(h))).

    State: ``gru`` and ``post.i``, the last inputs of refinement layer i.
    """

    Config = CNNPostConfig

    def __init__(self, config: CNNPostConfig):
        super().__init__(config)
        self.down = nn.Linear(config.hidden, config.refine_dim)
        self.refine = nn.ModuleList(
            GatedCausalConv(config.refine_dim, config.kernel_size, d, config.dropout)
            for d in config.dilations
        )
        self.up = nn.Linear(config.refine_dim, config.hidden)

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        state = state or {}
        g, h = self.run_gru(self.dropout(self.embed(tokens)), state)  # (B, T, H)
        new_state = {"gru": h}
        u = self.down(g)  # (B, T, R)
        for i, layer in enumerate(self.refine):
            u, new_state[f"post.{i}"] = layer(u, state.get(f"post.{i}"))
        out = g if cnn_off else g + self.up(u)
        return ModelOutput(self.head(self.dropout(out)), new_state, {})


@register("hybrid")
class Hybrid(GRUModel):
    """GRU state and CNN features side by side, weighed by attention and a learned gate.

    The GRU state queries the CharCNN features of the last ``window`` positions; the context is
    mixed with the GRU state by ``reliance`` in [0, 1] (1: all CNN). State: ``gru``, ``cnn``
    and the window's ``keys``, ``values`` and ``exists`` mask. Trace: ``attention`` (B, T, W),
    oldest position first, and ``reliance`` (B, T).
    """

    Config = HybridConfig

    def __init__(self, config: HybridConfig):
        super().__init__(config)
        self.cnn = CharCNN(config.embed_dim, config.widths, config.filters, config.dropout)
        self.attn = WindowAttention(config.hidden, self.cnn.out_dim, config.attn_dim, config.window)
        self.context_out = nn.Linear(config.attn_dim, config.hidden)
        self.gate = nn.Linear(2 * config.hidden, 1)

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        state = state or {}
        e = self.embed(tokens)
        g, h = self.run_gru(self.dropout(e), state)  # (B, T, H)
        f, cnn_history = self.cnn(e, state.get("cnn"))  # (B, T, F)
        past = (state["keys"], state["values"], state["exists"]) if "keys" in state else None
        context, attention, (keys, values, exists) = self.attn(g, f, past)
        c = self.context_out(context)  # (B, T, H)
        reliance = torch.sigmoid(self.gate(torch.cat([g, c], dim=-1))).squeeze(-1)  # (B, T)
        if cnn_off:
            reliance = torch.zeros_like(reliance)
        mixed = reliance[..., None] * c + (1 - reliance[..., None]) * g
        new_state = {"gru": h, "cnn": cnn_history, "keys": keys, "values": values, "exists": exists}
        trace = {"attention": attention, "reliance": reliance}
        return ModelOutput(self.head(self.dropout(mixed)), new_state, trace)


VARIANTS: tuple[str, ...] = ("gru", "cnn-pre", "cnn-post", "hybrid")  # the language models compared
