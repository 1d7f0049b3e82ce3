"""The table builders on hand-made inputs, and the filter path against the model's own forward."""

import numpy as np
import pytest
import torch
from conftest import make_small

from cnngru.inside import filters, units
from cnngru.inside.activations import filter_activations, filter_banks, left_out_note
from cnngru.models import build_model


def test_top_ngrams_ranks_by_mean_activation_and_counts_occurrences():
    ids = np.array([0, 1, 0, 1, 2, 0, 1])  # bigrams: 01 10 01 12 20 01
    acts = np.zeros((7, 1), dtype=np.float32)
    acts[1:, 0] = [5, 1, 3, 9, 0, 4]  # activation at each bigram's last position
    decode = lambda b: "".join("abc"[i] for i in b)  # noqa: E731
    [table] = filters.top_ngrams([ids], [acts], 2, decode, top=3)
    assert table == [["bc", 1, 9.0], ["ab", 3, 4.0], ["ba", 1, 1.0]]  # "ab": (5 + 3 + 4) / 3


def test_top_ngrams_ignores_windows_that_cross_a_block_start():
    blocks = [np.array([2, 2]), np.array([0, 1])]
    acts = [np.array([[100.0], [1.0]]), np.array([[50.0], [2.0]])]
    [table] = filters.top_ngrams(blocks, acts, 2, str, top=5)
    assert [count for _, count, _ in table] == [1, 1]
    assert [value for *_, value in table] == [2.0, 1.0]  # 100 and 50 sat on padding


def test_statistics_and_threshold():
    values = np.arange(1000, dtype=np.float64)[:, None] - 500
    stats = filters.statistics(values)
    assert stats["max"] == [499.0] and stats["mean"] == [-0.5]
    assert stats["p99"] == [pytest.approx(np.percentile(values, 99))]
    assert stats["active"] == [pytest.approx(499 / 1000)]


def test_a_label_needs_seventy_percent_of_the_top_activations():
    values = np.arange(200, dtype=np.float64)[:, None]  # the top 100 are positions 100..199
    flags = {"most": np.arange(200) >= 125, "few": np.arange(200) >= 140}
    assert filters.labels(values, flags) == [[["most", 0.75]]]  # 75 of 100; "few" has 60
    assert filters.labels(values, {"none": np.zeros(200, bool)}) == [[]]  # no invented label


def test_correlations_match_numpy_and_handle_a_constant_unit():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(500, 3))
    v = u[:, 1] * 2 + rng.normal(size=500)
    u[:, 2] = 1.0  # never varies: r = 0, not NaN
    r = units.correlations(u, v)
    assert r[0] == pytest.approx(np.corrcoef(u[:, 0], v)[0, 1])
    assert r[1] == pytest.approx(np.corrcoef(u[:, 1], v)[0, 1]) and r[1] > 0.8
    assert r[2] == 0.0
    assert units.top_units(r, 2)[0] == [1, pytest.approx(r[1], abs=1e-4)]


def conv_outputs_by_hooks(model, ids) -> np.ndarray:
    """The filters' activations as the model's own forward computes them (hooks on the convs)."""
    seen = {}
    hooks = [model.get_submodule(b.name).register_forward_hook(
        lambda m, i, o, name=b.name: seen.__setitem__(name, o)) for b in filter_banks(model)]
    with torch.inference_mode():
        model(torch.as_tensor(ids)[None])
    for h in hooks:
        h.remove()
    return torch.cat([seen[b.name] for b in filter_banks(model)], 1)[0].T.numpy()


@pytest.mark.parametrize("name,overrides,windows", [
    ("cnn-pre", {}, [2, 3, 4, 5, 6]),
    ("cnn-pre", {"form": "depthwise+ngram"}, [4, 5, 6, 7, 8, 9]),  # depthwise 4 in front
    ("cnn-pre", {"form": "depthwise"}, [4]),
    ("hybrid", {}, [2, 3, 4, 5, 6]),
    ("hybrid", {"sources": ("cnn", "memory"), "window": 8, "gate": "split"}, [2, 3, 4, 5, 6]),
])
def test_filter_activations_equal_the_models_own_convolutions(vocab, name, overrides, windows):
    torch.manual_seed(0)
    model = build_model(name, len(vocab), params=120_000, **overrides).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # the depthwise conv starts at zero otherwise
    assert [b.window for b in filter_banks(model)] == windows
    ids = np.asarray(vocab.encode("To be, or not to be, that is the question:\n" * 3))
    np.testing.assert_allclose(filter_activations(model, ids), conv_outputs_by_hooks(model, ids),
                               atol=1e-5)


def test_models_without_character_filters_say_why(vocab):
    assert filter_banks(make_small("gru", len(vocab))) == []
    assert "no convolution" in left_out_note(make_small("gru", len(vocab)))
    post = make_small("cnn-post", len(vocab))
    assert filter_banks(post) == [] and "GRU's outputs" in left_out_note(post)
