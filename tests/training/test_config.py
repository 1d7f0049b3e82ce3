"""A run's config: the schedule anneals over the run's own steps; the recipe names a run."""

import pytest

from cnngru.training import TrainConfig, recipe, recipe_key


def test_the_schedule_warms_up_then_decays_to_its_floor_at_the_last_step():
    c = TrainConfig(max_chars=100 * 16384, warmup_steps=10, lr=1e-2, min_lr_ratio=0.1)
    assert c.lr_at(0) == pytest.approx(1e-3) and c.lr_at(9) == pytest.approx(1e-2)
    assert c.lr_at(c.steps) == pytest.approx(1e-3)
    rates = [c.lr_at(s) for s in range(10, c.steps)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_a_short_run_still_anneals_when_its_warmup_would_be_most_of_it():
    c = TrainConfig(max_chars=12 * 16384, warmup_steps=50, lr=1e-2)
    assert c.lr_at(c.steps - 1) < 0.2 * c.lr and max(c.lr_at(s) for s in range(c.steps)) == c.lr


def test_the_recipe_ignores_the_device_and_the_time_limit_but_not_the_budget():
    a = TrainConfig(device="cpu", max_minutes=None)
    b = TrainConfig(device="cuda", max_minutes=5.0)
    assert recipe(a) == recipe(b) and recipe_key(a) == recipe_key(b)
    assert recipe_key(TrainConfig(max_chars=10**6)) != recipe_key(a)


def test_a_config_without_a_budget_says_so():
    with pytest.raises(ValueError, match="budget"):
        TrainConfig(max_chars=None).steps  # noqa: B018
