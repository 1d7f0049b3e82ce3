"""The rules every variant keeps: causal, one stateful forward, comparable budgets."""

import pytest
import torch
from conftest import SMALL

import cnngru
from cnngru.models import BUDGET_TOLERANCE, VARIANTS, build_model, count_params


def test_variants_are_the_four_strategies():
    assert cnngru.VARIANTS == ("gru", "cnn-pre", "cnn-post", "hybrid")


def test_forward_returns_logits_state_and_trace(small_model, vocab):
    tokens = torch.randint(0, len(vocab), (3, 17))
    out = small_model(tokens)
    assert out.logits.shape == (3, 17, len(vocab))
    assert all(v.shape[0] == 3 for v in out.state.values()), "state is batch-first"
    assert isinstance(out.trace, dict)


@torch.no_grad()
def test_future_characters_do_not_move_earlier_logits(small_model, vocab):
    torch.manual_seed(1)
    tokens = torch.randint(0, len(vocab), (2, 120))
    changed = tokens.clone()
    changed[:, 60:] = torch.randint(0, len(vocab), (2, 60))
    a, b = small_model(tokens).logits, small_model(changed).logits
    assert torch.equal(a[:, :60], b[:, :60])
    assert not torch.allclose(a[:, 60:], b[:, 60:]), "the change itself must matter"


@torch.no_grad()
@pytest.mark.parametrize("chunk", [1, 7, 33])
def test_chunked_forward_equals_the_full_pass(small_model, vocab, chunk):
    torch.manual_seed(2)
    tokens = torch.randint(0, len(vocab), (2, 150))
    full = small_model(tokens).logits
    state, parts = None, []
    for i in range(0, tokens.shape[1], chunk):
        out = small_model(tokens[:, i:i + chunk], state)
        state = out.state
        parts.append(out.logits)
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)


@torch.no_grad()
@pytest.mark.parametrize("name", VARIANTS)
def test_shipped_checkpoints_step_by_step_equal_the_full_pass(name):
    """1,000+ characters of real text, chunk sizes that line up with no kernel or window."""
    bundle = cnngru.load(name, device="cpu")
    text = ("ROMEO.\nBut soft, what light through yonder window breaks? It is the east, "
            "and Juliet is the sun.\n") * 12
    ids = bundle.vocab.encode_tensor(text)[None]
    assert ids.shape[1] >= 1000
    full = bundle.model(ids).logits
    state, parts, i = None, [], 0
    for size in [1, 1, 1, 5, 13, 37, 1, 101, 3, 997]:
        out = bundle.model(ids[:, i:i + size], state)
        state, i = out.state, i + size
        parts.append(out.logits)
    torch.testing.assert_close(torch.cat(parts, 1), full[:, :i], atol=1e-5, rtol=1e-4)


def test_state_is_not_stored_on_the_module(small_model, vocab):
    tokens = torch.randint(0, len(vocab), (1, 10))
    with torch.no_grad():
        a = small_model(tokens).logits
        small_model(torch.randint(0, len(vocab), (1, 50)))  # someone else's text in between
        b = small_model(tokens).logits
    assert torch.equal(a, b)


def test_state_detaches_for_truncated_bptt(variant, vocab):
    model = build_model(variant, len(vocab), params=SMALL)
    out = model(torch.randint(0, len(vocab), (2, 9)))
    detached = {k: v.detach() for k, v in out.state.items()}
    loss = model(torch.randint(0, len(vocab), (2, 9)), detached).logits.sum()
    loss.backward()  # no error: the graph stops at the state


def test_hybrid_trace_holds_attention_and_reliance(vocab):
    model = build_model("hybrid", len(vocab), params=SMALL).eval()
    with torch.no_grad():
        out = model(torch.randint(0, len(vocab), (2, 40)))
    attention, reliance = out.trace["attention"], out.trace["reliance"]
    W = model.config.window
    assert attention.shape == (2, 40, W) and reliance.shape == (2, 40)
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 40))
    # at the first position only the current one exists: all weight on it (the newest column)
    assert attention[:, 0, -1].min() > 0.999
    assert ((reliance > 0) & (reliance < 1)).all()


@torch.no_grad()
@pytest.mark.parametrize("name", ["cnn-pre", "cnn-post", "hybrid"])
def test_cnn_off_removes_the_cnn_path(name, vocab):
    torch.manual_seed(3)
    model = build_model(name, len(vocab), params=SMALL).eval()
    tokens = torch.randint(0, len(vocab), (1, 30))
    with_cnn, without = model(tokens).logits, model(tokens, cnn_off=True).logits
    assert not torch.allclose(with_cnn, without)
    # without its CNN the model no longer depends on the CNN's weights
    for m in model.modules():
        if isinstance(m, torch.nn.Conv1d):
            m.weight.add_(1.0)
    torch.testing.assert_close(model(tokens, cnn_off=True).logits, without)


@pytest.mark.parametrize("budget", [250_000, 1_000_000, 3_000_000])
def test_every_variant_meets_the_parameter_budget(budget, vocab):
    for name in VARIANTS:
        n = count_params(build_model(name, len(vocab), params=budget))
        assert abs(n - budget) <= BUDGET_TOLERANCE * budget, (name, n)


def test_default_size_is_one_million_parameters(vocab):
    sizes = [count_params(build_model(v, len(vocab))) for v in VARIANTS]
    assert max(sizes) / min(sizes) <= 1 + BUDGET_TOLERANCE
    assert all(abs(s - 1_000_000) < 50_000 for s in sizes)


def test_bad_builder_arguments_are_clear_errors(vocab):
    with pytest.raises(ValueError, match="unknown variant"):
        build_model("lstm", len(vocab))
    with pytest.raises(ValueError, match="unknown config fields"):
        build_model("gru", len(vocab), kernel=3)
    with pytest.raises(ValueError, match="too small"):
        build_model("cnn-pre", len(vocab), params=1_000)
