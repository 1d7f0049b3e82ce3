"""The four character-level language models: a GRU baseline and three ways to add a CNN.

All of them are strictly causal (the output at position t depends on characters <= t only) and
have one forward path: ``model(tokens, state=None) -> ModelOutput(logits, state, trace)`` on a
chunk of any length. Training feeds long chunks, generation one character at a time, scoring
whole texts; carrying the state between chunks gives the same logits as one full pass.

    gru       embedding -> GRU -> head
    cnn-pre   embedding -> CharCNN (n-gram detectors + highway) -> [embedding; features] -> GRU -> head
              (or a depthwise causal convolution on the embedding, or both: ``form``)
    cnn-post  embedding -> GRU -> gated residual causal CNN stack over the GRU outputs -> head
    hybrid    GRU states attend over the CharCNN features of a window of recent positions;
              a learned per-position weight mixes that CNN context with the GRU state -> head
              (or over a long window of CNN features and past GRU states, three-way: ``gate``)

The config defaults are each strategy's first design; ``designs.py`` names the others (config
overrides) and which one is shipped.

``cnn_off=True`` removes the CNN path (features zeroed, convolutions and refinement skipped, the
CNN context's weight 0): comparing the two runs measures how much the CNN changes a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .gru_sequence import gru_sequence
from .layers import CharCNN, DepthwiseCausalConv, GatedCausalConv, SplitGate, WindowAttention
from .registry import ModelConfig, ModelOutput, State, register

INITS = ("default", "scaled")


@dataclass
class GRUConfig(ModelConfig):
    embed_dim: int = 64  # characters need few dimensions; the GRU does the work
    layers: int = 1  # stacked GRU layers (dropout between them when more than one)
    dropout: float = 0.1  # on embeddings and GRU outputs; 1M params overfit Shakespeare quickly
    init: str = "default"  # PyTorch's, as the shipped checkpoints; "scaled": see init_weights

    def __post_init__(self):
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, not {self.init!r}")
        if self.layers < 1:
            raise ValueError(f"layers must be at least 1, not {self.layers}")


# CNN widths left as None follow the GRU width, so any parameter budget can be met and the
# share of parameters each part gets stays the same from a test-sized model to the shipped one.

PRE_FORMS = ("ngram", "depthwise", "depthwise+ngram")


@dataclass
class CNNPreConfig(GRUConfig):
    form: str = "ngram"  # "ngram" (CharCNN), "depthwise" (a nearly free short conv) or both
    widths: tuple[int, ...] = (2, 3, 4, 5, 6)  # n-gram sizes the detectors look at
    filters: int | None = None  # detectors per width; None: hidden / 8 (48 at the 1M budget)
    concat_embedding: bool = True  # GRU input: [embedding; CNN features] (False: features only)
    conv_width: int = 4  # the depthwise convolution's reach: Mamba's d_conv = 4

    def __post_init__(self):
        super().__post_init__()
        if self.form not in PRE_FORMS:
            raise ValueError(f"cnn-pre form must be one of {PRE_FORMS}, not {self.form!r}")
        if self.ngram:
            self.filters = self.filters or max(4, round(self.hidden / 8))

    @property
    def ngram(self) -> bool:
        return self.form in ("ngram", "depthwise+ngram")

    @property
    def depthwise(self) -> bool:
        return self.form in ("depthwise", "depthwise+ngram")


POST_PLACEMENTS = ("gru", "embed+gru")


@dataclass
class CNNPostConfig(GRUConfig):
    refine_dim: int | None = None  # refinement stack width (a bottleneck); None: see refine_ratio
    refine_ratio: float = 1 / 3  # the bottleneck's share of the GRU width when refine_dim is None
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4)  # receptive field 1 + 2 * (1 + 2 + 4) = 15 GRU outputs
    placement: str = "gru"  # the stack reads the GRU outputs ("gru") or [embedding; GRU output]

    def __post_init__(self):
        super().__post_init__()
        if self.placement not in POST_PLACEMENTS:
            raise ValueError(f"cnn-post placement must be one of {POST_PLACEMENTS}, "
                             f"not {self.placement!r}")
        self.refine_dim = self.refine_dim or max(8, round(self.hidden * self.refine_ratio))


HYBRID_SOURCES = (("cnn",), ("cnn", "memory"), ("memory",))
HYBRID_GATES = ("reliance", "split")


@dataclass
class HybridConfig(GRUConfig):
    widths: tuple[int, ...] = (2, 3, 4, 5, 6)
    filters: int | None = None  # None: hidden / 8
    window: int = 32  # recent positions the GRU state may attend to (each source's own window)
    attn_dim: int | None = None  # None: hidden / 7 (64 at the 1M budget)
    sources: tuple[str, ...] = ("cnn",)  # what the window holds: CNN features, past GRU states
    gate: str = "reliance"  # "reliance": sigmoid, GRU vs CNN; "split": softmax, starts as the GRU

    def __post_init__(self):
        super().__post_init__()
        if self.sources not in HYBRID_SOURCES:
            raise ValueError(f"hybrid sources must be one of {HYBRID_SOURCES}, "
                             f"not {self.sources!r}")
        if self.gate not in HYBRID_GATES:
            raise ValueError(f"hybrid gate must be one of {HYBRID_GATES}, not {self.gate!r}")
        if self.gate == "reliance" and self.sources != ("cnn",):
            raise ValueError("the reliance gate weighs the GRU state against the CNN context "
                             "only: use gate='split' for other sources")
        if "cnn" in self.sources:
            self.filters = self.filters or max(4, round(self.hidden / 8))
        self.attn_dim = self.attn_dim or max(8, round(self.hidden / 7))


@register("gru")
class GRUModel(nn.Module):
    """The baseline, embedding -> GRU -> head; each CNN variant extends it.

    State: ``gru``, the hidden state (B, layers, H). Trace, in every variant: ``units`` (B, T, H),
    the GRU's output at each position (its top layer), whose units the Inside tab reads.
    """

    Config = GRUConfig

    def __init__(self, config: GRUConfig, gru_input: int | None = None):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.gru = nn.GRU(gru_input or config.embed_dim, config.hidden, config.layers,
                          batch_first=True, dropout=config.dropout if config.layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """The config's initialisation scheme, in one place; every model's constructor ends here.

        "default" keeps each module's PyTorch initialisation (nn.Embedding N(0, 1); Linear, Conv1d
        and GRU uniform within 1/sqrt(fan in) or 1/sqrt(H)), where the shipped checkpoints
        started. "scaled" draws every matrix with variance 1 / fan in, so the N(0, 1) embedding's
        unit variance carries through each layer; the GRU's recurrent matrices are orthogonal
        (Saxe et al. 2014: nothing grows or fades through time at the start); biases and the head
        are zero, so the first prediction is uniform (loss ln V), not confident noise. Then each
        layer's own ``special_init`` again: the highway's nearly closed gates, the depthwise
        convolution's zeros, the split gate that starts as the plain GRU.
        """
        if self.config.init == "default":
            return  # the layers' special cases were set by their constructors
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d)):
                nn.init.normal_(m.weight, std=m.weight[0].numel() ** -0.5)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.GRU):
                for name, p in m.named_parameters():
                    if name.startswith("weight_ih"):
                        nn.init.normal_(p, std=p.shape[1] ** -0.5)
                    elif name.startswith("weight_hh"):
                        for gate in p.chunk(3):  # r, z, n: one orthogonal matrix each
                            nn.init.orthogonal_(gate)
                    else:
                        nn.init.zeros_(p)
        nn.init.zeros_(self.head.weight)
        for m in self.modules():
            if hasattr(m, "special_init"):
                m.special_init()

    def run_gru(self, x: Tensor, state: State) -> tuple[Tensor, Tensor]:
        """GRU over (B, T, I); the hidden state is kept batch-first as (B, layers, H)."""
        h0 = state.get("gru")
        h0 = None if h0 is None else h0.transpose(0, 1).contiguous()
        with torch.autocast(x.device.type, enabled=False):  # the recurrence stays in fp32
            if x.device.type == "cpu" and torch.is_grad_enabled():
                # training on a CPU: nn.GRU's maths and gradients, and much less slowed down
                # than nn.GRU's autograd when other work shares the cores (gru_sequence.py)
                out, h = gru_sequence(self.gru, x.float(), h0)
            else:
                out, h = self.gru(x.float(), h0)
        return out, h.transpose(0, 1)

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        state = state or {}
        x = self.dropout(self.embed(tokens))  # (B, T, E)
        g, h = self.run_gru(x, state)  # (B, T, H)
        return ModelOutput(self.head(self.dropout(g)), {"gru": h}, {"units": g})


@register("cnn-pre")
class CNNPre(GRUModel):
    """A CNN in front of the GRU, in one of three forms (``config.form``):

        ngram            [embedding; CharCNN(embedding)] -> GRU  (or CharCNN(embedding) alone:
                         concat_embedding=False)
        depthwise        x = embedding + DepthwiseConv(embedding) -> GRU
        depthwise+ngram  x = embedding + DepthwiseConv(embedding); [x; CharCNN(x)] -> GRU

    The depthwise convolution starts at zero, so that form starts as the plain GRU. State:
    ``gru``, ``cnn`` (the CharCNN's last inputs) and ``depthwise`` (the convolution's).
    """

    Config = CNNPreConfig

    def __init__(self, config: CNNPreConfig):
        c = config
        cnn = CharCNN(c.embed_dim, c.widths, c.filters, c.dropout) if c.ngram else None
        embedding_columns = c.embed_dim if c.concat_embedding or not c.ngram else 0
        super().__init__(config, embedding_columns + (cnn.out_dim if cnn else 0))
        self.cnn = cnn
        self.depthwise = DepthwiseCausalConv(c.embed_dim, c.conv_width) if c.depthwise else None
        self.init_weights()

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        state = state or {}
        e = self.embed(tokens)  # (B, T, E)
        new_state = {}
        x = e
        if self.depthwise is not None:
            x, new_state["depthwise"] = self.depthwise(e, state.get("depthwise"))  # (B, T, E)
        parts = []
        if self.config.concat_embedding or self.cnn is None:
            parts.append(self.dropout(e if cnn_off else x))
        if self.cnn is not None:  # the CNN always runs, so its state stays current
            f, new_state["cnn"] = self.cnn(x, state.get("cnn"))  # (B, T, F)
            parts.append(torch.zeros_like(f) if cnn_off else f)
        g, new_state["gru"] = self.run_gru(torch.cat(parts, dim=-1), state)  # (B, T, H)
        return ModelOutput(self.head(self.dropout(g)), new_state, {"units": g})


@register("cnn-post")
class CNNPost(GRUModel):
    """GRU, then a causal CNN that refines its outputs: h + up(CNN(down(h))).

    With ``placement="embed+gru"`` the stack reads [embedding; h]: the characters themselves
    beside what the GRU made of them. State: ``gru`` and ``post.i``, the last inputs of
    refinement layer i.
    """

    Config = CNNPostConfig

    def __init__(self, config: CNNPostConfig):
        super().__init__(config)
        reads = config.hidden + config.embed_dim * (config.placement == "embed+gru")
        self.down = nn.Linear(reads, config.refine_dim)
        self.refine = nn.ModuleList(
            GatedCausalConv(config.refine_dim, config.kernel_size, d, config.dropout)
            for d in config.dilations
        )
        self.up = nn.Linear(config.refine_dim, config.hidden)
        self.init_weights()

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        state = state or {}
        x = self.dropout(self.embed(tokens))  # (B, T, E)
        g, h = self.run_gru(x, state)  # (B, T, H)
        new_state = {"gru": h}
        reads = g if self.config.placement == "gru" else torch.cat([x, g], dim=-1)
        u = self.down(reads)  # (B, T, R)
        for i, layer in enumerate(self.refine):
            u, new_state[f"post.{i}"] = layer(u, state.get(f"post.{i}"))
        out = g if cnn_off else g + self.up(u)
        return ModelOutput(self.head(self.dropout(out)), new_state, {"units": g})


WINDOW_STATE = ("keys", "values", "exists")  # a WindowAttention's past, as state keys


def window_past(state: State, prefix: str) -> tuple[Tensor, Tensor, Tensor] | None:
    """The past of the window attention whose state keys start with ``prefix``."""
    if prefix + "keys" not in state:
        return None
    return tuple(state[prefix + k] for k in WINDOW_STATE)


@register("hybrid")
class Hybrid(GRUModel):
    """GRU state and CNN features side by side, weighed by attention and a learned gate.

    The GRU state attends over the last ``window`` positions of each source in
    ``config.sources``: the CharCNN features (``cnn``) and the past GRU states themselves
    (``memory``, as SHA-RNN), one attention each. ``gate`` mixes the contexts with the GRU state:

        reliance  (today's) sigmoid weight ``reliance`` in [0, 1] on the CNN context (1: all CNN)
        split     softmax weights over [GRU state, *contexts] per position, starting at 0.99 on
                  the GRU state (SRU++): the model starts as the plain GRU

    State: ``gru``, ``cnn`` (the CharCNN's last inputs), the CNN window's ``keys``, ``values``,
    ``exists`` and the memory window's ``memory.keys``, ``memory.values``, ``memory.exists``.
    Trace: ``attention`` (B, T, S * W), each source's W weights in turn (``attention_blocks``),
    oldest position first; ``reliance`` (B, T), the CNN context's weight; with the split gate,
    ``split`` (B, T, 1 + S), the weights of the GRU state and of each context.
    """

    Config = HybridConfig

    def __init__(self, config: HybridConfig):
        super().__init__(config)
        c = config
        self.cnn = self.attn = self.context_out = self.memory_attn = self.memory_out = None
        if "cnn" in c.sources:
            self.cnn = CharCNN(c.embed_dim, c.widths, c.filters, c.dropout)
            self.attn = WindowAttention(c.hidden, self.cnn.out_dim, c.attn_dim, c.window)
            self.context_out = nn.Linear(c.attn_dim, c.hidden)
        if "memory" in c.sources:
            self.memory_attn = WindowAttention(c.hidden, c.hidden, c.attn_dim, c.window)
            self.memory_out = nn.Linear(c.attn_dim, c.hidden)
        if c.gate == "reliance":
            self.gate = nn.Linear(2 * c.hidden, 1)
        else:
            self.gate = SplitGate(c.hidden, len(c.sources))
        self.init_weights()

    def attention_blocks(self) -> dict[str, slice]:
        """Which columns of the trace's ``attention`` belong to which source."""
        W = self.config.window
        return {s: slice(i * W, (i + 1) * W) for i, s in enumerate(self.config.sources)}

    def forward(self, tokens: Tensor, state: State | None = None, cnn_off: bool = False) -> ModelOutput:
        state = state or {}
        e = self.embed(tokens)
        g, h = self.run_gru(self.dropout(e), state)  # (B, T, H)
        new_state, contexts, attention = {"gru": h}, [], []
        if self.cnn is not None:
            f, new_state["cnn"] = self.cnn(e, state.get("cnn"))  # (B, T, F)
            context, weights, past = self.attn(g, f, window_past(state, ""))
            new_state.update(zip(WINDOW_STATE, past, strict=True))
            contexts.append(self.context_out(context))  # (B, T, H)
            attention.append(weights)  # (B, T, W)
        if self.memory_attn is not None:
            context, weights, past = self.memory_attn(g, g, window_past(state, "memory."))
            new_state.update(zip(("memory." + k for k in WINDOW_STATE), past, strict=True))
            contexts.append(self.memory_out(context))
            attention.append(weights)
        if self.config.gate == "reliance":
            c = contexts[0]
            reliance = torch.sigmoid(self.gate(torch.cat([g, c], dim=-1))).squeeze(-1)  # (B, T)
            if cnn_off:
                reliance = torch.zeros_like(reliance)
            mixed = reliance[..., None] * c + (1 - reliance[..., None]) * g
            trace = {"attention": attention[0], "reliance": reliance, "units": g}
        else:
            dropped = None
            if cnn_off and self.cnn is not None:  # the CNN context (column 1): no weight, no say
                dropped = torch.arange(1 + len(contexts), device=g.device) == 1
                contexts[0] = torch.zeros_like(contexts[0])
            split = self.gate([g, *contexts], dropped)  # (B, T, 1 + S)
            mixed = split[..., :1] * g
            for i, c in enumerate(contexts, start=1):
                mixed = mixed + split[..., i:i + 1] * c
            trace = {"attention": torch.cat(attention, dim=-1), "split": split, "units": g}
            if self.cnn is not None:
                trace["reliance"] = split[..., 1]
        return ModelOutput(self.head(self.dropout(mixed)), new_state, trace)


VARIANTS: tuple[str, ...] = ("gru", "cnn-pre", "cnn-post", "hybrid")  # the language models compared

