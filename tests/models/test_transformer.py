"""cnngru.models.transformer: a sliding attention window whose rolling KV cache stays bounded."""

import torch
from conftest import make_small


@torch.no_grad()
def test_the_kv_cache_keeps_the_last_context_minus_one_positions(vocab):
    model = make_small("transformer", len(vocab))
    c = model.config
    head_dim = c.hidden // c.n_head
    state, read = None, 0
    for length in (5, 200, 1, 300):  # growing, then past the window, then one at a time
        state = model(torch.randint(0, len(vocab), (2, length)), state).state
        read += length
        kept = min(read, c.context - 1)
        assert sorted(state) == sorted(f"{kv}.{i}" for i in range(c.n_layer) for kv in "kv")
        for value in state.values():
            assert value.shape == (2, c.n_head, kept, head_dim), (read, value.shape)


@torch.no_grad()
def test_characters_beyond_the_receptive_field_do_not_move_the_logits(vocab):
    """Each layer reaches context - 1 positions back, so n_layer layers reach n_layer times that.

    In float64: the farthest position feels the change through one key per layer, each weighted
    about 1/context, ~1e-9 of a logit, which float32 rounds away."""
    model = make_small("transformer", len(vocab)).double()
    reach = model.config.n_layer * (model.config.context - 1)
    torch.manual_seed(6)
    tokens = torch.randint(0, len(vocab), (1, reach + 40))
    changed = tokens.clone()
    changed[0, 0] = (tokens[0, 0] + 1) % len(vocab)
    a, b = model(tokens).logits, model(changed).logits
    assert not torch.equal(a[0, reach], b[0, reach]), "the farthest position it reaches moves"
    torch.testing.assert_close(a[0, reach + 1:], b[0, reach + 1:], atol=0, rtol=0)


@torch.no_grad()
def test_cnn_off_is_accepted_and_changes_nothing(vocab):
    model = make_small("transformer", len(vocab))
    tokens = torch.randint(0, len(vocab), (1, 30))
    assert torch.equal(model(tokens).logits, model(tokens, cnn_off=True).logits)
