"""The fused GRU sequence is PyTorch's GRU: same outputs, same gradients, same final state."""

import pytest
import torch
from torch import nn

from cnngru.models import build_model
from cnngru.models.gru_sequence import gru_sequence


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("with_h0", [False, True])
def test_outputs_and_every_gradient_equal_nn_gru_in_float64(layers, with_h0):
    torch.manual_seed(layers)
    gru = nn.GRU(7, 11, layers, batch_first=True).double()
    x = torch.randn(3, 9, 7, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(layers, 3, 11, dtype=torch.double, requires_grad=True) if with_h0 else None
    expected, expected_h = gru(x, h0)
    out, h = gru_sequence(gru, x, h0)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(h, expected_h, atol=1e-12, rtol=0)
    w, v = torch.randn_like(out), torch.randn_like(h)  # a loss on the outputs and the final state
    inputs = [x, *gru.parameters()] + ([h0] if with_h0 else [])
    want = torch.autograd.grad((expected * w).sum() + (expected_h * v).sum(), inputs)
    got = torch.autograd.grad((out * w).sum() + (h * v).sum(), inputs)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_torch_gradcheck_agrees_with_the_hand_written_backward():
    torch.manual_seed(0)
    gru = nn.GRU(4, 5, 1, batch_first=True).double()
    x = torch.randn(2, 6, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: gru_sequence(gru, x, None)[0], (x,))


def test_the_model_trains_on_the_fused_path_and_scores_on_nn_gru_alike(vocab):
    """With gradients on (training) a CPU model runs the fused path; without, nn.GRU: the
    logits agree, so a model trained one way is scored the other way faithfully."""
    torch.manual_seed(0)
    model = build_model("gru", len(vocab), params=120_000).eval()  # eval: dropout off
    tokens = torch.randint(0, len(vocab), (4, 50))
    fused = model(tokens).logits
    assert fused.grad_fn is not None
    with torch.no_grad():
        plain = model(tokens).logits
    torch.testing.assert_close(fused, plain, atol=1e-5, rtol=1e-5)


def test_shapes_it_does_not_cover_fall_back_to_nn_gru():
    gru = nn.GRU(3, 4, 2, batch_first=True, dropout=0.5).train()
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3)
    torch.manual_seed(1)
    a, _ = gru_sequence(gru, x, None)
    torch.manual_seed(1)
    b, _ = gru(x)
    assert torch.equal(a, b)
