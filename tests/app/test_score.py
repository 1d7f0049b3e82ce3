"""The Score tab's handler: every model reads the text; the difference between two of them."""

import gradio as gr
import pytest
from tiny_zoo import tiny_zoo

from cnngru.app.score import ScoreHandlers, ScoreOutputs
from cnngru.app.validation import InputError


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


def test_score_reads_the_text_with_every_model(zoo):
    scored = ScoreHandlers(zoo).score_text("Speak, my lord.", "hybrid", "gru", False)
    assert isinstance(scored, ScoreOutputs)
    assert [row[0] for row in scored.table] == zoo.names
    assert scored.table[0][1] == pytest.approx(scored.analyses["gru"].bits_per_char(), abs=1e-4)
    assert all(f'data-model="{n}"' in scored.coloured for n in zoo.names)
    assert "hybrid − gru" in scored.difference.layout.yaxis.title.text
    with pytest.raises(InputError, match="at least 2 characters"):
        ScoreHandlers(zoo).score_text("a", "hybrid", "gru", False)
    with pytest.raises(InputError, match="Unknown strategy 'nope'"):
        ScoreHandlers(zoo).score_text("Speak.", "nope", "gru", False)


def test_the_difference_is_redrawn_only_for_models_already_scored(zoo):
    handlers = ScoreHandlers(zoo)
    analyses = handlers.score_text("Speak, my lord.", "hybrid", "gru", False).analyses
    redrawn = handlers.redraw_difference(analyses, "gru", "cnn-pre")
    assert "gru − cnn-pre" in redrawn.layout.yaxis.title.text
    assert handlers.redraw_difference({}, "gru", "hybrid") == gr.skip()
    assert handlers.redraw_difference(analyses, "gru", "nope") == gr.skip()
