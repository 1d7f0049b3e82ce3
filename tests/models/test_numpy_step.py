"""The fused NumPy step gives the logits, state and trace of ``model.forward``, row by row."""

import numpy as np
import pytest
import torch

import cnngru
from cnngru.models import VARIANTS, architecture
from cnngru.models.numpy_step import (
    STEPPERS,
    FastStep,
    split_states,
    stack_states,
    to_numpy_state,
    to_torch_state,
)
from cnngru.models.recurrent import GRUConfig, GRUModel

ATOL = RTOL = 1e-5  # float32 products summed in another order: differences near 1e-6


def assert_states_equal(got: dict, expected: dict):
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k].shape == v.shape, k
        if v.dtype == bool:
            np.testing.assert_array_equal(got[k], v, err_msg=k)
        else:
            np.testing.assert_allclose(got[k], v, atol=ATOL, rtol=RTOL, err_msg=k)


@torch.no_grad()
@pytest.mark.parametrize("cnn_off", [False, True])
def test_fast_step_equals_forward_from_the_start_and_after_a_prompt(small_model, vocab, cnn_off):
    torch.manual_seed(4)
    tokens = torch.randint(0, len(vocab), (2, 90))
    full = small_model(tokens, cnn_off=cnn_off)
    step = FastStep(small_model)
    for start in (0, 50):  # from nothing, and continuing a state made by forward
        state = (to_numpy_state(small_model(tokens[:, :start], cnn_off=cnn_off).state)
                 if start else None)
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


@torch.no_grad()
@pytest.mark.parametrize("cnn_off", [False, True])
def test_a_batch_of_texts_steps_as_each_texts_own_forward(small_model, vocab, cnn_off):
    """Texts at different points (prompts shorter and longer than the CNN and attention
    windows) and different next characters step together, each as its forward alone."""
    torch.manual_seed(5)
    prompts, steps = (3, 17, 45), 12
    texts = [torch.randint(0, len(vocab), (1, n + steps)) for n in prompts]
    fulls = [small_model(text, cnn_off=cnn_off) for text in texts]
    state = stack_states([to_numpy_state(small_model(text[:, :n], cnn_off=cnn_off).state)
                          for text, n in zip(texts, prompts, strict=True)])
    step = FastStep(small_model)
    for t in range(steps):
        tokens = np.array([text[0, n + t].item() for text, n in zip(texts, prompts, strict=True)])
        logits, state, trace = step.step(tokens, state, cnn_off=cnn_off)
        assert logits.shape == (len(texts), len(vocab))
        for i, (full, n) in enumerate(zip(fulls, prompts, strict=True)):
            np.testing.assert_allclose(logits[i], full.logits[0, n + t].numpy(),
                                       atol=ATOL, rtol=RTOL)
            assert trace.keys() == full.trace.keys()
            for k, v in trace.items():
                np.testing.assert_allclose(v[i], full.trace[k][0, n + t].numpy(),
                                           atol=ATOL, rtol=RTOL)
    for row, full in zip(split_states(state), fulls, strict=True):
        assert_states_equal(row, to_numpy_state(full.state))


@torch.no_grad()
def test_a_rows_result_does_not_depend_on_the_other_rows(small_model, vocab):
    """Row 0 alone, first among its own batch, and last among other texts: one result."""
    torch.manual_seed(6)
    V = len(vocab)
    texts = torch.randint(0, V, (6, 40))
    rows = split_states(to_numpy_state(small_model(texts).state))
    token = np.array([7])
    others = np.random.default_rng(6).integers(0, V, 5)
    step = FastStep(small_model)
    alone = step.step(token, rows[0])
    first = step.step(np.concatenate([token, others[:2]]), stack_states(rows[:3]))
    last = step.step(np.concatenate([others, token]), stack_states(rows[1:] + rows[:1]))
    for (logits, state, trace), i in ((first, 0), (last, 5)):
        np.testing.assert_allclose(logits[i], alone[0][0], atol=ATOL, rtol=RTOL)
        assert_states_equal(split_states(state)[i], alone[1])
        for k, v in alone[2].items():
            np.testing.assert_allclose(trace[k][i], v[0], atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_has_a_stepper(name):
    cls = architecture(name)
    assert cls in STEPPERS, (f"variant {name!r} ({cls.__name__}) has no NumPy stepper: add one "
                             f"to STEPPERS in cnngru/models/numpy_step.py")


def test_a_model_class_without_a_stepper_is_refused_by_name():
    """Dispatch is by exact class: a subclass may change forward, so it needs its own stepper."""

    class Variant(GRUModel):
        pass

    with pytest.raises(TypeError, match="no NumPy stepper for Variant"):
        FastStep(Variant(GRUConfig(vocab_size=5, hidden=8)))
