"""A prompt read once serves every later row that starts from it: the same reading, read-only,
bounded in characters, and the same texts as reading it anew."""

import numpy as np
import pytest

import cnngru
from cnngru.batched_generation import Engine, read_together
from cnngru.checkpoint import Bundle
from cnngru.generation import read_prompt
from cnngru.prompt_readings import PromptReadings
from cnngru.vocab import UnknownCharactersError

PROMPT = "ROMEO.\nBut soft, what light"


@pytest.fixture
def small_bundle(small_model, vocab):
    return Bundle(small_model, vocab)


def test_a_prompt_is_read_once_and_its_reading_equals_a_new_one(small_bundle):
    readings = PromptReadings()
    first = readings.read(small_bundle, PROMPT, keep_reading=True)
    again = readings.read(small_bundle, PROMPT, keep_reading=True)
    assert again is first and readings.reads == 1
    fresh = read_prompt(small_bundle, PROMPT, keep_reading=True)
    assert first.text == fresh.text
    np.testing.assert_array_equal(first.logits, fresh.logits)
    for k, v in fresh.state.items():
        np.testing.assert_array_equal(first.state[k], v)
    for k, v in fresh.reading.trace.items():
        np.testing.assert_array_equal(first.reading.trace[k], v)
    readings.read(small_bundle, PROMPT)  # without the reading: a reading of its own
    assert readings.reads == 2


def test_a_kept_reading_cannot_be_written_into(small_bundle):
    start = PromptReadings().read(small_bundle, PROMPT, keep_reading=True)
    with pytest.raises(ValueError, match="read-only"):
        next(iter(start.state.values()))[...] = 0
    with pytest.raises(ValueError, match="read-only"):
        start.logits[0] = 0


def test_the_cache_keeps_at_most_its_characters_dropping_the_least_recent(small_bundle):
    readings = PromptReadings(kept_chars=30)
    for prompt in ("A" * 10, "B" * 10, "C" * 10):
        readings.read(small_bundle, prompt)
    readings.read(small_bundle, "A" * 10)  # now the most recent
    readings.read(small_bundle, "D" * 10)  # 40 characters: B goes
    assert readings.reads == 4
    readings.read(small_bundle, "A" * 10)
    assert readings.reads == 4
    readings.read(small_bundle, "B" * 10)
    assert readings.reads == 5
    readings.read(small_bundle, "E" * 40)  # longer than the whole cache: read, not kept
    readings.read(small_bundle, "E" * 40)
    assert readings.reads == 7


def test_bad_prompts_still_fail_clearly_and_are_not_kept(small_bundle):
    readings = PromptReadings()
    with pytest.raises(UnknownCharactersError):
        readings.read(small_bundle, "ROMEO \u2603")
    with pytest.raises(ValueError, match="empty"):
        readings.read(small_bundle, "")
    assert readings.reads == 0


def test_rows_sharing_a_kept_prompt_write_what_they_write_alone(small_bundle):
    engine = Engine(small_bundle)
    streams = [engine.generate(PROMPT, max_new_tokens=40, temperature=0.9, seed=s, diagnostics=d)
               for s in range(6) for d in (False, True)]
    texts = read_together(streams)
    assert engine.prompts.reads == 2  # once with its reading (diagnostics), once without
    for (s, _), text in zip([(s, d) for s in range(6) for d in (0, 1)], texts, strict=True):
        expected = "".join(step.char for step in cnngru.generate(
            small_bundle, PROMPT, max_new_tokens=40, temperature=0.9, seed=s))
        assert text == expected
