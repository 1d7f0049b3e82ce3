"""Checking what a request asks for: every setting by name, texts and their characters."""

import pytest
from tiny_zoo import CHARS

import cnngru
from cnngru.app import validation
from cnngru.app.validation import InputError


@pytest.mark.parametrize("args, expected", [
    ((5, 10, 0.8, 0, 1.0, 0), "max_new_tokens"),  # valid baseline below, each case breaks one
    ((0, 0.8, 0, 1.0, 0), "max_new_tokens must be a whole number from 1 to 2000"),
    ((2001, 0.8, 0, 1.0, 0), "max_new_tokens must be a whole number from 1 to 2000"),
    ((10.5, 0.8, 0, 1.0, 0), "max_new_tokens must be a whole number"),
    ((10, "hot", 0, 1.0, 0), "temperature must be a number from 0 to 2"),
    ((10, -0.1, 0, 1.0, 0), "temperature must be a number from 0 to 2"),
    ((10, float("nan"), 0, 1.0, 0), "temperature"),
    ((10, True, 0, 1.0, 0), "temperature"),
    ((10, 1e-40, 0, 1.0, 0), r"temperature must be 0 \(greedy\) or at least 0.001"),
    ((10, 0.8, -1, 1.0, 0), "top_k must be a whole number from 0 to 60"),
    ((10, 0.8, 0, 0, 0), "top_p must be a number greater than 0 and at most 1"),
    ((10, 0.8, 0, 1.5, 0), "top_p"),
    ((10, 0.8, 0, 1.0, -3), "seed must be a whole number"),
    ((10, 0.8, 0, 1.0, "x"), "seed"),
])
def test_generation_settings_are_checked_by_name(args, expected):
    if len(args) == 6:  # the baseline: every value valid
        req = validation.generation_request(*args[1:], vocab_size=60)
        assert (req.max_new_tokens, req.temperature, req.top_k, req.seed) == (10, 0.8, 0, 0)
        return
    with pytest.raises(InputError, match=expected):
        validation.generation_request(*args, vocab_size=60)


def test_numeric_strings_are_accepted_and_an_empty_seed_is_random():
    req = validation.generation_request("12", "0.5", "3", "0.9", "", vocab_size=60)
    assert (req.max_new_tokens, req.temperature, req.top_k, req.top_p) == (12, 0.5, 3, 0.9)
    assert 0 <= req.seed <= validation.MAX_SEED
    assert len({validation.seed_value(None) for _ in range(5)}) > 1


def test_text_limits_and_unknown_characters_are_named():
    with pytest.raises(InputError, match="empty"):
        validation.text_input("", "prompt", 10)
    with pytest.raises(InputError, match="1,000,000 characters long; the demo takes up to 10"):
        validation.text_input("a" * 1_000_000, "prompt", 10)
    with pytest.raises(InputError, match="must be text"):
        validation.text_input(42, "prompt", 10)
    vocab = cnngru.Vocab(CHARS)
    with pytest.raises(InputError, match="'é' '€'"):
        validation.known_characters("café €", vocab, "prompt", replace=False)
    assert validation.known_characters("café", vocab, "prompt", replace=True) == "cafe"
    with pytest.raises(InputError, match="true or false"):
        validation.flag("yes", "refine")
