"""The CPU recipe: many small steps for a small budget, larger batches once the steps suffice."""

from cnngru.training.cpu_recipe import LR_BY_BATCH, MIN_STEPS, cpu_recipe, cpu_recipe_for_time


def test_a_small_budget_gets_a_small_batch_and_enough_steps():
    r = cpu_recipe(1_500_000)  # about 100 s of training on two cores
    assert r.batch_size < max(LR_BY_BATCH) and r.steps(1_500_000) >= 100
    assert r.lr == LR_BY_BATCH[r.batch_size]


def test_a_large_budget_gets_the_largest_batch():
    r = cpu_recipe(100_000_000)
    assert r.batch_size == max(LR_BY_BATCH) and r.steps(100_000_000) >= MIN_STEPS


def test_the_chosen_batch_is_the_largest_that_still_gives_min_steps():
    for chars in (2_000_000, 5_000_000, 10_000_000, 30_000_000):
        r = cpu_recipe(chars)
        assert r.steps(chars) >= MIN_STEPS or r.batch_size == min(LR_BY_BATCH)
        larger = [b for b in LR_BY_BATCH if b > r.batch_size]
        assert all(chars // (b * r.seq_len) < MIN_STEPS for b in larger)


def test_warmup_is_a_small_share_of_the_steps_and_never_most_of_them():
    for chars in (50_000, 1_500_000, 50_000_000):
        r = cpu_recipe(chars)
        assert 1 <= r.warmup_steps <= max(1, r.steps(chars) // 4)


def test_a_time_budget_measures_at_most_twice():
    calls = []

    def rate(batch):
        calls.append(batch)
        return 15_000.0

    r = cpu_recipe_for_time(100, rate)
    assert len(calls) <= 2 and r.batch_size == calls[-1]
    assert r == cpu_recipe(int(15_000 * 100))
