"""The candidate designs of each strategy (``CANDIDATES``): every one keeps every rule of the
models (causal, chunked = full, cnn_off, the NumPy step), meets any budget, and the ones meant to
start as the plain GRU do."""

import numpy as np
import pytest
import torch
from conftest import SMALL

from cnngru.models import BUDGET_TOLERANCE, VARIANTS, build_model, count_params
from cnngru.models.designs import CANDIDATES, SHIPPED, candidates, design_overrides
from cnngru.models.half_product import kernel
from cnngru.models.layers import DepthwiseCausalConv, SplitGate
from cnngru.models.numpy_step import (
    FastStep,
    split_states,
    stack_states,
    to_numpy_state,
    weight_products,
)
from cnngru.models.recurrent import GRUModel

# Every candidate, and configurations that are no candidates but are supported: the long window
# over past GRU states alone (a control for the hybrid's CNN features), and the n-gram features
# instead of the embedding.
DESIGNS = [(s, name, o) for s, table in CANDIDATES.items() for name, o in table.items()]
EXTRA = [("hybrid", "memory256", {"sources": ("memory",), "window": 256, "gate": "split"}),
         ("cnn-pre", "ngram-only", {"concat_embedding": False})]
ALL = DESIGNS + EXTRA
CNN_DESIGNS = [d for d in ALL if d[0] != "gru" and d[1] != "memory256"]


def ids(designs):
    return [f"{s}/{name}" for s, name, _ in designs]


def longest_window(overrides: dict) -> int:
    return overrides.get("window", 32)


def make(strategy: str, overrides: dict, vocab_size: int) -> torch.nn.Module:
    """A small candidate in eval mode, its weights moved off their initial values (zero
    convolutions and gates included) so every path moves the logits visibly."""
    torch.manual_seed(0)
    model = build_model(strategy, vocab_size, params=SMALL, **overrides)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


@pytest.fixture(params=ALL, ids=ids(ALL))
def design(request):
    return request.param


@pytest.fixture
def model(design, vocab):
    strategy, _, overrides = design
    return make(strategy, overrides, len(vocab))


# The table


def test_every_strategy_has_the_same_number_of_candidates_todays_form_first():
    assert tuple(CANDIDATES) == VARIANTS == ("gru", "cnn-pre", "cnn-post", "hybrid")
    counts = {s: len(table) for s, table in CANDIDATES.items()}
    assert min(counts.values()) >= 3 and len(set(counts.values())) == 1, counts
    for table in CANDIDATES.values():
        assert next(iter(table.values())) == {}, "the first candidate is today's form"
        assert len({repr(sorted(o.items())) for o in table.values()}) == len(table), "distinct"


def test_a_design_by_name_and_the_shipped_one():
    assert design_overrides("hybrid", "cnn-memory256") == CANDIDATES["hybrid"]["cnn-memory256"]
    for strategy, design in SHIPPED.items():
        assert design_overrides(strategy) == CANDIDATES[strategy][design]
    assert design_overrides("transformer") == {}
    with pytest.raises(ValueError, match="unknown hybrid design 'wide'"):
        design_overrides("hybrid", "wide")
    with pytest.raises(ValueError, match="transformer has no candidate designs"):
        design_overrides("transformer", "one-layer")


def test_candidates_returns_copies_and_refuses_unknown_strategies():
    table = candidates("cnn-post")
    table["dilated-rf63"]["dilations"] = (1,)
    assert candidates("cnn-post") == CANDIDATES["cnn-post"] != table
    with pytest.raises(ValueError, match="unknown strategy 'lstm'"):
        candidates("lstm")


@pytest.mark.parametrize("budget", [300_000, 1_000_000])
def test_every_candidate_meets_the_budget(budget, vocab):
    for strategy, name, overrides in DESIGNS:
        model = build_model(strategy, len(vocab), params=budget, **overrides)
        n = count_params(model)
        assert abs(n - budget) <= BUDGET_TOLERANCE * budget, (strategy, name, n)
        for key, value in overrides.items():
            assert getattr(model.config, key) == value, (name, key)


def test_todays_defaults_build_todays_models(vocab):
    """The shipped configurations (as checkpoints store them) build with today's state keys."""
    hybrid = build_model("hybrid", len(vocab), hidden=64)
    assert {k.split(".")[0] for k in hybrid.state_dict()} == {
        "embed", "gru", "head", "cnn", "attn", "context_out", "gate"}
    pre = build_model("cnn-pre", len(vocab), hidden=64)
    assert {k.split(".")[0] for k in pre.state_dict()} == {"embed", "gru", "head", "cnn"}
    post = build_model("cnn-post", len(vocab), hidden=60)
    assert post.down.in_features == 60 and post.config.refine_dim == 20


@pytest.mark.parametrize("overrides, message", [
    ({"form": "ngrams"}, "cnn-pre form must be one of"),
])
def test_bad_forms_are_clear_errors(overrides, message, vocab):
    with pytest.raises(ValueError, match=message):
        build_model("cnn-pre", len(vocab), hidden=32, **overrides)


@pytest.mark.parametrize("strategy, overrides, message", [
    ("cnn-post", {"placement": "before"}, "placement must be one of"),
    ("hybrid", {"sources": ("memory",)}, "the reliance gate weighs"),
    ("hybrid", {"sources": ("memory", "cnn"), "gate": "split"}, "sources must be one of"),
    ("hybrid", {"gate": "softmax"}, "gate must be one of"),
    ("gru", {"init": "xavier"}, "init must be one of"),
])
def test_bad_designs_are_clear_errors(strategy, overrides, message, vocab):
    with pytest.raises(ValueError, match=message):
        build_model(strategy, len(vocab), hidden=32, **overrides)


# The rules, for every candidate


@torch.no_grad()
def test_future_characters_do_not_move_earlier_logits(model, vocab):
    torch.manual_seed(1)
    tokens = torch.randint(0, len(vocab), (2, 120))
    changed = tokens.clone()
    changed[:, 60:] = torch.randint(0, len(vocab), (2, 60))
    a, b = model(tokens), model(changed)
    assert torch.equal(a.logits[:, :60], b.logits[:, :60])
    for k, v in a.trace.items():
        assert torch.equal(v[:, :60], b.trace[k][:, :60]), k
    assert not torch.allclose(a.logits[:, 60:], b.logits[:, 60:]), "the change itself must matter"


@torch.no_grad()
@pytest.mark.parametrize("chunk", [1, 7, 33])
def test_chunked_forward_equals_the_full_pass(model, design, vocab, chunk):
    """A text longer than the longest window, so the window's state rolls over."""
    torch.manual_seed(2)
    tokens = torch.randint(0, len(vocab), (2, longest_window(design[2]) + 50))
    full = model(tokens)
    state, parts, traces = None, [], []
    for i in range(0, tokens.shape[1], chunk):
        out = model(tokens[:, i:i + chunk], state)
        state = out.state
        parts.append(out.logits)
        traces.append(out.trace)
    torch.testing.assert_close(torch.cat(parts, 1), full.logits, atol=1e-5, rtol=1e-5)
    for k, v in full.trace.items():
        torch.testing.assert_close(torch.cat([t[k] for t in traces], 1), v, atol=1e-5, rtol=1e-5)
    for k, v in state.items():
        torch.testing.assert_close(v, full.state[k], atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_state_is_batch_first_and_not_on_the_module(model, vocab):
    torch.manual_seed(4)
    tokens = torch.randint(0, len(vocab), (3, 40))
    together = model(tokens)
    assert all(v.shape[0] == 3 for v in (*together.state.values(), *together.trace.values()))
    model(torch.randint(0, len(vocab), (1, 50)))  # someone else's text in between
    for b in range(3):
        alone = model(tokens[b:b + 1])
        torch.testing.assert_close(alone.logits, together.logits[b:b + 1], atol=1e-5, rtol=1e-5)
        for key, value in alone.state.items():
            torch.testing.assert_close(together.state[key][b:b + 1], value, atol=1e-5, rtol=1e-5)


def test_the_state_carries_gradient_until_it_is_detached(design, vocab):
    strategy, _, overrides = design
    torch.manual_seed(5)
    model = build_model(strategy, len(vocab), params=SMALL, **overrides).eval()
    first, second = torch.randint(0, 10, (2, 9)), torch.randint(20, 30, (2, 9))

    def first_rows_gradient(detach: bool) -> torch.Tensor:
        model.zero_grad()
        state = model(first).state
        if detach:
            state = {k: v.detach() for k, v in state.items()}
        model(second, state).logits.logsumexp(-1).sum().backward()
        return model.embed.weight.grad[:10]

    assert first_rows_gradient(detach=False).abs().sum() > 0
    assert not first_rows_gradient(detach=True).any()


@torch.no_grad()
@pytest.mark.parametrize("design", CNN_DESIGNS, ids=ids(CNN_DESIGNS))
def test_cnn_off_removes_the_cnn_path(design, vocab):
    strategy, _, overrides = design
    model = make(strategy, overrides, len(vocab))
    torch.manual_seed(3)
    tokens = torch.randint(0, len(vocab), (1, 40))
    with_cnn, without = model(tokens).logits, model(tokens, cnn_off=True).logits
    assert not torch.allclose(with_cnn, without)
    for m in model.modules():  # without its CNN the model no longer depends on its convolutions
        if isinstance(m, torch.nn.Conv1d):
            m.weight.add_(1.0)
    torch.testing.assert_close(model(tokens, cnn_off=True).logits, without)
    assert not torch.allclose(model(tokens).logits, with_cnn), "and with it, it does"


@torch.no_grad()
def test_cnn_off_changes_nothing_without_a_cnn(vocab):
    for strategy, name, overrides in ALL:
        if (strategy, name, overrides) not in CNN_DESIGNS:
            model = make(strategy, overrides, len(vocab))
            tokens = torch.randint(0, len(vocab), (1, 30))
            assert torch.equal(model(tokens).logits, model(tokens, cnn_off=True).logits), name


@torch.no_grad()
@pytest.mark.parametrize("weights", ["float32", "float16"])
@pytest.mark.parametrize("cnn_off", [False, True])
def test_numpy_step_equals_forward_for_a_batch_of_rows(model, design, vocab, cnn_off, weights):
    """Texts shorter and longer than the windows step together, each as its own forward; with
    float16-valued weights (as loaded from a checkpoint) the step takes the float16 products."""
    if weights == "float16":
        for p in model.parameters():
            p.copy_(p.half().float())
        if kernel() is not None:
            assert all(d.half is not None for d in weight_products(FastStep(model).stepper))
    torch.manual_seed(5)
    prompts, steps = (3, 17, longest_window(design[2]) + 9), 8
    texts = [torch.randint(0, len(vocab), (1, n + steps)) for n in prompts]
    fulls = [model(text, cnn_off=cnn_off) for text in texts]
    state = stack_states([to_numpy_state(model(text[:, :n], cnn_off=cnn_off).state)
                          for text, n in zip(texts, prompts, strict=True)])
    step = FastStep(model)
    for t in range(steps):
        tokens = np.array([text[0, n + t].item() for text, n in zip(texts, prompts, strict=True)])
        logits, state, trace = step.step(tokens, state, cnn_off=cnn_off)
        for i, (full, n) in enumerate(zip(fulls, prompts, strict=True)):
            np.testing.assert_allclose(logits[i], full.logits[0, n + t].numpy(),
                                       atol=1e-5, rtol=1e-5)
            assert trace.keys() == full.trace.keys()
            for k, v in trace.items():
                np.testing.assert_allclose(v[i], full.trace[k][0, n + t].numpy(),
                                           atol=1e-5, rtol=1e-5)
    for row, full in zip(split_states(state), fulls, strict=True):
        expected = to_numpy_state(full.state)
        assert row.keys() == expected.keys()
        for k, v in expected.items():
            np.testing.assert_allclose(row[k], v, atol=1e-5, rtol=1e-5, err_msg=k)


@torch.no_grad()
def test_numpy_step_from_an_empty_state(model, vocab):
    torch.manual_seed(7)
    tokens = torch.randint(0, len(vocab), (2, 12))
    full = model(tokens).logits
    step, state = FastStep(model), None
    for t in range(12):
        logits, state, _ = step.step(tokens[:, t].numpy(), state)
        np.testing.assert_allclose(logits, full[:, t].numpy(), atol=1e-5, rtol=1e-5)


# Starting as the plain GRU


@torch.no_grad()
def test_the_depthwise_convolution_starts_as_the_identity():
    layer = DepthwiseCausalConv(16, 4)
    x = torch.randn(2, 9, 16)
    y, history = layer(x, None)
    assert torch.equal(y, x)
    assert torch.equal(history, x[:, -3:])
    assert sum(p.numel() for p in layer.parameters()) == 5 * 16, "(width + 1) per channel"


@torch.no_grad()
def test_the_depthwise_candidate_starts_as_the_plain_gru(vocab):
    """At initialisation the cnn-pre depthwise model and a GRU with its weights agree exactly."""
    torch.manual_seed(8)
    pre = build_model("cnn-pre", len(vocab), hidden=48, form="depthwise").eval()
    gru = build_model("gru", len(vocab), hidden=48).eval()
    gru.load_state_dict({k: v for k, v in pre.state_dict().items() if "depthwise" not in k})
    tokens = torch.randint(0, len(vocab), (2, 30))
    assert torch.equal(pre(tokens).logits, gru(tokens).logits)
    assert count_params(pre) - count_params(gru) == 5 * pre.config.embed_dim


@torch.no_grad()
@pytest.mark.parametrize("design", [d for d in ALL if d[2].get("gate") == "split"],
                         ids=ids([d for d in ALL if d[2].get("gate") == "split"]))
@pytest.mark.parametrize("init", ["default", "scaled"])
def test_the_split_gate_starts_on_the_gru_state(design, init, vocab):
    strategy, _, overrides = design
    torch.manual_seed(9)
    model = build_model(strategy, len(vocab), params=SMALL, init=init, **overrides).eval()
    out = model(torch.randint(0, len(vocab), (2, 50)))
    split = out.trace["split"]
    S = len(model.config.sources)
    assert split.shape == (2, 50, 1 + S)
    torch.testing.assert_close(split[..., 0], torch.full((2, 50), SplitGate.GRU_START))
    torch.testing.assert_close(split[..., 1:], torch.full((2, 50, S), 0.01 / S))


@torch.no_grad()
def test_the_long_hybrid_traces_attention_per_source_and_the_three_way_split(vocab):
    model = make("hybrid", CANDIDATES["hybrid"]["cnn-memory256"], len(vocab))
    W = model.config.window
    assert W >= 128 and model.config.sources == ("cnn", "memory")
    assert model.attention_blocks() == {"cnn": slice(0, W), "memory": slice(W, 2 * W)}
    out = model(torch.randint(0, len(vocab), (2, 40)))
    attention, split = out.trace["attention"], out.trace["split"]
    assert attention.shape == (2, 40, 2 * W) and split.shape == (2, 40, 3)
    for block in model.attention_blocks().values():
        torch.testing.assert_close(attention[..., block].sum(-1), torch.ones(2, 40))
        assert attention[:, 0, block][..., -1].min() > 0.999, "first position: itself only"
        assert not attention[:, 1:, block][..., :-40].any(), "no weight before the text"
    torch.testing.assert_close(split.sum(-1), torch.ones(2, 40))
    assert torch.equal(out.trace["reliance"], split[..., 1])
    off = model(torch.randint(0, len(vocab), (2, 40)), cnn_off=True).trace
    assert not off["split"][..., 1].any() and not off["reliance"].any()
    torch.testing.assert_close(off["split"].sum(-1), torch.ones(2, 40))


@torch.no_grad()
def test_the_memory_window_holds_past_gru_states(vocab):
    """A character 200 back reaches the long memory model through the window, not only the GRU:
    with the GRU's recurrence cut, only the memory attention links the two."""
    def cut(model):  # no recurrent weights, update gate shut: each GRU output reads one character
        H = model.config.hidden
        model.gru.weight_hh_l0.zero_()
        model.gru.bias_ih_l0[H:2 * H] = -1000.0
        return model

    model = cut(make("hybrid", EXTRA[0][2], len(vocab)))
    torch.manual_seed(10)
    tokens = torch.randint(0, len(vocab), (1, 240))
    changed = tokens.clone()
    changed[0, 30] = (tokens[0, 30] + 1) % len(vocab)
    a, b = model(tokens).logits, model(changed).logits
    assert not torch.equal(a[0, 230], b[0, 230]), "230 - 30 < 256: inside the window"
    short = cut(make("hybrid", {**EXTRA[0][2], "window": 32}, len(vocab)))
    assert torch.equal(short(tokens).logits[0, 230], short(changed).logits[0, 230])


# Initialisation


@torch.no_grad()
def test_scaled_init_keeps_the_special_cases_and_starts_uniform(vocab):
    torch.manual_seed(11)
    model = build_model("cnn-pre", len(vocab), params=SMALL, form="depthwise+ngram",
                        init="scaled")
    H = model.config.hidden
    assert not model.head.weight.any(), "zero head: the first prediction is uniform"
    out = model(torch.randint(0, len(vocab), (1, 20)))
    torch.testing.assert_close(out.logits, torch.zeros_like(out.logits))
    assert abs(model.embed.weight.std().item() - 1) < 0.1
    for gate in model.gru.weight_hh_l0.chunk(3):
        torch.testing.assert_close(gate @ gate.T, torch.eye(H), atol=1e-4, rtol=0)
    w = model.cnn.convs[0].weight
    assert abs(w.std().item() * w[0].numel() ** 0.5 - 1) < 0.1, "variance 1 / fan in"
    assert not model.depthwise.conv.weight.any(), "the depthwise convolution still starts at 0"
    highway_bias = model.cnn.highway.proj.bias
    assert torch.equal(highway_bias[len(highway_bias) // 2:],
                       torch.full((len(highway_bias) // 2,), -2.0))


def test_default_init_is_pytorchs_and_the_same_for_every_form(vocab):
    """The default consumes the random stream as the shipped models' code did: a GRU built after
    the same seed gets the same embedding, whichever form comes with it."""
    torch.manual_seed(12)
    plain = build_model("gru", len(vocab), hidden=40)
    torch.manual_seed(12)
    pre = build_model("cnn-post", len(vocab), hidden=40)
    assert torch.equal(plain.embed.weight, pre.embed.weight)
    assert torch.equal(plain.gru.weight_hh_l0, pre.gru.weight_hh_l0)
    assert isinstance(plain, GRUModel) and plain.embed.weight.std() > 0.9, "N(0, 1) embedding"
