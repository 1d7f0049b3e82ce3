"""cnngru.evaluation.interval_coverage on hand-made chunk losses."""

import math

import numpy as np

from cnngru.evaluation.interval_coverage import coverage


def test_rows_with_no_noise_and_no_seed_spread_always_hold_zero():
    counts = np.full(40, 2000.0)
    nats = np.tile(np.random.default_rng(0).uniform(2000, 3000, 40), (3, 1))
    assert coverage(nats, counts, spread=0.0, studies=20) == 1.0


def test_a_seed_spread_far_above_the_chunk_noise_shows_three_seeds_falling_short():
    """When seeds differ far more than chunks do, three of them cannot give a full 95%; but
    the interval still holds zero in most studies."""
    rng = np.random.default_rng(1)
    counts = np.full(40, 2000.0)
    nats = rng.uniform(2000, 3000, 40) + rng.normal(0, 1, (3, 40))
    share = coverage(nats, counts, spread=0.05, studies=100)
    assert 0.6 < share < 0.95
    assert math.isclose(coverage(nats, counts, spread=0.05, studies=100), share)  # seeded
