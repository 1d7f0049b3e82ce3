"""The fused NumPy step gives the logits, state and trace of ``model.forward``."""

import numpy as np
import pytest
import torch

import cnngru
from cnngru.models import VARIANTS
from cnngru.models.numpy_step import FastStep, to_numpy_state, to_torch_state


@torch.no_grad()
@pytest.mark.parametrize("cnn_off", [False, True])
def test_fast_step_equals_forward_from_the_start_and_after_a_prompt(small_model, vocab, cnn_off):
    torch.manual_seed(4)
    tokens = torch.randint(0, len(vocab), (2, 90))
    full = small_model(tokens, cnn_off=cnn_off)
    step = FastStep(small_model)
    for start in (0, 50):  # from nothing, and continuing a state made by forward
        state = to_numpy_state(small_model(tokens[:, :start], cnn_off=cnn_off).state) if start else None
        for t in range(start, 90):
            logits, state, trace = step.step(tokens[:, t].numpy(), state, cnn_off=cnn_off)
            np.testing.assert_allclose(logits, full.logits[:, t].numpy(), atol=2e-5, rtol=1e-4)
            for k, v in trace.items():
                np.testing.assert_allclose(v, full.trace[k][:, t].numpy(), atol=2e-5)
    # and the state it leaves continues in forward exactly
    after = small_model(tokens[:, :5], to_torch_state(state), cnn_off=cnn_off).logits
    expected = small_model(torch.cat([tokens, tokens[:, :5]], 1), cnn_off=cnn_off).logits[:, 90:]
    torch.testing.assert_close(after, expected, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("name", VARIANTS)
def test_fast_step_on_shipped_checkpoints(name):
    bundle = cnngru.load(name, device="cpu")
    ids = bundle.vocab.encode_tensor("KING HENRY.\nOnce more unto the breach, dear friends.")[None]
    with torch.no_grad():
        full = bundle.model(ids).logits[0].numpy()
    state = None
    for t in range(ids.shape[1]):
        logits, state, _ = bundle.fast_step.step(ids[:, t].numpy(), state)
        np.testing.assert_allclose(logits[0], full[t], atol=5e-5, rtol=1e-4)
