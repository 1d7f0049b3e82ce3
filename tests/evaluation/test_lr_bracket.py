"""The learning-rate grid grows until the chosen rate has a worse neighbour on each side."""

from cnngru.evaluation.lr_bracket import best_rate, is_bracketed, rates_to_add


def test_a_best_rate_inside_the_grid_is_bracketed():
    scores = {2.5e-3: 2.40, 5e-3: 2.31, 1e-2: 2.35}
    assert best_rate(scores) == 5e-3 and rates_to_add(scores) == [] and is_bracketed(scores)


def test_a_best_rate_at_the_top_asks_for_the_next_one_up():
    assert rates_to_add({2.5e-3: 2.6, 5e-3: 2.5, 1e-2: 2.4}) == [2e-2]


def test_a_best_rate_at_the_bottom_asks_for_the_next_one_down():
    assert rates_to_add({2.5e-3: 2.3, 5e-3: 2.5, 1e-2: 2.6}) == [1.25e-3]


def test_growing_the_grid_until_bracketed_reaches_the_true_optimum():
    """A convex curve with its minimum near 3e-2: the rule walks up to it and stops."""
    import math

    def score(lr):
        return (math.log(lr) - math.log(3e-2)) ** 2

    scores = {lr: score(lr) for lr in (2.5e-3, 5e-3, 1e-2)}
    while rates_to_add(scores):
        (lr,) = rates_to_add(scores)
        scores[lr] = score(lr)
    assert best_rate(scores) == 4e-2 and sorted(scores) == [2.5e-3, 5e-3, 1e-2, 2e-2, 4e-2, 8e-2]
    grid = sorted(scores)
    assert all(b / a <= 3 for a, b in zip(grid, grid[1:], strict=False))


def test_two_rates_are_never_called_bracketed():
    assert not is_bracketed({1e-3: 2.0, 2e-3: 2.1})


def test_a_tie_keeps_the_smaller_rate():
    assert best_rate({1e-3: 2.0, 2e-3: 2.0, 4e-3: 2.5}) == 1e-3
