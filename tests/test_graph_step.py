"""The GPU step (``graph_step``) run eagerly on the CPU: each row's logits and state are the
model's own forward's, through padding to a power of two, batches that change, and arrays kept
on the device until read. (The capture itself needs CUDA: ``cnngru.bench.cuda_step`` on a GPU.)"""

import numpy as np
import pytest
import torch

import cnngru
from cnngru.generation import _torch_step, read_prompt
from cnngru.graph_step import GraphStep, OnDevice
from cnngru.models import VARIANTS

PROMPTS = ("ROMEO.\n", "First Citizen.\nBefore we proceed", "KING.\nWhat says", "E",
           "Enter the Ghost, and stay a while upon the platform.\n")


@pytest.fixture(scope="module", params=VARIANTS)
def bundle(request):
    return cnngru.load(request.param, device="cpu")


def starts(bundle, n):
    """``n`` rows' states after their prompts, stacked as the engine stacks them."""
    reads = [read_prompt(bundle, PROMPTS[i % len(PROMPTS)]) for i in range(n)]
    return {k: np.concatenate([r.state[k] for r in reads]) for k in reads[0].state}


@pytest.mark.parametrize("rows", [1, 3, 5])
def test_every_row_steps_as_the_models_own_forward_through_padding(bundle, rows):
    graph, forward = GraphStep(bundle), _torch_step(bundle)
    state_g = state_f = starts(bundle, rows)
    rng = np.random.default_rng(rows)
    for _ in range(12):
        tokens = rng.integers(0, len(bundle.vocab), rows)
        logits_g, state_g, trace_g = graph.step(tokens, state_g)
        logits_f, state_f, trace_f = forward(tokens, state_f)
        np.testing.assert_allclose(logits_g, logits_f, rtol=1e-5, atol=1e-5)
        assert isinstance(state_g, OnDevice) and set(state_g) == set(state_f)
    for k in state_f:
        np.testing.assert_allclose(state_g[k], state_f[k], rtol=1e-5, atol=1e-5)
    assert set(trace_g) == set(trace_f)
    assert list(graph.graphs) == [1 << max(0, rows - 1).bit_length()]


def test_a_batch_that_changes_starts_from_the_rows_states(bundle):
    """Rows leave (the engine regroups on the host) and the next batch fits another size."""
    graph, forward = GraphStep(bundle), _torch_step(bundle)
    state_g = state_f = starts(bundle, 5)
    for t in range(6):
        tokens = np.full(5, t % len(bundle.vocab))
        _, state_g, _ = graph.step(tokens, state_g)
        _, state_f, _ = forward(tokens, state_f)
    keep = np.array([0, 2, 4])
    state_g = {k: v[keep] for k, v in state_g.items()}
    state_f = {k: v[keep] for k, v in state_f.items()}
    logits_g, _, _ = graph.step(np.array([1, 2, 3]), state_g)
    logits_f, _, _ = forward(np.array([1, 2, 3]), state_f)
    np.testing.assert_allclose(logits_g, logits_f, rtol=1e-5, atol=1e-5)
    assert sorted(graph.graphs) == [4, 8]


def test_spare_rows_never_reach_the_real_ones():
    bundle = cnngru.load("hybrid", device="cpu")
    graph = GraphStep(bundle)
    state = starts(bundle, 3)
    clean, _, _ = graph.step(np.array([1, 2, 3]), state)
    with torch.inference_mode():
        for v in graph.graphs[4].state.values():  # the spare row holds garbage
            v[3:] = torch.nan if v.dtype.is_floating_point else True
    dirty, _, _ = graph.step(np.array([1, 2, 3]), state)
    np.testing.assert_array_equal(clean, dirty)


def test_arrays_overwritten_by_a_later_step_cannot_be_read():
    bundle = cnngru.load("gru", device="cpu")
    graph = GraphStep(bundle)
    _, first, trace = graph.step(np.array([1, 2]), starts(bundle, 2))
    np.asarray(first["gru"])  # read in time: kept
    _, second, _ = graph.step(np.array([3, 4]), first)
    assert first["gru"].shape == second["gru"].shape
    with pytest.raises(RuntimeError, match="overwritten"):
        trace["units"]
