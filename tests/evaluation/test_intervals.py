"""cnngru.evaluation.intervals on hand-made losses: chunk sums, bootstrap and paired intervals."""

import math

import numpy as np
import pytest

from cnngru.evaluation.intervals import bootstrap_bpc, chunk_sums, paired_difference

LN2 = math.log(2)


def test_chunk_sums_sum_and_count_each_chunk_including_a_short_last_one():
    sums, counts = chunk_sums(np.arange(10, dtype=float), chunk=4)
    np.testing.assert_array_equal(sums, [0 + 1 + 2 + 3, 4 + 5 + 6 + 7, 8 + 9])
    np.testing.assert_array_equal(counts, [4, 4, 2])
    sums, counts = chunk_sums(np.ones(8), chunk=4)  # no short chunk when it divides evenly
    np.testing.assert_array_equal(sums, [4, 4])
    np.testing.assert_array_equal(counts, [4, 4])


def test_constant_chunks_give_a_zero_width_interval_at_the_value():
    nats = 1.5  # every character costs the same
    sums, counts = chunk_sums(np.full(10 * 200 + 37, nats), chunk=200)
    lo, hi = bootstrap_bpc(sums, counts)
    assert lo == hi == pytest.approx(nats / LN2, abs=1e-12)


def test_identical_rows_differ_by_exactly_zero():
    nll = np.random.default_rng(0).exponential(1.0, 20_000)
    sums, counts = chunk_sums(nll, chunk=500)
    assert paired_difference(sums, sums.copy(), counts) == (0.0, 0.0, 0.0)


def test_a_constant_shift_per_character_is_recovered():
    c = 0.25  # row b costs c nats more on every character
    a = np.random.default_rng(1).exponential(1.0, 20_000)
    sums_a, counts = chunk_sums(a, chunk=500)
    sums_b, _ = chunk_sums(a + c, chunk=500)
    point, lo, hi = paired_difference(sums_b, sums_a, counts)
    assert point == pytest.approx(c / LN2, abs=1e-9)
    assert lo - 1e-9 <= point <= hi + 1e-9 and hi - lo < 1e-9, "pairing removes all chunk noise"
    assert paired_difference(sums_a, sums_b, counts)[0] == pytest.approx(-c / LN2, abs=1e-9)


def test_a_noisy_shift_lies_inside_a_proper_interval():
    c, rng = 0.25, np.random.default_rng(2)
    a = rng.exponential(1.0, 40_000)
    noise = rng.normal(0, 0.5, 40_000)
    noise -= noise.mean()  # the true difference is exactly c per character
    sums_a, counts = chunk_sums(a, chunk=500)
    sums_b, _ = chunk_sums(a + c + noise, chunk=500)
    point, lo, hi = paired_difference(sums_b, sums_a, counts)
    assert point == pytest.approx(c / LN2, abs=1e-9)
    assert lo < point < hi and hi - lo > 1e-3


def test_the_interval_narrows_with_more_chunks():
    nll = np.random.default_rng(3).exponential(1.0, 500 * 400)
    few = bootstrap_bpc(*chunk_sums(nll[: 500 * 16], chunk=500))
    many = bootstrap_bpc(*chunk_sums(nll, chunk=500))
    assert many[1] - many[0] < (few[1] - few[0]) / 2  # 25x the chunks: about 5x narrower
    mean = nll.mean() / LN2
    assert many[0] < mean < many[1]


def test_the_same_seed_gives_the_same_interval():
    sums, counts = chunk_sums(np.random.default_rng(4).exponential(1.0, 10_000), chunk=500)
    assert bootstrap_bpc(sums, counts, seed=5) == bootstrap_bpc(sums, counts, seed=5)
    assert bootstrap_bpc(sums, counts, seed=5) != bootstrap_bpc(sums, counts, seed=6)
