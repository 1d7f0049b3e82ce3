"""cnngru.models.recurrent: the rules every language model keeps, the transformer reference
included: causal, one stateful forward whose chunks equal one pass, state held by the caller."""

import pytest
import torch
from conftest import SMALL

import cnngru
from cnngru.models import build_model

CONTEXT = 128  # the transformer's attention window: longer texts exercise its rolling KV cache


def test_forward_returns_logits_state_and_trace(small_architecture, vocab):
    tokens = torch.randint(0, len(vocab), (3, 17))
    with torch.no_grad():
        out = small_architecture(tokens)
    assert out.logits.shape == (3, 17, len(vocab))
    assert out.state, "every architecture carries a state"
    assert all(v.shape[0] == 3 for v in out.state.values()), "state is batch-first"
    assert all(v.shape[0] == 3 for v in out.trace.values())


@torch.no_grad()
def test_state_is_batch_first_row_by_row(small_architecture, vocab):
    """Row b of the state is row b's history: reading rows one at a time gives the same state."""
    torch.manual_seed(4)
    tokens = torch.randint(0, len(vocab), (3, 40))
    together = small_architecture(tokens).state
    for b in range(3):
        alone = small_architecture(tokens[b:b + 1]).state
        for key, value in alone.items():
            torch.testing.assert_close(together[key][b:b + 1], value, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_future_characters_do_not_move_earlier_logits(small_architecture, vocab):
    torch.manual_seed(1)
    tokens = torch.randint(0, len(vocab), (2, 120))
    changed = tokens.clone()
    changed[:, 60:] = torch.randint(0, len(vocab), (2, 60))
    a, b = small_architecture(tokens).logits, small_architecture(changed).logits
    assert torch.equal(a[:, :60], b[:, :60])
    assert not torch.allclose(a[:, 60:], b[:, 60:]), "the change itself must matter"


@torch.no_grad()
@pytest.mark.parametrize("chunk", [1, 7, 33])
def test_chunked_forward_equals_the_full_pass(small_architecture, vocab, chunk):
    torch.manual_seed(2)
    tokens = torch.randint(0, len(vocab), (2, 2 * CONTEXT + 50))
    full = small_architecture(tokens).logits
    state, parts = None, []
    for i in range(0, tokens.shape[1], chunk):
        out = small_architecture(tokens[:, i:i + chunk], state)
        state = out.state
        parts.append(out.logits)
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)


@torch.no_grad()
@pytest.mark.parametrize("name", [*cnngru.VARIANTS, "transformer"])
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
    # the transformer sums 128-wide attention windows in another order when chunked: float32
    # noise of ~2e-5 at a few logits (float64 rotary angles keep positions exact)
    atol = 3e-5 if name == "transformer" else 1e-5
    torch.testing.assert_close(torch.cat(parts, 1), full[:, :i], atol=atol, rtol=1e-4)


def test_state_is_not_stored_on_the_module(small_architecture, vocab):
    tokens = torch.randint(0, len(vocab), (1, 10))
    with torch.no_grad():
        a = small_architecture(tokens).logits
        small_architecture(torch.randint(0, len(vocab), (1, 50)))  # someone else's text in between
        b = small_architecture(tokens).logits
    assert torch.equal(a, b)


def test_the_state_carries_gradient_until_it_is_detached(variant, vocab):
    """Truncated backpropagation: the state links a chunk to the one before it, and detaching it
    cuts that link. The chunks use disjoint characters, so the embedding rows of the first
    chunk's characters get gradient from the second chunk's loss only through the state."""
    torch.manual_seed(5)
    model = build_model(variant, len(vocab), params=SMALL).eval()
    first = torch.randint(0, 10, (2, 9))
    second = torch.randint(20, 30, (2, 9))

    def first_rows_gradient(detach: bool) -> torch.Tensor:
        model.zero_grad()
        state = model(first).state
        if detach:
            state = {k: v.detach() for k, v in state.items()}
        model(second, state).logits.logsumexp(-1).sum().backward()
        return model.embed.weight.grad[:10]

    assert first_rows_gradient(detach=False).abs().sum() > 0, "the state is part of the graph"
    assert not first_rows_gradient(detach=True).any(), "detached: the first chunk gets none"


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


@pytest.mark.parametrize("name", ["gru", "cnn-pre", "cnn-post"])
def test_the_trace_holds_the_gru_units_and_only_the_hybrid_adds_attention(name, vocab):
    model = build_model(name, len(vocab), params=SMALL).eval()
    tokens = torch.randint(0, len(vocab), (2, 5))
    with torch.no_grad():
        out = model(tokens)
        gru_input = model.embed(tokens) if name != "cnn-pre" else None
    assert list(out.trace) == ["units"]
    assert out.trace["units"].shape == (2, 5, model.config.hidden)
    if gru_input is not None:  # the units are the GRU's own outputs, position by position
        expected, _ = model.gru(gru_input)
        torch.testing.assert_close(out.trace["units"], expected)


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


@torch.no_grad()
def test_cnn_off_leaves_the_gru_baseline_unchanged(vocab):
    model = build_model("gru", len(vocab), params=SMALL).eval()
    tokens = torch.randint(0, len(vocab), (1, 30))
    assert torch.equal(model(tokens).logits, model(tokens, cnn_off=True).logits)
