"""Streaming generation: seeds, common random numbers, continuation, prompts, constant cost."""

import copy

import numpy as np
import pytest
import torch

import cnngru
from cnngru import UnknownCharactersError, generate
from cnngru.checkpoint import Bundle
from cnngru.models import VARIANTS


@pytest.fixture(scope="module")
def bundles():
    return {name: cnngru.load(name, device="cpu") for name in VARIANTS}


def text_of(gen):
    return "".join(step.char for step in gen)


@pytest.mark.parametrize("name", VARIANTS)
def test_same_seed_same_text_other_seed_other_text(bundles, name):
    b = bundles[name]
    a1 = text_of(generate(b, "ROMEO.\n", max_new_tokens=200, seed=1))
    a2 = text_of(generate(b, "ROMEO.\n", max_new_tokens=200, seed=1))
    c = text_of(generate(b, "ROMEO.\n", max_new_tokens=200, seed=2))
    assert a1 == a2 and a1 != c and len(a1) == 200


def test_greedy_is_deterministic_and_ignores_the_seed(bundles):
    b = bundles["hybrid"]
    assert text_of(generate(b, "JULIET.\n", max_new_tokens=80, temperature=0, seed=1)) == \
        text_of(generate(b, "JULIET.\n", max_new_tokens=80, temperature=0, seed=9))


def test_two_identical_models_fed_one_stream_write_identical_text(bundles):
    """Common random numbers: the dice are shared, so identical models agree exactly..."""
    b = bundles["gru"]
    twin = Bundle(copy.deepcopy(b.model), b.vocab, dict(b.metadata))
    assert text_of(generate(b, "ROMEO.\n", max_new_tokens=300, seed=5)) == \
        text_of(generate(twin, "ROMEO.\n", max_new_tokens=300, seed=5))


def test_common_random_numbers_make_different_models_agree_more(bundles, corpus):
    """...and two different models, in the same context, pick the same character far more
    often with one shared draw than with independent draws."""
    from cnngru.sampling import SamplingSettings, sample

    text = corpus.test[:600]
    logits = {}
    for name in ("gru", "cnn-post"):
        with torch.no_grad():
            logits[name] = bundles[name].model(bundles[name].vocab.encode_tensor(text)[None]).logits[0].numpy()
    rng = np.random.default_rng(0)
    u, v = rng.random(len(text)), rng.random(len(text))
    settings = SamplingSettings(temperature=1.0)
    pick = lambda name, draws: [sample(logits[name][t], settings, draws[t]) for t in range(len(text))]  # noqa: E731
    shared = np.mean(np.equal(pick("gru", u), pick("cnn-post", u)))
    independent = np.mean(np.equal(pick("gru", u), pick("cnn-post", v)))
    assert shared > independent + 0.2, (shared, independent)


@pytest.mark.parametrize("name", VARIANTS)
def test_fast_and_forward_paths_write_the_same_text(bundles, name):
    b = bundles[name]
    fast = text_of(generate(b, "ROMEO.\n", max_new_tokens=150, seed=7, fast=True))
    slow = text_of(generate(b, "ROMEO.\n", max_new_tokens=150, seed=7, fast=False))
    assert fast == slow


def test_continuing_equals_one_long_generation(bundles):
    b = bundles["hybrid"]
    draws = np.random.default_rng(11).random(300)
    whole = text_of(generate(b, "ROMEO.\n", max_new_tokens=300, draws=iter(draws)))
    first = generate(b, "ROMEO.\n", max_new_tokens=120, draws=iter(draws[:120]))
    part1 = text_of(first)
    part2 = text_of(generate(b, continue_from=first.continuation, max_new_tokens=180,
                             draws=iter(draws[120:])))
    assert part1 + part2 == whole
    assert first.text == "ROMEO.\n" + part1


def test_diagnostics_describe_each_step(bundles):
    steps = list(generate(bundles["hybrid"], "ROMEO.\n", max_new_tokens=20, seed=0, diagnostics=True))
    for s in steps:
        assert 0 < s.probability <= 1 and s.entropy >= 0
        assert len(s.top) == 5 and s.top[0][1] >= s.top[-1][1]
        assert s.trace["attention"].shape == (32,) and 0 <= s.trace["reliance"] <= 1
    plain = list(generate(bundles["hybrid"], "ROMEO.\n", max_new_tokens=20, seed=0))
    assert [s.char for s in plain] == [s.char for s in steps]
    assert plain[0].probability is None


def test_unknown_prompt_characters_are_named_or_replaced(bundles):
    b = bundles["gru"]
    with pytest.raises(UnknownCharactersError, match="'é'") as e:
        generate(b, "Roméo 🙂", max_new_tokens=5)
    assert e.value.chars == ["é", "🙂"]
    gen = generate(b, "Roméo 🙂", max_new_tokens=5, unknown="replace", seed=0)
    assert gen.text.startswith("Romeo  ")


def test_empty_prompt_and_bad_lengths_are_rejected(bundles):
    with pytest.raises(ValueError, match="empty"):
        generate(bundles["gru"], "", max_new_tokens=5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(bundles["gru"], "A", max_new_tokens=-1)


def test_long_prompts_are_read_in_bounded_chunks(bundles):
    b = bundles["cnn-pre"]
    prompt = "To be, or not to be, that is the question.\n" * 200  # 8,600 characters
    gen = generate(b, prompt, max_new_tokens=10, seed=0)
    with torch.no_grad():
        full = b.model(b.vocab.encode_tensor(prompt)[None]).logits[0, -1].numpy()
    np.testing.assert_allclose(gen.continuation.logits, full, atol=1e-4)
    assert len(text_of(gen)) == 10
