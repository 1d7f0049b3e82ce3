"""A fused one-character step for generation, in NumPy, equal to ``model(tokens, state)``.

At batch size 1 a PyTorch step costs mostly per-op dispatch (~5-10 us an op), and a model's
forward is dozens of small ops. Here every weight is prepared once: input projections become
per-character tables, convolutions become one matrix product over the stacked window, gates are
fused. Where a matrix's values are float16 numbers, as in every saved checkpoint, it is
also kept in float16 for a compiled product that reads half the bytes (``half_product.py``).

The code mirrors the modules one to one, so a change to a model has one obvious place to go here:
a stepper per layer (``GRUStepper``, ``CharCNNStepper``, ``DepthwiseCausalConvStepper``,
``GatedCausalConvStepper``, ``WindowAttentionStepper``, ``SplitGateStepper``) and one per model
class, each built from the module it mirrors, and ``STEPPERS`` maps each model class to its
stepper. Every stepper takes a batch of rows (tokens
``(B,)``) so several generations can step together; rows never mix. The state has exactly the
layout of ``model.forward``'s (as NumPy arrays, batch first), so a text can switch between the
two paths at any character; ``tests/models/test_numpy_step.py`` holds them equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .half_product import HalfMatrix
from .layers import CharCNN, DepthwiseCausalConv, GatedCausalConv, SplitGate, WindowAttention
from .recurrent import WINDOW_STATE, CNNPost, CNNPre, GRUModel, Hybrid
from .registry import State

NumpyState = dict[str, np.ndarray]
Trace = dict[str, np.ndarray]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy().copy()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warnings, same value


# Products of a batch of rows with a weight matrix, by the fastest route for the shape. Float16-
# stored weights win below HALF_ROWS rows (the GRU's 531 x 1593 on one idle core: 40 us at one
# row against NumPy's 107, 179 at 16 rows against torch's 208; at 30 rows 353 against 346).
# Otherwise, at one row NumPy's matrix-vector product is
# the fastest here; from two rows on, OpenBLAS's small-matrix product reads a large matrix several
# times over (436 x 1308: 52 us for one row, 202 us for two), where torch's GEMM (oneDNN) takes
# 69 us, and from eight rows on torch wins for every matrix of these models.
HALF_ROWS = 24  # rows below which the float16-stored product is used (from 24 on torch wins)
MANY_ROWS, LARGE = 8, 400_000  # rows from which torch multiplies any matrix; elements of a large one


# Prepared weights: named fields, laid out for row-major batches (x @ w).


class Dense:
    """An affine map ``x @ w (+ b)``: an ``nn.Linear`` (weight stored transposed), a fused conv,
    or a slice of a layer's input projection. Equal to the float32 product up to rounding."""

    __slots__ = ("w", "b", "half")

    def __init__(self, w: np.ndarray, b: np.ndarray | None = None):
        self.w = np.ascontiguousarray(w, dtype=np.float32)  # (in, out)
        self.b = b  # (out,) or None
        self.half = HalfMatrix.of(self.w, b)  # None unless every weight is a float16 number

    @classmethod
    def of(cls, linear: nn.Linear) -> Dense:
        return cls(_np(linear.weight).T, _np(linear.bias))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Rows x (B, in) -> (B, out)."""
        rows = len(x)
        if self.half is not None and rows < HALF_ROWS:
            return self.half(x)
        if rows >= MANY_ROWS or (rows > 1 and self.w.size >= LARGE):
            y = torch.mm(torch.from_numpy(x), torch.from_numpy(self.w)).numpy()
        else:
            y = x @ self.w
        return y if self.b is None else y + self.b


@dataclass(frozen=True, slots=True)
class Norm:
    """An ``nn.LayerNorm``'s affine weights and epsilon."""

    weight: np.ndarray
    bias: np.ndarray
    eps: float
    average: np.ndarray  # (C, 1) of 1/C: x @ average is the row means, kept as a column

    @classmethod
    def of(cls, norm: nn.LayerNorm) -> Norm:
        C = norm.weight.shape[0]
        return cls(_np(norm.weight), _np(norm.bias), norm.eps, np.full((C, 1), 1 / C, np.float32))


@dataclass(frozen=True, slots=True)
class GRULayer:
    """One layer of an ``nn.GRU``; the 3H columns are torch's gates in order (r, z, n)."""

    input: Dense | None  # x @ w_ih + b_ih: (in, 3H); None in layer 0, whose caller projects
    hidden: Dense  # h @ w_hh + b_hh: (H, 3H)


def layer_norm(x: np.ndarray, norm: Norm) -> np.ndarray:
    """``nn.LayerNorm`` over the last axis (biased variance, as torch); rows stay apart.

    The means are products with a column of 1/C: a quarter of ``ndarray.mean``'s overhead, which
    dominates at a few rows."""
    average = norm.average
    d = x - x @ average
    return d / np.sqrt((d * d) @ average + norm.eps) * norm.weight + norm.bias


def highway(x: np.ndarray, proj: Dense) -> np.ndarray:
    """``Highway.forward``: g * relu(h) + (1 - g) * x, with [h; g] = proj(x)."""
    hg = proj(x)
    D = x.shape[1]
    g = sigmoid(hg[:, D:])
    return g * np.maximum(hg[:, :D], 0.0) + (1 - g) * x


def conv_taps(conv: nn.Conv1d) -> np.ndarray:
    """A Conv1d's weights as one (k * in, out) matrix over its k input taps, oldest first."""
    w = _np(conv.weight)  # (out, in, k)
    return w.transpose(2, 1, 0).reshape(-1, w.shape[0]).copy()


def conv_over_window(conv: nn.Conv1d, span: int) -> np.ndarray:
    """An undilated Conv1d over the last ``span`` >= k inputs: older rows are zero.

    Several kernel widths over one window thus become a single product.
    """
    taps = conv_taps(conv)
    zeros = np.zeros((span * conv.in_channels - len(taps), taps.shape[1]), np.float32)
    return np.concatenate([zeros, taps])


def window(history: np.ndarray | None, x: np.ndarray, size: int) -> np.ndarray:
    """``CausalHistory.extend`` at one position: the last ``size`` inputs and ``x`` (B, size + 1,
    C), zeros where a text has no history yet. ``window[:, 1:]`` is the new history."""
    if history is None:
        history = np.zeros((len(x), size, x.shape[-1]), np.float32)
    return np.concatenate([history, x[:, None]], axis=1)


# Layer steppers: each is built from the module it mirrors and steps one position of B rows.


class GRUStepper:
    """``nn.GRU`` at one position, layer by layer.

    Layer 0's input projection is passed in, so a model can read it from a per-character table
    instead of computing it; the upper layers compute theirs.
    """

    def __init__(self, gru: nn.GRU):
        self.hidden = gru.hidden_size
        self.layers = [
            GRULayer(input=Dense(_np(getattr(gru, f"weight_ih_l{i}")).T,
                                 _np(getattr(gru, f"bias_ih_l{i}"))) if i else None,
                     hidden=Dense(_np(getattr(gru, f"weight_hh_l{i}")).T,
                                  _np(getattr(gru, f"bias_hh_l{i}"))))
            for i in range(gru.num_layers)
        ]

    def __call__(self, gi0: np.ndarray, h: np.ndarray | None) -> np.ndarray:
        """gi0: layer 0's input projection, bias included (B, 3H); h: (B, layers, H) or None
        (zeros). Returns the new hidden state (B, layers, H)."""
        H = self.hidden
        if h is None:
            h = np.zeros((len(gi0), len(self.layers), H), np.float32)
        new = np.empty_like(h)
        gi = gi0
        for i, layer in enumerate(self.layers):
            if i > 0:
                gi = layer.input(new[:, i - 1])
            gh = layer.hidden(h[:, i])
            rz = sigmoid(gi[:, :2 * H] + gh[:, :2 * H])
            n = np.tanh(gi[:, 2 * H:] + rz[:, :H] * gh[:, 2 * H:])
            new[:, i] = n + rz[:, H:] * (h[:, i] - n)  # (1 - z) * n + z * h
        return new


class CharCNNStepper:
    """``CharCNN`` and its highway at one position: every width in one product over the last
    ``max(widths)`` embeddings (narrower kernels see zeros in the older rows)."""

    def __init__(self, cnn: CharCNN):
        self.history = cnn.history
        span = cnn.history + 1
        self.conv = Dense(np.concatenate([conv_over_window(c, span) for c in cnn.convs], axis=1),
                          np.concatenate([_np(c.bias) for c in cnn.convs]))  # (span * E, F)
        self.highway = Dense.of(cnn.highway.proj)

    def __call__(self, e: np.ndarray, history: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """e: embeddings (B, E); history: (B, max(widths) - 1, E) or None. -> features, history."""
        w = window(history, e, self.history)
        f = np.maximum(self.conv(w.reshape(len(e), -1)), 0.0)
        return highway(f, self.highway), w[:, 1:]


class DepthwiseCausalConvStepper:
    """``DepthwiseCausalConv`` at one position: each channel's last ``width`` values, weighted
    per channel and summed, plus the input."""

    def __init__(self, layer: DepthwiseCausalConv):
        self.history = layer.history
        self.taps = _np(layer.conv.weight)[:, 0].T.copy()  # (width, C), oldest first
        self.bias = _np(layer.conv.bias)

    def __call__(self, x: np.ndarray, history: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """x: (B, C); history: the last inputs (B, width - 1, C) or None. -> output, history."""
        w = window(history, x, self.history)
        return x + (w * self.taps).sum(1) + self.bias, w[:, 1:]


class GatedCausalConvStepper:
    """``GatedCausalConv`` at one position: LayerNorm, the k dilated taps of the window in one
    product, GLU, residual."""

    def __init__(self, layer: GatedCausalConv):
        self.norm = Norm.of(layer.norm)
        self.conv = Dense(conv_taps(layer.conv), _np(layer.conv.bias))  # (k * C, 2C)
        self.history = layer.history
        k, dilation = layer.conv.kernel_size[0], layer.conv.dilation[0]
        self.taps = np.arange(k) * dilation  # the k positions of the window the kernel reads

    def __call__(self, x: np.ndarray, history: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """x: (B, C); history: the last normalised inputs (B, (k - 1) * dilation, C) or None."""
        w = window(history, layer_norm(x, self.norm), self.history)
        y = self.conv(w[:, self.taps].reshape(len(x), -1))
        C = x.shape[1]
        return x + y[:, :C] * sigmoid(y[:, C:]), w[:, 1:]


class WindowAttentionStepper:
    """``WindowAttention`` at one position: the query scores the keys of the last ``window``
    positions, its own included; keys and values are one fused product."""

    def __init__(self, attn: WindowAttention):
        self.window = attn.window
        self.query = Dense.of(attn.query)
        self.key_value = Dense(  # keys and values of the features in one product
            np.concatenate([_np(attn.key.weight), _np(attn.value.weight)]).T,
            np.concatenate([_np(attn.key.bias), _np(attn.value.bias)]))
        self.distance_bias = _np(attn.distance_bias)[::-1].copy()  # oldest first
        self.scale = attn.scale

    def __call__(self, queries: np.ndarray, features: np.ndarray,
                 past: tuple[np.ndarray, np.ndarray, np.ndarray] | None
                 ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """queries (B, Q), features (B, K), past (keys, values, exists) or None.

        Returns the context (B, A), the weights (B, window) oldest first, and the new past.
        """
        B = len(queries)
        kv = self.key_value(features)
        A = kv.shape[1] // 2
        if past is None:
            past = (np.zeros((B, self.window - 1, A), np.float32),
                    np.zeros((B, self.window - 1, A), np.float32),
                    np.zeros((B, self.window - 1), bool))
        past_k, past_v, past_e = past
        keys = np.concatenate([past_k, kv[:, None, :A]], axis=1)  # (B, W, A)
        values = np.concatenate([past_v, kv[:, None, A:]], axis=1)
        exists = np.concatenate([past_e, np.ones((B, 1), bool)], axis=1)
        scores = np.matmul(keys, self.query(queries)[:, :, None])[:, :, 0] * self.scale
        scores = scores + self.distance_bias
        scores = np.where(exists, scores, -np.inf)
        weights = np.exp(scores - scores.max(-1, keepdims=True))  # the current position exists
        weights /= weights.sum(-1, keepdims=True)
        context = np.matmul(weights[:, None], values)[:, 0]  # batched products: einsum's overhead
        return context, weights, (keys[:, 1:], values[:, 1:], exists[:, 1:])


class SplitGateStepper:
    """``SplitGate`` at one position: the projection's columns split per part, so the parts need
    no concatenation."""

    def __init__(self, gate: SplitGate):
        w = _np(gate.proj.weight).T  # ((1 + S) * C, 1 + S)
        self.parts = [Dense(p) for p in np.split(w, 1 + gate.contexts)]
        self.bias = _np(gate.proj.bias)

    def __call__(self, parts: list[np.ndarray], dropped: np.ndarray | None = None) -> np.ndarray:
        """parts: the GRU state and each context (B, C); dropped: (1 + S,) bool or None."""
        logits = self.bias + sum(w(p) for p, w in zip(parts, self.parts, strict=True))
        if dropped is not None:
            logits = np.where(dropped, -np.inf, logits)
        split = np.exp(logits - logits.max(-1, keepdims=True))
        return split / split.sum(-1, keepdims=True)


# Model steppers: one per model class, each ``step`` following that class's ``forward``.


class GRUModelStepper:
    """``GRUModel``: embedding -> GRU -> head.

    The embedding only feeds the GRU's first input projection, so that projection of every
    character is precomputed as a table (vocab, 3H): a row lookup instead of a product per step.
    """

    def __init__(self, model: GRUModel, embedding_columns: int | None = None):
        """``embedding_columns``: how many leading GRU input columns the embedding fills (all)."""
        self.embed = _np(model.embed.weight)  # (vocab, E)
        self.gru = GRUStepper(model.gru)
        w_ih = _np(model.gru.weight_ih_l0)  # (3H, GRU input)
        E = w_ih.shape[1] if embedding_columns is None else embedding_columns
        by_embedding = self.embed @ w_ih[:, :E].T if E else np.zeros((len(self.embed), len(w_ih)),
                                                                      np.float32)
        self.input_table = by_embedding + _np(model.gru.bias_ih_l0)  # (vocab, 3H)
        self.head = Dense.of(model.head)

    def step(self, tokens: np.ndarray, state: NumpyState | None = None, cnn_off: bool = False
             ) -> tuple[np.ndarray, NumpyState, Trace]:
        """One character per row: tokens (B,) ints -> logits (B, vocab), new state, trace."""
        state = state or {}
        h = self.gru(self.input_table[tokens], state.get("gru"))
        return self.head(h[:, -1]), {"gru": h}, {"units": h[:, -1]}


class CNNPreStepper(GRUModelStepper):
    """``CNNPre``: the GRU's first projection splits into the embedding's columns and the
    CharCNN features' (skipped when ``cnn_off`` zeroes them). Without the depthwise convolution
    the embedding's columns are a per-character table; with it they are a product with the
    convolved embedding (the plain one when ``cnn_off``)."""

    def __init__(self, model: CNNPre):
        c = model.config
        E = c.embed_dim if c.concat_embedding or not c.ngram else 0
        super().__init__(model, E)
        w_ih = _np(model.gru.weight_ih_l0)  # (3H, GRU input)
        self.cnn = self.feature_in = self.depthwise = self.embedding_in = None
        if model.cnn is not None:
            self.cnn = CharCNNStepper(model.cnn)
            self.feature_in = Dense(w_ih[:, E:].T)  # (F, 3H)
        if model.depthwise is not None:  # the convolved embedding: a product, not a table
            self.depthwise = DepthwiseCausalConvStepper(model.depthwise)
            self.embedding_in = Dense(w_ih[:, :E].T, _np(model.gru.bias_ih_l0))  # (E, 3H)

    def step(self, tokens: np.ndarray, state: NumpyState | None = None, cnn_off: bool = False
             ) -> tuple[np.ndarray, NumpyState, Trace]:
        state = state or {}
        new: NumpyState = {}
        e = x = self.embed[tokens]  # (B, E)
        if self.depthwise is not None:
            x, new["depthwise"] = self.depthwise(e, state.get("depthwise"))
            gi = self.embedding_in(e if cnn_off else x)
        else:
            gi = self.input_table[tokens]
        if self.cnn is not None:
            f, new["cnn"] = self.cnn(x, state.get("cnn"))
            if not cnn_off:
                gi = gi + self.feature_in(f)
        new["gru"] = h = self.gru(gi, state.get("gru"))
        return self.head(h[:, -1]), new, {"units": h[:, -1]}


class CNNPostStepper(GRUModelStepper):
    """``CNNPost``: the GRU output plus up(refine(down(it))); the refinement always runs, so its
    state stays current when ``cnn_off`` leaves its output out. With ``placement="embed+gru"``
    the embedding's part of ``down`` is a per-character table."""

    def __init__(self, model: CNNPost):
        super().__init__(model)
        down, down_bias = _np(model.down.weight).T, _np(model.down.bias)  # (E + H, R) or (H, R)
        E = down.shape[0] - model.config.hidden
        self.down_table = self.embed[:, :E] @ down[:E] + down_bias  # (vocab, R); E = 0: the bias
        self.down = Dense(down[E:])  # (H, R)
        self.refine = [GatedCausalConvStepper(layer) for layer in model.refine]
        self.up = Dense.of(model.up)

    def step(self, tokens: np.ndarray, state: NumpyState | None = None, cnn_off: bool = False
             ) -> tuple[np.ndarray, NumpyState, Trace]:
        state = state or {}
        h = self.gru(self.input_table[tokens], state.get("gru"))
        g = h[:, -1]
        new: NumpyState = {"gru": h}
        u = self.down(g) + self.down_table[tokens]
        for i, layer in enumerate(self.refine):
            u, new[f"post.{i}"] = layer(u, state.get(f"post.{i}"))
        out = g if cnn_off else g + self.up(u)
        return self.head(out), new, {"units": g}


class HybridStepper(GRUModelStepper):
    """``Hybrid``: the GRU state attends over each source's window (CharCNN features, past GRU
    states), and a gate mixes the contexts with the GRU state. The reliance gate's weight is
    split in its g and c halves, which saves concatenating them."""

    def __init__(self, model: Hybrid):
        super().__init__(model)
        self.cnn = self.attn = self.memory_attn = None
        if model.cnn is not None:
            self.cnn = CharCNNStepper(model.cnn)
            self.attn = WindowAttentionStepper(model.attn)
            self.context_out = Dense.of(model.context_out)
        if model.memory_attn is not None:
            self.memory_attn = WindowAttentionStepper(model.memory_attn)
            self.memory_out = Dense.of(model.memory_out)
        self.reliance_gate = model.config.gate == "reliance"
        if self.reliance_gate:
            gate_w = _np(model.gate.weight)[0]  # (2H,): [g; c]
            H = model.config.hidden
            self.gate_g, self.gate_c = gate_w[:H].copy(), gate_w[H:].copy()
            self.gate_b = float(_np(model.gate.bias)[0])
        else:
            self.split_gate = SplitGateStepper(model.gate)

    def step(self, tokens: np.ndarray, state: NumpyState | None = None, cnn_off: bool = False
             ) -> tuple[np.ndarray, NumpyState, Trace]:
        state = state or {}
        h = self.gru(self.input_table[tokens], state.get("gru"))
        g = h[:, -1]  # (B, H)
        new: NumpyState = {"gru": h}
        contexts, attention = [], []
        if self.cnn is not None:
            f, new["cnn"] = self.cnn(self.embed[tokens], state.get("cnn"))
            context, weights, past = self.attn(g, f, _window_past(state, ""))
            new.update(zip(WINDOW_STATE, past, strict=True))
            contexts.append(self.context_out(context))  # (B, H)
            attention.append(weights)
        if self.memory_attn is not None:
            context, weights, past = self.memory_attn(g, g, _window_past(state, "memory."))
            new.update(zip(("memory." + k for k in WINDOW_STATE), past, strict=True))
            contexts.append(self.memory_out(context))
            attention.append(weights)
        if self.reliance_gate:
            c = contexts[0]
            reliance = sigmoid(g @ self.gate_g + c @ self.gate_c + self.gate_b)  # (B,)
            if cnn_off:
                reliance = np.zeros_like(reliance)
            mixed = reliance[:, None] * c + (1 - reliance[:, None]) * g
            return self.head(mixed), new, {"attention": attention[0], "reliance": reliance,
                                           "units": g}
        dropped = None
        if cnn_off and self.cnn is not None:  # the CNN context (column 1): no weight, no say
            dropped = np.arange(1 + len(contexts)) == 1
            contexts[0] = np.zeros_like(contexts[0])
        split = self.split_gate([g, *contexts], dropped)  # (B, 1 + S)
        mixed = split[:, :1] * g
        for i, c in enumerate(contexts, start=1):
            mixed = mixed + split[:, i:i + 1] * c
        trace = {"attention": np.concatenate(attention, axis=1), "split": split, "units": g}
        if self.cnn is not None:
            trace["reliance"] = split[:, 1]
        return self.head(mixed), new, trace


def _window_past(state: NumpyState, prefix: str) -> tuple[np.ndarray, ...] | None:
    """``recurrent.window_past`` for a NumPy state."""
    if prefix + "keys" not in state:
        return None
    return tuple(state[prefix + k] for k in WINDOW_STATE)


# The one dispatch: a model's exact class picks its stepper (a subclass may change forward).
STEPPERS: dict[type[nn.Module], type[GRUModelStepper]] = {
    GRUModel: GRUModelStepper,
    CNNPre: CNNPreStepper,
    CNNPost: CNNPostStepper,
    Hybrid: HybridStepper,
}


def stepper_for(model: nn.Module) -> GRUModelStepper:
    """The prepared stepper of ``model`` (put in eval mode, as the step has no dropout)."""
    cls = STEPPERS.get(type(model))
    if cls is None:
        raise TypeError(f"no NumPy stepper for {type(model).__name__}: add one to STEPPERS in "
                        f"cnngru/models/numpy_step.py (it covers "
                        f"{', '.join(c.__name__ for c in STEPPERS)})")
    return cls(model.eval())


class FastStep:
    """Prepared weights of one model; ``step`` is pure, so one instance serves every user."""

    def __init__(self, model: nn.Module):
        self.stepper = stepper_for(model)

    def step(self, tokens: np.ndarray, state: NumpyState | None = None, cnn_off: bool = False
             ) -> tuple[np.ndarray, NumpyState, Trace]:
        """One character per row: tokens (B,) ints -> logits (B, vocab), new state, trace."""
        return self.stepper.step(tokens, state, cnn_off)


def weight_products(stepper) -> list[Dense]:
    """Every product a step makes with a weight matrix (per-character tables are looked up: left
    out)."""
    found, seen = [], set()

    def visit(obj, depth=0):
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        if isinstance(obj, Dense):
            if obj.w.size:  # an empty slice (no n-gram features) is never multiplied
                found.append(obj)
        elif isinstance(obj, GRUStepper):
            for layer in obj.layers:  # layer 0's input projection is a per-character table
                found.extend(d for d in (layer.input, layer.hidden) if d is not None)
        elif isinstance(obj, list | tuple):
            for item in obj:
                visit(item, depth + 1)
        elif hasattr(obj, "__dict__"):
            for value in vars(obj).values():
                visit(value, depth + 1)

    visit(stepper)
    return found


def stack_states(states: list[NumpyState]) -> NumpyState:
    """Several texts' states (each with batch dimension) as one batch, in order."""
    return {k: np.concatenate([s[k] for s in states]) for k in states[0]}


def split_states(state: NumpyState) -> list[NumpyState]:
    """A batch's state as one state per row (each keeping a batch dimension of 1)."""
    rows = len(next(iter(state.values())))
    return [{k: v[i:i + 1] for k, v in state.items()} for i in range(rows)]


def to_numpy_state(state: State) -> NumpyState:
    return {k: v.detach().cpu().numpy() if v.dtype == torch.bool else _np(v)
            for k, v in state.items()}


def to_torch_state(state: NumpyState, device: torch.device | str = "cpu") -> State:
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in state.items()}
