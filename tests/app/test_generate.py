"""The Generate tab's handlers: streaming, Continue, Stop, the position slider, Refine with CNN."""

import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from tiny_zoo import drain, q_to_k_refiner, tiny_zoo

from cnngru.app import common, figures, validation
from cnngru.app.generate import GenerateHandlers, GenerateOutputs, RedrawOutputs
from cnngru.app.loaded_models import Models
from cnngru.app.validation import InputError


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


@pytest.fixture
def numbers(tmp_path) -> common.NumbersFiles:
    return common.NumbersFiles(tmp_path / "numbers")


def test_generate_streams_throttled_updates_then_figures(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    updates = drain(handlers.generate_text("hybrid", "The ", 300, 0.8, 0, 1.0, 7, False, False))
    texts = [u.text for u in updates]
    assert texts[0].startswith("The ") and len(texts[0]) > len("The ")
    assert texts == sorted(texts, key=len) and len(texts[-1]) == len("The ") + 300
    assert len(updates) < 100  # throttled: not one update per character
    final = updates[-1]
    assert "seed 7" in final.status and "300 characters" in final.status
    assert isinstance(final.attention.data[0], type(figures.go.Heatmap()))
    assert final.numbers is None  # written only when asked for: the Numbers button
    data = json.loads(Path(handlers.numbers_file(final.session)).read_text())
    assert data["text"] == final.text and data["settings"]["seed"] == 7
    assert data["prompt_chars"] == 4
    assert final.session.text == final.text and final.session.analysis.text == final.text


def test_streamed_updates_carry_the_text_alone(zoo, numbers, monkeypatch):
    monkeypatch.setattr(common.Throttle, "ready", lambda self: True)  # one per character
    handlers = GenerateHandlers(zoo, numbers)
    updates = drain(handlers.generate_text("gru", "The ", 5, 0.8, 0, 1.0, 1, False, False))
    assert all(isinstance(u, GenerateOutputs) for u in updates) and len(updates) == 6
    for u in updates[:-1]:
        assert (u.status, u.attention, u.characters, u.numbers, u.diff) == (gr.skip(),) * 5
        assert u.text.startswith("The ") and u.session is updates[0].session
    assert updates[-1].attention is not None and "seed 1" in updates[-1].status


def test_the_page_is_cleared_before_a_request_joins_the_queue(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    new = handlers.clear_for_generate()
    assert (new.text, new.status, new.attention, new.characters, new.numbers, new.diff) == (
        "", "", None, None, None, "")
    assert new.session == gr.skip()  # Continue and Stop still reach the last text
    more = handlers.clear_for_continue()
    assert more.text == gr.skip() and more.attention is None and more.session == gr.skip()


def test_the_numbers_file_is_written_on_request_only(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    final = drain(handlers.generate_text("hybrid", "The ", 30, 0.8, 0, 1.0, 2, False, False))[-1]
    assert not list(numbers.folder.glob("*.json"))
    data = json.loads(Path(handlers.numbers_file(final.session)).read_text())
    assert data["prompt_chars"] == 4 and len(data["attention"]) == len(final.text)
    with pytest.raises(InputError, match="no numbers yet"):
        handlers.numbers_file(None)


def test_generate_says_plainly_that_gru_has_no_cnn(zoo, numbers):
    final = drain(GenerateHandlers(zoo, numbers).generate_text(
        "gru", "The ", 20, 0.8, 0, 1.0, 1, False, False))[-1]
    assert "has no CNN" in final.status
    assert "no attention" in final.attention.layout.annotations[0].text


def test_continue_carries_the_state_greedy_halves_equal_the_whole(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    whole = drain(handlers.generate_text("cnn-pre", "The ", 60, 0, 0, 1.0, 0, False, False))[-1]
    half = drain(handlers.generate_text("cnn-pre", "The ", 30, 0, 0, 1.0, 0, False, False))[-1]
    more = drain(handlers.continue_text(half.session, 30, 0, 0, 1.0, 0, False))[-1]
    assert more.text == whole.text
    assert more.session.prompt_chars == 4


def test_continue_without_a_text_and_beyond_the_limit_is_refused(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    with pytest.raises(InputError, match="nothing to continue"):
        drain(handlers.continue_text(None, 30, 0.8, 0, 1.0, 0, False))
    session = drain(handlers.generate_text("gru", "The ", 10, 0.8, 0, 1.0, 0, False,
                                           False))[-1].session
    session.continuation.text += "x" * validation.MAX_TEXT_CHARS  # pretend it grew long
    with pytest.raises(InputError, match="keeps up to"):
        drain(handlers.continue_text(session, 30, 0.8, 0, 1.0, 0, False))


def test_stop_ends_the_stream_with_figures_of_the_text_so_far(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    stream = handlers.generate_text("hybrid", "The ", 2000, 0.8, 0, 1.0, 0, False, False)
    first = next(stream)
    handlers.request_stop(first.session)  # what the Stop button does, with the session it holds
    final = list(stream)[-1]
    assert len(final.text) < 4 + 2000
    assert final.status.startswith(f"Stopped at {len(final.text):,} characters")
    assert final.session.analysis.text == final.text and final.attention.data
    handlers.request_stop(None)  # before any generation: nothing to stop, no error


def test_a_stop_after_the_last_character_is_not_reported_as_a_stop(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    stream = handlers.generate_text("gru", "The ", 1, 0.8, 0, 1.0, 0, False, False)
    first = next(stream)  # the one character, streamed
    handlers.request_stop(first.session)  # too late: nothing is left to stop
    final = list(stream)[-1]
    assert len(final.text) == 4 + 1 and "Stopped" not in final.status


@pytest.mark.parametrize("stop", [False, True], ids=["to its end", "stopped"])
def test_the_figures_numbers_come_from_the_generation_itself(zoo, numbers, monkeypatch, stop):
    """A text is analysed from its own steps and its prompt's kept reading (nothing is read
    again), equal to reading it all: generated to its end, or stopped (the characters made
    after the last one read are drained from the engine, and belong to the text)."""
    from cnngru import diagnostics
    from cnngru.batched_analysis import Analyser

    read_again = []
    monkeypatch.setattr(Analyser, "analyse", lambda self, text: read_again.append(text)
                        or diagnostics.analyse(self.bundle, text))
    handlers = GenerateHandlers(zoo, numbers)
    stream = handlers.generate_text("hybrid", "The ", 300, 0.8, 0, 1.0, 5, False, False)
    first = next(stream)
    if stop:
        handlers.request_stop(first.session)
    final = list(stream)[-1]
    whole = diagnostics.analyse(zoo.get("hybrid"), final.text)
    np.testing.assert_allclose(final.session.analysis.probability, whole.probability, rtol=1e-4)
    np.testing.assert_allclose(final.session.analysis.attention, whole.attention, atol=1e-5)
    assert read_again == []


def test_the_position_slider_redraws_from_the_session(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    session = drain(handlers.generate_text("hybrid", "The ", 200, 0.8, 0, 1.0, 0, False,
                                           False))[-1].session
    early = handlers.redraw_attention(session, 0)
    assert isinstance(early, RedrawOutputs)
    assert list(early.attention.data[0].y)[0] == 1 and early.characters.layout.shapes
    assert handlers.redraw_attention(None, 50) == (gr.skip(), gr.skip())


def test_refine_option_needs_the_refiner_and_shows_its_edits(zoo, numbers):
    with pytest.raises(InputError, match="not available"):
        drain(GenerateHandlers(zoo, numbers).generate_text("gru", "The ", 5, 0.8, 0, 1.0, 0,
                                                           False, True))
    with_refiner = Models(zoo.bundles, zoo.words, refiner=q_to_k_refiner)
    final = drain(GenerateHandlers(with_refiner, numbers).generate_text(
        "gru", "The ", 80, 2.0, 0, 1.0, 5, False, True))[-1]
    generated = final.text[4:]
    assert "Before" in final.diff and ("q" not in generated or "<del" in final.diff)
