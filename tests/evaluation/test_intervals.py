"""cnngru.evaluation.intervals on hand-made losses: chunk sums, bootstrap and paired intervals."""

import math

import numpy as np
import pytest

from cnngru.evaluation.intervals import (
    Estimate,
    bootstrap_bpc,
    hierarchical_bpc,
    hierarchical_paired_difference,
    holm,
    paired_difference,
    satterthwaite_df,
    student_t_cdf,
    student_t_quantile,
    welch_difference,
)
from cnngru.evaluation.scoring import chunk_sums

LN2 = math.log(2)


def triple(e):
    """An estimate's mean and interval."""
    return e.mean, e.lo, e.hi


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


# ---- the hierarchical bootstrap: seeds, then chunks, paired -------------------------------------


def test_identical_rows_over_seeds_differ_by_exactly_zero():
    rng = np.random.default_rng(0)
    sums = rng.uniform(1000, 2000, (3, 50))
    point, lo, hi = triple(hierarchical_paired_difference(sums, sums.copy(), np.full(50, 2000)))
    assert point == lo == hi == 0.0


def test_seed_i_of_two_rows_is_a_pair_so_what_they_share_cancels():
    """Seed i starts both rows from one random stream: a seed effect the rows share (here three
    seeds 0.06 BPC apart, in both) cancels in the difference, which stays narrow."""
    rng = np.random.default_rng(4)
    counts = np.full(80, 2000)
    shared = np.array([-0.06, 0.0, 0.06])[:, None] * math.log(2) * counts
    base = rng.uniform(2600, 3000, (1, 80)) + shared
    shift = 0.02 * math.log(2) * counts
    a = base + shift + rng.normal(0, 5, (3, 80))
    point, lo, hi = triple(hierarchical_paired_difference(a, base, counts))
    assert abs(point - 0.02) < 0.002 and 0 < lo < 0.02 < hi and hi - lo < 0.01


def test_seeds_that_differ_on_every_chunk_alike_get_students_t_with_two_degrees_of_freedom():
    """Three seeds at 2.0, 2.1 and 2.3 BPC on every chunk, against a row of zeros: the chunks add
    nothing, so the whole variance is the seeds'. Reflated, the draw's standard error is the
    seeds' own (sample sd / sqrt(3)), and the width is t with 2 degrees of freedom, 4.303 of
    them, where a percentile interval would stop at the reflated lowest and highest seeds."""
    counts = np.full(20, 2000)
    bpc = np.array([2.0, 2.1, 2.3])
    sums = np.repeat(bpc[:, None] * math.log(2) * 2000, 20, axis=1)
    point, lo, hi = triple(hierarchical_bpc(sums, counts))
    mean, standard_error = bpc.mean(), bpc.std(ddof=1) / math.sqrt(3)
    assert point == pytest.approx(mean)
    assert point - lo == pytest.approx(hi - point)
    assert (hi - lo) / 2 == pytest.approx(4.303 * standard_error, rel=0.05)
    assert lo < mean + math.sqrt(3 / 2) * (2.0 - mean) - 0.1  # well beyond the percentile's end


def test_seeds_that_agree_leave_the_chunks_many_degrees_of_freedom():
    """The same seed three times, noisy chunks: only the chunk draw varies, so the degrees of
    freedom are the chunks' and the width is the normal's, as wide as one seed's chunk interval."""
    rng = np.random.default_rng(5)
    counts = np.full(200, 2000)
    base = rng.uniform(2600, 3000, 200)
    a = np.tile(base + rng.normal(0, 40, 200), (3, 1))
    _, lo, hi = triple(hierarchical_paired_difference(a, np.tile(base, (3, 1)), counts))
    _, lo1, hi1 = paired_difference(a[0], base, counts)
    assert hi - lo == pytest.approx(hi1 - lo1, rel=0.1)


@pytest.mark.parametrize("seed_part, expected",
                         [(1.0, 2), (0.0, 199), (0.5, 1 / (0.25 / 2 + 0.25 / 199))])
def test_satterthwaite_follows_whichever_part_dominates(seed_part, expected):
    """All from seeds: their 2 degrees of freedom; all from chunks: the chunks' 199; half each:
    1 / (0.5^2 / 2 + 0.5^2 / 199), worked by hand."""
    assert satterthwaite_df(1.0, seed_part, 2, 199) == pytest.approx(expected)


def test_a_seed_part_above_the_whole_is_capped_at_the_seeds_degrees_of_freedom():
    assert satterthwaite_df(1.0, 1.3, 2, 199) == pytest.approx(2)


def test_a_known_shift_is_recovered_inside_its_interval():
    rng = np.random.default_rng(1)
    counts = np.full(80, 2000)
    base = rng.uniform(2600, 3000, (3, 80))
    shift = 0.05 * math.log(2) * counts  # 0.05 bits per character
    a = base + shift + rng.normal(0, 20, (3, 80))
    point, lo, hi = triple(hierarchical_paired_difference(a, base, counts))
    assert abs(point - 0.05) < 0.005 and lo < 0.05 < hi and lo > 0


def test_seed_to_seed_spread_widens_the_interval_beyond_the_chunk_interval():
    """Training randomness: three seeds that disagree make the interval wider than the chunks
    of one seed alone would, which is what the hierarchical bootstrap is for."""
    rng = np.random.default_rng(2)
    counts = np.full(100, 2000)
    base = rng.uniform(2600, 3000, (3, 100))
    per_seed = np.array([-0.06, 0.0, 0.06])[:, None] * math.log(2) * counts
    a = base + per_seed + rng.normal(0, 5, (3, 100))
    _, lo, hi = triple(hierarchical_paired_difference(a, base, counts))
    _, lo1, hi1 = triple(hierarchical_paired_difference(a[:1], base[:1], counts))
    assert hi - lo > 2 * (hi1 - lo1)


def test_hierarchical_bpc_of_constant_chunks_is_exact():
    counts = np.full(10, 2000)
    sums = np.full((3, 10), 2000 * 2.5 * math.log(2))
    point, lo, hi = triple(hierarchical_bpc(sums, counts))
    assert point == pytest.approx(2.5) and lo == pytest.approx(2.5) and hi == pytest.approx(2.5)


@pytest.mark.parametrize("df, quantile", [(1, 12.706), (2, 4.303), (4, 2.776), (2.5, 3.575),
                                          (30, 2.042), (1e6, 1.960)])
def test_the_t_quantile_matches_the_tables_fractional_degrees_of_freedom_included(df, quantile):
    assert student_t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-3)


def test_welch_with_equal_spreads_is_the_pooled_t_interval():
    """Equal spreads and sizes: Welch's degrees of freedom are n1 + n2 - 2 and its interval the
    pooled one, worked by hand: means 2.0 and 2.1, each sd 0.1, so se = 0.1 * sqrt(2 / 3)."""
    point, lo, hi = welch_difference([2.1, 2.2, 2.0], [2.0, 2.1, 1.9])
    assert point == pytest.approx(0.1)
    half = 2.776445 * 0.1 * math.sqrt(2 / 3)
    assert (lo, hi) == pytest.approx((0.1 - half, 0.1 + half), abs=1e-5)


def test_one_wild_seed_widens_the_interval_so_that_even_a_large_lead_holds_zero():
    """Welch follows each group's own spread: a steady design against one with a wild seed gets
    the wild one's width and few degrees of freedom, so even a large lead is not clear."""
    steady, wild = [2.34, 2.35, 2.36], [2.36, 2.59, 2.40]
    point, lo, hi = welch_difference(wild, steady)
    assert point == pytest.approx(0.10) and lo < 0 < hi
    _, lo, hi = welch_difference([v + 0.03 for v in steady], steady)
    assert 0 < lo < hi  # the same steady spread twice: 0.03 is clear


def test_groups_without_spread_give_the_difference_exactly():
    assert welch_difference([2.0, 2.0, 2.0], [1.5, 1.5, 1.5]) == (0.5, 0.5, 0.5)


# ---- p-values and Holm's correction ---------------------------------------------------------


@pytest.mark.parametrize("x, df, expected", [(0.0, 2, 0.5), (1.0, 1, 0.75), (-1.0, 1, 0.25),
                                             (2.920, 2, 0.95), (1.960, 1e6, 0.975),
                                             (1e9, 2, 1.0)])
def test_the_t_distribution_function_matches_the_tables(x, df, expected):
    """Cauchy (df = 1) has 0.5 + atan(x) / pi; 2.920 is t's 95% point at 2 degrees of freedom."""
    assert student_t_cdf(x, df) == pytest.approx(expected, abs=1e-4)


def test_the_p_value_falls_below_005_just_when_the_interval_leaves_out_zero():
    """A difference whose 95% interval ends at zero has p = 0.05, at any degrees of freedom."""
    for df in (2, 3.7, 40):
        for se in (0.005, 0.01):
            edge = Estimate.of(student_t_quantile(0.975, df) * se, se, df)
            assert edge.lo == pytest.approx(0, abs=1e-9) and edge.p == pytest.approx(0.05, abs=1e-5)
            inside, outside = Estimate.of(edge.mean * 0.9, se, df), Estimate.of(edge.mean * 1.1, se, df)
            assert inside.lo < 0 < inside.p - 0.05 and outside.lo > 0 and outside.p < 0.05
    assert Estimate.of(0.0, 0.0, 2).p == 1.0 and Estimate.of(0.1, 0.0, 2).p == 0.0


def test_holm_steps_down_from_the_smallest_p_and_stops_at_the_first_that_fails():
    """Four tests: the smallest p is multiplied by 4, the next by 3, then 2 and 1, none below an
    earlier one. At 5%, 0.03 (0.06 adjusted) fails, so 0.04 cannot pass either, though it would
    on its own: it takes the 0.06 before it."""
    adjusted = holm([0.03, 0.001, 0.016, 0.04])
    assert adjusted == pytest.approx([0.06, 0.004, 0.048, 0.06])
    assert [a < 0.05 for a in adjusted] == [False, True, True, False]
    assert holm([0.01, 0.02, 0.04]) == pytest.approx([0.03, 0.04, 0.04])  # all clear at 5%
    assert holm([0.02]) == [0.02] and holm([]) == [] and holm([0.5, 0.6]) == [1.0, 1.0]


@pytest.mark.parametrize("seeds", [1, 3])
def test_a_text_of_one_chunk_still_gets_an_interval(seeds):
    """One chunk has no chunk-to-chunk spread to estimate: the seeds' part decides alone."""
    rng = np.random.default_rng(6)
    a, b = rng.uniform(2600, 3000, (seeds, 1)), rng.uniform(2600, 3000, (seeds, 1))
    for draw in range(20):
        e = hierarchical_paired_difference(a, b, np.full(1, 2000), seed=draw)
        assert e.lo <= e.mean <= e.hi and math.isfinite(e.hi) and e.df >= 1
