"""What the coloured views show, on hand-made analyses."""

import json
import re
from html import unescape

import numpy as np
import pytest

from cnngru.app import text_views as tv
from cnngru.diagnostics import Analysis


def data_of(html: str) -> dict:
    return json.loads(unescape(re.search(r'data-h="([^"]*)"', html).group(1)))


def classes_of(html: str) -> list[str]:
    return re.findall(r"<i class=(\w+)>", html)


def analysis(model: str, text: str, probability: list[float]):
    n = len(text)
    p = np.array([np.nan, *probability])
    top = np.tile([0.5, 0.3, 0.1, 0.05, 0.05], (n, 1))
    return Analysis(model=model, variant="gru", text=text, probability=p, entropy=np.ones(n),
                    rank=np.ones(n, dtype=int), top_chars=[""] + ["abcde"] * (n - 1),
                    top_probs=top, influence=None, attention=None, reliance=None)


def test_difference_view_colours_a_minus_b_in_bits():
    a = analysis("A", "xyz", [0.25, 0.5])  # 2 bits, 1 bit
    b = analysis("B", "xyz", [0.5, 0.0625])  # 1 bit, 4 bits
    html = tv.difference_html(a, b)
    assert classes_of(html) == ["n", "d6", "d1"]  # +1 bit: [1, 2); -3 bits: [-3.5, -2)
    hover = data_of(html)
    assert hover["v"] == [None, 1.0, -3.0] and hover["pb"] == [None, 0.5, 0.062]
    with pytest.raises(ValueError, match="different texts"):
        tv.difference_html(a, analysis("B", "xyw", [0.5, 0.5]))


def test_a_quantity_the_model_lacks_is_refused_by_name():
    a = analysis("A", "xyz", [0.25, 0.5])
    assert tv.available(a) == ["confidence", "surprisal"]
    with pytest.raises(ValueError, match="A has no CNN weight"):
        tv.analysis_html(a, "CNN weight")


def test_a_streaming_view_of_2000_characters_stays_under_50_kb():
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcdefgh \n,.ABC"), 2000))
    html = tv.streaming_html(text, 10, list(rng.random(1990)))
    assert classes_of(html)[:10] == ["n"] * 10  # the prompt is not coloured
    assert len(html.encode()) < 50_000
