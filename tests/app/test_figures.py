"""The figures: the attention window, per-character panels, differences and training curves."""

import json

import gradio as gr
import numpy as np
import pytest
from tiny_zoo import tiny_zoo

from cnngru.app import figures
from cnngru.diagnostics import analyse


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


def test_attention_view_is_a_fixed_window_that_reaches_both_ends():
    assert figures.attention_view(2001, 100) == (1953, 2001)
    assert figures.attention_view(2001, 0) == (1, 49)
    assert figures.attention_view(10, 50) == (1, 10)  # short texts: everything


def test_attention_figure_puts_each_weight_under_its_characters(zoo):
    a = analyse(zoo.get("hybrid"), "The king\nspeaks to the lords of the realm at last.")
    start, end = figures.attention_view(len(a.text), 100)
    heat = figures.attention_figure(a, start, end).data[0]
    z, keys = np.array(heat.z, dtype=float), list(heat.x)
    assert z.shape == (end - start, len(keys))
    i, j = end - 1, a.window - 1  # the last prediction's weight on the character just before it
    assert z[-1, keys.index(i - a.window + j)] == pytest.approx(a.attention[i, j], abs=5e-4)
    assert np.nansum(z, axis=1) == pytest.approx(np.ones(end - start), abs=a.window * 5e-4)
    assert heat.colorscale[0][1].lower() == "#440154"  # viridis
    ticks = figures.attention_figure(a, 1, 6).layout.xaxis.ticktext  # keys "The k"
    assert "⏎" not in ticks and "␣" in ticks
    assert "⏎" in figures.attention_figure(a, 5, 15).layout.xaxis.ticktext


def test_a_hybrid_with_a_memory_shows_its_cnn_keys_and_its_gru_memory_keys_apart():
    """The issue's new hybrid attends over two windows: a panel each, every weight under its
    own character, the CNN's and the memory's weights never mixed."""
    import torch

    from cnngru import Bundle, Vocab
    from cnngru.models import build_model

    torch.manual_seed(0)
    vocab = Vocab("\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    model = build_model("hybrid", len(vocab), hidden=24, sources=("cnn", "memory"), window=8,
                        gate="split").eval()
    a = analyse(Bundle(model, vocab), "ROMEO.\nBut soft, what light through yonder window")
    assert a.attention_sources == ("cnn", "memory") and a.window == 8
    start, end = figures.attention_view(len(a.text), 100)
    fig = figures.attention_figure(a, start, end)
    assert [d.xaxis for d in fig.data] == ["x", "x2"] and "past GRU states" in fig.layout.title.text
    assert "memory" in fig.layout.xaxis2.title.text and "CNN" in fig.layout.xaxis.title.text
    i = end - 1
    for heat, source in zip(fig.data, ("cnn", "memory"), strict=True):
        z, keys = np.array(heat.z, dtype=float), list(heat.x)
        assert z[-1, keys.index(i - 1)] == pytest.approx(a.attention_of(source)[i, -1], abs=5e-4)
        assert np.nansum(z, axis=1) == pytest.approx(np.ones(end - start), abs=8 * 5e-4)
    assert fig.data[0].zmax == fig.data[1].zmax  # one colour scale, shown once, for both
    numbers = a.to_dict()
    assert numbers["attention_sources"] == ["cnn", "memory"] and len(numbers["attention"][1]) == 16


def test_models_without_attention_get_a_note_not_a_heatmap(zoo):
    fig = figures.attention_figure(analyse(zoo.get("gru"), "My lord."), 1, 8)
    assert not fig.data and "no attention" in fig.layout.annotations[0].text


@pytest.mark.parametrize("variant, panels", [("gru", 1), ("cnn-pre", 2), ("hybrid", 3)])
def test_character_figure_shows_confidence_plus_what_the_model_has(zoo, variant, panels):
    a = analyse(zoo.get(variant), "The king speaks.")
    fig = figures.character_figure(a, prompt_chars=4)
    assert len(fig.data) == panels
    np.testing.assert_allclose(fig.data[0].y, a.probability[1:], rtol=5e-4)
    assert "'k'" in fig.data[0].text[3]  # hover names the character
    assert len(fig.layout.shapes) == panels  # the prompt shaded in every panel...
    assert [a.text for a in fig.layout.annotations] == ["prompt"]  # ...and named once


def test_difference_figure_is_a_minus_b(zoo):
    text = "Speak, my lord."
    a, b = analyse(zoo.get("hybrid"), text), analyse(zoo.get("gru"), text)
    np.testing.assert_allclose(figures.difference_figure(a, b).data[0].y,
                               a.surprisal[1:] - b.surprisal[1:], atol=5e-4)
    with pytest.raises(ValueError):
        figures.difference_figure(a, analyse(zoo.get("gru"), "Other text."))


def test_curves_figure_has_one_line_per_model():
    fig = figures.curves_figure({"gru": [[0, 4.0], [100, 2.0]], "hybrid": [[0, 4.1], [100, 1.9]]})
    assert [t.name for t in fig.data] == ["gru", "hybrid"]
    assert list(fig.data[1].y) == [4.1, 1.9]


def test_curves_show_where_they_finish_not_the_first_fall():
    """Rows that finish hundredths of a bit apart stay apart: the y range leaves out the first
    tenth of training, and a diverged run's NaN does not blank the figure."""
    steps = np.arange(1, 101) * 1000.0
    gru = np.column_stack([steps, 2.2 + 2.0 / steps * 1000])  # 4.2 at first, 2.22 at the end
    post = np.column_stack([steps, 2.18 + 2.0 / steps * 1000])
    broken = [[1000, 4.5], [50_000, 2.3], [100_000, float("nan")]]
    fig = figures.curves_figure({"gru": gru.tolist(), "cnn-post": post.tolist(), "hybrid": broken})
    low, high = fig.layout.yaxis.range
    assert low < post[-1, 1] < gru[-1, 1] < high < 2.5
    assert high >= gru[steps >= 10_000, 1].max()
    assert "double-click" in fig.layout.xaxis.title.text
    assert figures.finish_range([[[0, float("nan")]]]) is None
    # a run stopped early (its whole curve inside the first tenth) does not undo the zoom
    stopped = [[1000, 4.4], [5000, 3.0]]
    fig = figures.curves_figure({"gru": gru.tolist(), "stopped": stopped})
    assert fig.layout.yaxis.range[1] < 2.5
    # with nothing above the range, there is no start to point at
    flat = figures.curves_figure({"gru": [[1000, 2.3], [2000, 2.2]]})
    assert "double-click" not in flat.layout.xaxis.title.text


def test_rounded_keeps_the_digits_asked_for_and_turns_gaps_into_none():
    assert figures.rounded([0.123456, 1.5e-7, np.nan], significant=4) == [0.1235, 1.5e-07, None]
    assert figures.rounded([[0.12345, np.inf], [2.0, 0.0004]], decimals=3) == [[0.123, None],
                                                                             [2.0, 0.0]]


def test_figures_are_light_rounded_numbers_and_hover_text_only_once(zoo):
    """Figures travel as JSON: their numbers are rounded, only the confidence panel carries
    per-character text, and the whole stays small for a 200-character text."""
    text = ("The king speaks to the lords of the realm at last, and they answer him. " * 3)[:200]
    a = analyse(zoo.get("hybrid"), text)
    chars = figures.character_figure(a, prompt_chars=4)
    assert len(chars.data[0].text) == len(text) - 1
    assert all(trace.text is None and trace.customdata is None for trace in chars.data[1:])
    assert all(len(f"{v:.10g}".lstrip("0.").replace("e-", "")) <= 6
               for trace in chars.data for v in trace.y if v)  # a few digits, not 17
    heat = figures.attention_figure(a, *figures.attention_view(len(text), 100)).data[0]
    assert heat.text is None
    assert all(v is None or round(v, 3) == v for row in heat.z for v in row)
    for fig in (chars, figures.attention_figure(a, 1, 49)):
        assert len(fig.to_json()) < 30_000, "a figure of 200 characters should be a few KB"


def test_every_figure_is_valid_plotly(zoo):
    """The figures skip plotly's validation when built; here it checks every property."""
    import plotly.graph_objects as go

    text = "The king\nspeaks to the lords."
    hybrid, gru = analyse(zoo.get("hybrid"), text), analyse(zoo.get("gru"), text)
    built = [figures.attention_figure(hybrid, 1, 10), figures.attention_figure(gru, 1, 10),
             figures.character_figure(hybrid, prompt_chars=4, view=(2, 8)),
             figures.character_figure(gru, compact=True), figures.difference_figure(hybrid, gru),
             figures.curves_figure({"gru": [[1000, 3.0], [2000, 2.5]]}), figures.note_figure("x")]
    for fig in built:
        go.Figure(dict(fig))  # raises ValueError on any unknown or ill-typed property
        assert json.loads(fig.to_json()) == json.loads(json.dumps(dict(fig)))  # as built
        sent = gr.Plot().postprocess(fig)  # what the page gets: that JSON, as a plotly figure
        assert sent.type == "plotly" and sent.plot == fig.to_json()


def test_the_difference_chart_and_the_difference_on_the_text_share_their_colours(zoo):
    """Score shows A − B as bars and on the text: the colour of "A did better" must be the same."""
    from cnngru.app.coloured_text import SCALES

    text = "Speak, my lord, and tell me true."
    a, b = analyse(zoo.get("hybrid"), text), analyse(zoo.get("gru"), text)
    bars = figures.difference_figure(a, b).data[0].marker
    scale = SCALES["difference"]
    colour_of = dict(zip((f"d{k}" for k in range(len(scale.palette))), scale.palette, strict=True))
    a_better, b_better = (colour_of[c] for c in scale.classes(np.array([-10.0, 10.0])))
    assert bars.colorscale[1][1] == a_better and bars.colorscale[0][1] == b_better  # 1: diff < 0
    assert [bool(x) for x in bars.color] == list(a.surprisal[1:] < b.surprisal[1:])
