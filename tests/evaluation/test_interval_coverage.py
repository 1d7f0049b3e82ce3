"""cnngru.evaluation.interval_coverage on hand-made chunk losses."""

import math

import numpy as np

from cnngru.evaluation.interval_coverage import coverage


def test_rows_with_no_noise_and_no_seed_spread_always_hold_zero():
    counts = np.full(40, 2000.0)
    nats = np.tile(np.random.default_rng(0).uniform(2000, 3000, 40), (3, 1))
    assert coverage(nats, counts, spread=0.0, studies=20) == 1.0


def test_a_seed_spread_far_above_the_chunk_noise_still_holds_zero_in_about_95_percent():
    """When seeds differ far more than chunks do, the interval's width comes from t with about 2
    degrees of freedom; a percentile interval over the same draws held zero in only about 80% of
    such studies."""
    rng = np.random.default_rng(1)
    counts = np.full(40, 2000.0)
    nats = rng.uniform(2000, 3000, 40) + rng.normal(0, 1, (3, 40))
    share = coverage(nats, counts, spread=0.05, studies=200)
    assert 0.9 < share <= 1.0
    assert math.isclose(coverage(nats, counts, spread=0.05, studies=200), share)  # seeded
