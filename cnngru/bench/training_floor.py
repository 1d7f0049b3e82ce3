"""How much faster training could get if the GRU's per-step element-wise work cost nothing.

The fused GRU layer (``models/gru_sequence.py``) spends each step on one matrix product and a
handful of element-wise operations (gates, their derivatives, copies into the saved buffers).
Fusing those into one kernel is the usual next speed-up; this measures its ceiling. Inside
``gates_free()`` the layer keeps every matrix product (the recurrent product per step, forward
and backward, and the weight gradient over all steps) and replaces the gates by a slice, so the
numbers it trains are wrong and only its speed means anything: no real kernel can beat it.

    with gates_free():
        rate = throughput.measure(trainer)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from ..models import gru_sequence


class _ProductsOnly(torch.autograd.Function):
    """``gru_sequence._GRULayer``'s matrix products with its shapes, without its gates."""

    @staticmethod
    def forward(ctx, gi: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor) -> Tensor:
        T, B, H3 = gi.shape
        H = H3 // 3
        out = gi.new_empty(T, B, H)
        w_t = w_hh.t()
        h = h0
        for t in range(T):
            h = torch.addmm(b_hh, h, w_t)[:, :H]  # the product; a slice stands in for the gates
            out[t] = h
        ctx.save_for_backward(h0, out, w_hh)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        h0, out, w_hh = ctx.saved_tensors
        T, B, H = out.shape
        d_gh = grad_out.new_zeros(T, B, 3 * H)
        dh = grad_out.new_zeros(B, H)
        for t in range(T - 1, -1, -1):
            dh = dh + grad_out[t]
            d_gh[t, :, :H] = dh  # one copy stands in for the gates' derivatives
            dh = torch.addmm(dh, d_gh[t], w_hh)
        h_prevs = torch.cat([h0[None], out[:-1]])
        d_w_hh = d_gh.reshape(-1, 3 * H).t() @ h_prevs.reshape(-1, H)
        return d_gh, dh, d_w_hh, d_gh.sum((0, 1))


@contextmanager
def gates_free() -> Iterator[None]:
    """Within: every fused GRU layer runs ``_ProductsOnly`` (wrong numbers, the speed ceiling)."""
    real = gru_sequence._GRULayer
    gru_sequence._GRULayer = _ProductsOnly
    try:
        yield
    finally:
        gru_sequence._GRULayer = real
