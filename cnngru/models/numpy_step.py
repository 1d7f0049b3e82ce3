"""A fused one-character step for generation, in NumPy, equal to ``model(tokens, state)``.

At batch size 1 a PyTorch step costs mostly per-op dispatch (~5-10 us an op), and a model's
forward is dozens of small ops. Here every weight is prepared once: input projections become
per-character tables, convolutions become one matrix product over the stacked window, gates are
fused. The state has exactly the layout of ``model.forward``'s (as NumPy arrays), so a text can
switch between the two paths at any character; ``tests/test_fast_step.py`` holds them equal.
"""

from __future__ import annotations

import numpy as np
import torch

from .recurrent import CNNPost, CNNPre, GRUModel, Hybrid
from .registry import State

NumpyState = dict[str, np.ndarray]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy().copy()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warnings, same value


def _conv_taps(conv: torch.nn.Conv1d) -> np.ndarray:
    """A Conv1d's weights as one (k * in, out) matrix over its k input taps, oldest first."""
    w = _np(conv.weight)  # (out, in, k)
    return w.transpose(2, 1, 0).reshape(-1, w.shape[0]).copy()


def _conv_as_matrix(conv: torch.nn.Conv1d, span: int) -> np.ndarray:
    """An undilated Conv1d over the last ``span`` >= k inputs: older rows are zero.

    Several kernel widths over one window thus become a single product.
    """
    taps = _conv_taps(conv)
    return np.concatenate([np.zeros((span * conv.in_channels - len(taps), taps.shape[1]),
                                    np.float32), taps])


class GRUStep:
    """One GRU cell step per layer; layer 0's input projection comes from a table."""

    def __init__(self, gru: torch.nn.GRU, first_input_table: np.ndarray | None):
        self.layers = []
        for i in range(gru.num_layers):
            w_ih, w_hh = _np(getattr(gru, f"weight_ih_l{i}")), _np(getattr(gru, f"weight_hh_l{i}"))
            b_ih, b_hh = _np(getattr(gru, f"bias_ih_l{i}")), _np(getattr(gru, f"bias_hh_l{i}"))
            self.layers.append((w_ih.T.copy(), b_ih, w_hh.T.copy(), b_hh))
        self.table = first_input_table  # (vocab, 3H): embedding @ W_ih^T + b_ih, precomputed

    def __call__(self, gi0: np.ndarray, h: np.ndarray) -> np.ndarray:
        """gi0: layer 0's input projection (B, 3H); h: (B, L, H). Returns the new (B, L, H)."""
        new = np.empty_like(h)
        gi = gi0
        for i, (w_ih, b_ih, w_hh, b_hh) in enumerate(self.layers):
            if i > 0:
                gi = new[:, i - 1] @ w_ih + b_ih
            gh = h[:, i] @ w_hh + b_hh
            H = gh.shape[1] // 3
            rz = _sigmoid(gi[:, :2 * H] + gh[:, :2 * H])
            n = np.tanh(gi[:, 2 * H:] + rz[:, :H] * gh[:, 2 * H:])
            z = rz[:, H:]
            new[:, i] = n + z * (h[:, i] - n)  # (1 - z) * n + z * h
        return new


class CharCNNStep:
    """The CharCNN at one position: one product over the last max(width) embeddings."""

    def __init__(self, cnn):
        self.span = cnn.history + 1
        self.weight = np.concatenate(
            [_conv_as_matrix(c, self.span) for c in cnn.convs], axis=1)  # (span * E, F)
        self.bias = np.concatenate([_np(c.bias) for c in cnn.convs])
        self.highway_w = _np(cnn.highway.proj.weight).T.copy()
        self.highway_b = _np(cnn.highway.proj.bias)

    def __call__(self, e: np.ndarray, history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        window = np.concatenate([history, e[:, None]], axis=1)  # (B, span, E)
        f = np.maximum(window.reshape(len(e), -1) @ self.weight + self.bias, 0.0)
        hg = f @ self.highway_w + self.highway_b
        D = f.shape[1]
        g = _sigmoid(hg[:, D:])
        return g * np.maximum(hg[:, :D], 0.0) + (1 - g) * f, window[:, 1:]


class FastStep:
    """Prepared weights of one model; ``step`` is pure, so one instance serves every user."""

    def __init__(self, model: GRUModel):
        model = model.eval()
        self.variant = model.config.variant
        self.embed = _np(model.embed.weight)  # (vocab, E)
        self.head_w = _np(model.head.weight).T.copy()
        self.head_b = _np(model.head.bias)
        gru = model.gru
        if isinstance(model, CNNPre):
            w_ih = _np(gru.weight_ih_l0)  # (3H, E + F) when the embedding is concatenated
            E = model.config.embed_dim if model.config.concat_embedding else 0
            table = self.embed @ w_ih[:, :E].T + _np(gru.bias_ih_l0)
            self.feature_w = w_ih[:, E:].T.copy()
        else:
            table = self.embed @ _np(gru.weight_ih_l0).T + _np(gru.bias_ih_l0)
        self.gru = GRUStep(gru, table)
        if isinstance(model, CNNPre | Hybrid):
            self.cnn = CharCNNStep(model.cnn)
        if isinstance(model, CNNPost):
            self.down = (_np(model.down.weight).T.copy(), _np(model.down.bias))
            self.up = (_np(model.up.weight).T.copy(), _np(model.up.bias))
            self.refine = [
                (_np(layer.norm.weight), _np(layer.norm.bias), layer.norm.eps,
                 _conv_taps(layer.conv), _np(layer.conv.bias), layer.history, layer.conv.dilation[0])
                for layer in model.refine
            ]
        if isinstance(model, Hybrid):
            a = model.attn
            self.query = (_np(a.query.weight).T.copy(), _np(a.query.bias))
            self.key_value = (np.concatenate([_np(a.key.weight), _np(a.value.weight)]).T.copy(),
                              np.concatenate([_np(a.key.bias), _np(a.value.bias)]))
            self.distance_bias = _np(a.distance_bias)[::-1].copy()  # oldest first
            self.scale = a.scale
            self.context_out = (_np(model.context_out.weight).T.copy(), _np(model.context_out.bias))
            gate_w = _np(model.gate.weight)[0]
            H = model.config.hidden
            self.gate = (gate_w[:H].copy(), gate_w[H:].copy(), float(_np(model.gate.bias)[0]))

    def step(self, tokens: np.ndarray, state: NumpyState | None, cnn_off: bool = False
             ) -> tuple[np.ndarray, NumpyState, dict[str, np.ndarray]]:
        """One character per row: tokens (B,) ints -> logits (B, vocab), new state, trace."""
        state = state or {}
        B = len(tokens)
        H = self.head_w.shape[0]
        L = len(self.gru.layers)
        e = self.embed[tokens]  # (B, E)
        h = state.get("gru")
        if h is None:
            h = np.zeros((B, L, H), np.float32)
        new: NumpyState = {}
        trace: dict[str, np.ndarray] = {}
        gi = self.gru.table[tokens]
        if self.variant == "cnn-pre":
            f, new["cnn"] = self.cnn(e, self._history(state, "cnn", B, self.cnn.span - 1, e))
            if not cnn_off:
                gi = gi + f @ self.feature_w
        new["gru"] = self.gru(gi, h)
        g = new["gru"][:, -1]  # (B, H)
        out = g
        if self.variant == "cnn-post":
            out = self._refine(g, state, new, B, cnn_off)
        elif self.variant == "hybrid":
            out = self._attend(e, g, state, new, trace, B, cnn_off)
        return out @ self.head_w + self.head_b, new, trace

    @staticmethod
    def _history(state, key, B, size, like):
        hist = state.get(key)
        if hist is None:
            hist = np.zeros((B, size, like.shape[-1]), np.float32)
        return hist

    def _refine(self, g, state, new, B, cnn_off):
        u = g @ self.down[0] + self.down[1]
        for i, (ln_w, ln_b, eps, w, b, hist_len, d) in enumerate(self.refine):
            mu = u.mean(-1, keepdims=True)
            var = ((u - mu) ** 2).mean(-1, keepdims=True)
            x = (u - mu) / np.sqrt(var + eps) * ln_w + ln_b
            hist = self._history(state, f"post.{i}", B, hist_len, x)
            window = np.concatenate([hist, x[:, None]], axis=1)  # (B, hist + 1, R)
            taps = window[:, ::-1][:, ::d][:, ::-1]  # the k positions the kernel reads
            y = taps.reshape(B, -1) @ w + b
            R = u.shape[1]
            u = u + y[:, :R] * _sigmoid(y[:, R:])
            new[f"post.{i}"] = window[:, 1:]
        return g if cnn_off else g + u @ self.up[0] + self.up[1]

    def _attend(self, e, g, state, new, trace, B, cnn_off):
        f, new["cnn"] = self.cnn(e, self._history(state, "cnn", B, self.cnn.span - 1, e))
        kv = f @ self.key_value[0] + self.key_value[1]
        A = kv.shape[1] // 2
        W = len(self.distance_bias)
        past_k = state.get("keys")
        if past_k is None:
            past_k = np.zeros((B, W - 1, A), np.float32)
            past_v = np.zeros((B, W - 1, A), np.float32)
            past_e = np.zeros((B, W - 1), bool)
        else:
            past_v, past_e = state["values"], state["exists"]
        keys = np.concatenate([past_k, kv[:, None, :A]], axis=1)  # (B, W, A)
        values = np.concatenate([past_v, kv[:, None, A:]], axis=1)
        exists = np.concatenate([past_e, np.ones((B, 1), bool)], axis=1)
        q = g @ self.query[0] + self.query[1]
        scores = np.einsum("ba,bwa->bw", q, keys) * self.scale + self.distance_bias
        scores = np.where(exists, scores, -np.inf)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        c = np.einsum("bw,bwa->ba", weights, values) @ self.context_out[0] + self.context_out[1]
        wg, wc, b0 = self.gate
        reliance = _sigmoid(g @ wg + c @ wc + b0)  # (B,)
        if cnn_off:
            reliance = np.zeros_like(reliance)
        new.update(keys=keys[:, 1:], values=values[:, 1:], exists=exists[:, 1:])
        trace.update(attention=weights, reliance=reliance)
        return reliance[:, None] * c + (1 - reliance[:, None]) * g


def to_numpy_state(state: State) -> NumpyState:
    return {k: v.detach().cpu().numpy() if v.dtype == torch.bool else _np(v)
            for k, v in state.items()}


def to_torch_state(state: NumpyState, device: torch.device | str = "cpu") -> State:
    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in state.items()}
