"""The Generate tab's coloured text: what streams, what the finished text shows, what the
download holds, and the colouring each page chose (on tiny checkpoints)."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from tiny_zoo import drain, tiny_zoo

from cnngru.app import common
from cnngru.app.generate import GenerateHandlers
from cnngru.app.text_views import COLOURINGS, UNIT, unit_outputs


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


@pytest.fixture
def handlers(zoo, tmp_path):
    return GenerateHandlers(zoo, common.NumbersFiles(tmp_path / "numbers"))


def page(name: str):
    """A stand-in for the gr.Request of one page (its Gradio session)."""
    return SimpleNamespace(session_hash=name, username=None)


def classes(html: str) -> list[str]:
    return re.findall(r"<i class=(\w+)>", html)


def test_the_text_streams_coloured_by_confidence_and_ends_in_the_full_view(handlers):
    updates = drain(handlers.generate_text("hybrid", "The ", 300, 0.8, 0, 1.0, 3, False, False))
    streamed = [u.coloured for u in updates[:-1]]
    assert all(classes(h)[:4] == ["n"] * 4 for h in streamed)  # the prompt is not coloured
    assert all(len(classes(h)) == len(u.text) for h, u in zip(streamed, updates, strict=False))
    final = updates[-1]
    assert len(classes(final.coloured)) == len(final.text) == 4 + 300
    assert 'data-key="' in final.coloured and 'data-key=""' not in final.coloured  # attention
    data = json.loads(Path(handlers.numbers_file(final.session)).read_text())
    shown = data["coloured_view"]
    assert shown["quantity"] == "confidence"
    assert shown["values"][1:] == pytest.approx(data["probability"][1:], abs=1e-4)


def test_a_page_that_chose_a_unit_streams_that_units_output(handlers, monkeypatch):
    monkeypatch.setattr(common.Throttle, "ready", lambda self: True)  # one per character
    COLOURINGS.choose("page-a", UNIT, 5)
    updates = drain(handlers.generate_text("gru", "The ", 200, 0.8, 0, 1.0, 4, False, False,
                                           visitor=page("page-a")))
    assert len(updates) == 201 and all("as the text streams" in u.coloured for u in updates[:-1])
    final = updates[-1]
    assert final.session.shown["quantity"] == "GRU unit 5"
    # streamed piece by piece (the state carried) = one pass over the whole text
    bundle = handlers.models.get("gru")
    whole = unit_outputs(bundle, final.text, 5)
    assert np.allclose(final.session.unit_stream.values, whole, atol=1e-5)
    assert final.session.shown["values"] == pytest.approx(whole, abs=1e-4)
    # another page keeps the default
    other = drain(handlers.generate_text("gru", "The ", 20, 0.8, 0, 1.0, 4, False, False,
                                         visitor=page("page-b")))[-1]
    assert other.session.shown["quantity"] == "confidence"


def test_redraw_remembers_the_choice_and_refuses_what_the_model_lacks(handlers):
    session = drain(handlers.generate_text("gru", "The ", 30, 0.8, 0, 1.0, 0, False,
                                           False))[-1].session
    html = handlers.redraw_coloured(session, "surprisal", 0, page("page-c"))
    assert "surprisal, bits" in html
    assert COLOURINGS.of("page-c") == ("surprisal", 0)
    with pytest.raises(Exception, match="has no CNN weight"):
        handlers.redraw_coloured(session, "CNN weight", 0, page("page-c"))
    assert handlers.redraw_coloured(None, "surprisal", 0) == gr.skip()


def test_an_impossible_chosen_unit_falls_back_to_confidence(handlers):
    COLOURINGS.choose("page-d", UNIT, 10_000)
    final = drain(handlers.generate_text("gru", "The ", 30, 0.8, 0, 1.0, 0, False, False,
                                         visitor=page("page-d")))[-1]
    assert final.session.shown["quantity"] == "confidence"
