"""Temperature, top-k and top-p on hand-made distributions; inverse-CDF draws; the batched
sampler picks exactly the index the one-row sampler picks."""

import numpy as np
import pytest

from cnngru.sampling import (
    SamplingSettings,
    inverse_cdf,
    sample,
    sample_rows,
    sampling_distribution,
)

LOGITS = np.log(np.array([0.05, 0.4, 0.1, 0.3, 0.15]))


def dist(**kw):
    return sampling_distribution(LOGITS, SamplingSettings(**kw))


def test_temperature_zero_is_argmax():
    np.testing.assert_array_equal(dist(temperature=0), [0, 1, 0, 0, 0])
    assert all(sample(LOGITS, SamplingSettings(temperature=0), u) == 1 for u in (0, 0.5, 0.999))


def test_a_temperature_between_greedy_and_the_smallest_that_computes_is_refused():
    """1e-40 would divide float32 logits into NaN: the floor refuses it by name."""
    with pytest.raises(ValueError, match="0 .greedy. or a number from 0.001"):
        SamplingSettings(temperature=1e-40)
    assert np.isfinite(dist(temperature=0.001)).all() and dist(temperature=0.001).argmax() == 1


def test_temperature_one_is_the_model_distribution():
    np.testing.assert_allclose(dist(), [0.05, 0.4, 0.1, 0.3, 0.15])


def test_temperature_flattens_and_sharpens():
    hot, cold = dist(temperature=2.0), dist(temperature=0.5)
    assert hot.max() < 0.4 < cold.max()
    assert hot.min() > 0.05 > cold.min()


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_top_k_keeps_exactly_k(k):
    p = dist(top_k=k)
    assert (p > 0).sum() == k
    kept = set(np.flatnonzero(p))
    assert kept == set(np.argsort(-np.exp(LOGITS))[:k])
    assert p.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("top_p, kept", [(0.3, {1}), (0.4, {1}), (0.41, {1, 3}), (0.7, {1, 3}),
                                         (0.71, {1, 3, 4}), (0.95, {1, 3, 4, 2}), (1.0, {0, 1, 2, 3, 4})])
def test_top_p_keeps_the_smallest_nucleus_reaching_p(top_p, kept):
    assert set(np.flatnonzero(dist(top_p=top_p))) == kept


def test_top_k_then_top_p_combine():
    assert set(np.flatnonzero(dist(top_k=3, top_p=0.5))) == {1, 3}


def test_inverse_cdf_walks_the_vocabulary_order():
    p = np.array([0.2, 0.0, 0.5, 0.3])
    assert [inverse_cdf(p, u) for u in (0.0, 0.19, 0.2, 0.69, 0.7, 0.9999999)] == [0, 0, 2, 2, 3, 3]
    assert inverse_cdf(np.array([0.0, 1.0, 0.0]), 0.99999999) == 1  # never a zero-probability one


def test_inverse_cdf_frequencies_match_the_distribution():
    p = np.array([0.1, 0.6, 0.3])
    u = np.random.default_rng(0).random(20000)
    counts = np.bincount([inverse_cdf(p, x) for x in u], minlength=3) / len(u)
    np.testing.assert_allclose(counts, p, atol=0.015)


@pytest.mark.parametrize("bad", [dict(temperature=-0.1), dict(temperature=float("nan")),
                                 dict(temperature="hot"), dict(top_k=-1), dict(top_k=2.5),
                                 dict(top_p=0), dict(top_p=1.5)])
def test_out_of_range_settings_are_rejected(bad):
    with pytest.raises(ValueError):
        SamplingSettings(**bad)


def random_settings(rng, vocab_size: int) -> SamplingSettings:
    return SamplingSettings(
        temperature=float(rng.choice([0, 0.05, 0.5, 0.8, 1, 1.7, 100, rng.uniform(0.1, 3)])),
        top_k=int(rng.choice([0, 0, 1, 2, 5, vocab_size - 1, vocab_size, vocab_size + 3])),
        top_p=float(rng.choice([1.0, 1.0, 0.9, 0.5, 0.01, rng.uniform(0.05, 1)])))


def batched(logits, settings, u):
    return sample_rows(logits, np.array([s.temperature for s in settings], np.float32),
                       np.array([s.top_k for s in settings]),
                       np.array([s.top_p for s in settings]), np.asarray(u, np.float64))


@pytest.mark.parametrize("seed", range(8))
def test_batched_sampling_picks_exactly_what_each_row_picks_alone(seed):
    rng = np.random.default_rng(seed)
    B, V = 257, 80
    scale = rng.choice([0.1, 1, 5, 30], size=(B, 1))
    logits = (rng.standard_normal((B, V)) * scale).astype(np.float32)
    logits[::7, 3] = logits[::7, 5]  # ties: the stable order decides, in both paths
    settings = [random_settings(rng, V) for _ in range(B)]
    u = rng.random(B)
    u[:4] = [0.0, 1 - 1e-16, 0.5, 0.999999]
    expected = [sample(logits[i], settings[i], u[i]) for i in range(B)]
    np.testing.assert_array_equal(batched(logits, settings, u), expected)


def test_rows_with_different_settings_do_not_mix():
    """The same logits and draw under greedy, top-k 1 and full sampling: each row its own answer."""
    logits = np.tile(np.array([[2.0, 1.0, 0.5, 0.0]], np.float32), (3, 1))
    settings = [SamplingSettings(0), SamplingSettings(1.0, top_k=1), SamplingSettings(1.0)]
    picks = batched(logits, settings, [0.99, 0.99, 0.99])
    assert picks.tolist() == [0, 0, 3]
