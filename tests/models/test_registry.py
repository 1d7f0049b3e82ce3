"""cnngru.models.registry: every architecture registered by name, sized to one shared budget."""

import pytest
import torch
from conftest import ARCHITECTURES, SMALL

from cnngru.models import (
    BUDGET_TOLERANCE,
    REGISTRY,
    VARIANTS,
    architecture,
    build_from_config,
    build_model,
    count_params,
    params_for,
)
from cnngru.models.registry import register


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_name_builds_the_architecture_registered_under_it(name, vocab):
    model = build_model(name, len(vocab), params=SMALL)
    assert REGISTRY[name] is architecture(name) is type(model)
    assert model.config.variant == name, "the config names the architecture it belongs to"
    rebuilt = build_from_config(model.config)
    assert type(rebuilt) is type(model) and count_params(rebuilt) == count_params(model)
    assert params_for(name, len(vocab), hidden=model.config.hidden) == count_params(model)


def test_the_variants_are_distinct_architectures():
    assert len({architecture(v) for v in ARCHITECTURES}) == len(ARCHITECTURES)
    assert "transformer" not in VARIANTS, "the reference row is not one of the compared variants"


def test_a_name_cannot_be_registered_twice(vocab):
    class Impostor(torch.nn.Module):
        pass

    with pytest.raises(ValueError, match="two architectures registered as 'gru'"):
        register("gru")(Impostor)
    assert REGISTRY["gru"] is not Impostor
    assert register("gru")(REGISTRY["gru"]) is REGISTRY["gru"], "the same class again is fine"


@pytest.mark.parametrize("budget", [250_000, 1_000_000, 3_000_000])
def test_every_architecture_meets_the_parameter_budget(budget, vocab):
    for name in ARCHITECTURES:
        n = count_params(build_model(name, len(vocab), params=budget))
        assert abs(n - budget) <= BUDGET_TOLERANCE * budget, (name, n)


def test_default_size_is_one_million_parameters(vocab):
    sizes = [count_params(build_model(v, len(vocab))) for v in VARIANTS]
    assert max(sizes) / min(sizes) <= 1 + BUDGET_TOLERANCE
    assert all(abs(s - 1_000_000) < 50_000 for s in sizes)


def test_explicit_hidden_skips_the_sizing(vocab):
    assert build_model("gru", len(vocab), hidden=24).config.hidden == 24
    with pytest.raises(ValueError, match="not both"):
        build_model("gru", len(vocab), params=SMALL, hidden=24)


def test_bad_builder_arguments_are_clear_errors(vocab):
    with pytest.raises(ValueError, match="unknown variant"):
        build_model("lstm", len(vocab))
    with pytest.raises(ValueError, match="unknown config fields"):
        build_model("gru", len(vocab), kernel=3)
    with pytest.raises(ValueError, match="too small"):
        build_model("cnn-pre", len(vocab), params=1_000)
