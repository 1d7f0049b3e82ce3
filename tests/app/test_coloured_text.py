"""The coloured per-character text view, on hand-made numbers."""

import json
import re
from html import unescape

import numpy as np
import pytest

from cnngru.app import coloured_text as ct


def data_of(html: str) -> dict:
    return json.loads(unescape(re.search(r'data-h="([^"]*)"', html).group(1)))


def classes_of(html: str) -> list[str]:
    return re.findall(r"<i class=(\w+)>", html)


def test_each_character_gets_the_class_of_its_bin_and_nan_stays_uncoloured():
    scale = ct.SCALES["confidence"]  # edges 0.05 0.1 0.2 0.35 0.5 0.7 0.9
    html = ct.coloured_html("abcd", np.array([np.nan, 0.01, 0.6, 0.95]), scale)
    assert classes_of(html) == ["n", "s0", "s5", "s7"]
    assert re.findall(r"<i class=\w+>(.)</i>", html) == list("abcd")


def test_text_is_escaped_and_lengths_must_match():
    html = ct.coloured_html('<b>&"', np.zeros(5), ct.SCALES["unit"])
    assert re.findall(r"<i class=\w+>([^<]*)</i>", html) == ["&lt;", "b", "&gt;", "&amp;", "&quot;"]
    with pytest.raises(ValueError, match="3 values for 2 characters"):
        ct.coloured_html("ab", np.zeros(3), ct.SCALES["unit"])


def test_diverging_scale_is_symmetric_around_zero():
    scale = ct.SCALES["unit"]
    assert classes_of(ct.coloured_html("abc", np.array([-1.0, 0.0, 1.0]), scale)) == \
        ["d0", "d4", "d8"]


def test_hover_columns_hold_value_probability_and_top_three():
    hover = ct.hover_columns(np.array([np.nan, 0.25]), 2, probability=[np.nan, 0.25],
                             top_chars=["", "xyzw"],
                             top_probs=[[np.nan] * 4, [0.5, 0.25, 0.125, 0.1]])
    assert hover["v"] == [None, 0.25] and hover["p"] == [None, 250]
    assert hover["a"] == "   xyz" and hover["ap"][3:] == [500, 250, 125]
    html = ct.coloured_html("ab", np.array([np.nan, 0.25]), ct.SCALES["confidence"], hover)
    assert data_of(html)["ap"][3:] == [500, 250, 125]


def test_legend_names_every_bin_in_the_quantitys_own_units():
    surprisal = ct.legend(ct.SCALES["surprisal"])
    assert "≥ 8" in surprisal and "&lt; 0.3" in surprisal  # bits, though coloured as −bits
    assert surprisal.count('<span class="s') == 8
    assert ct.legend(ct.SCALES["difference"]).count('<span class="d') == 9


def test_palettes_are_the_colour_blind_safe_ones_and_css_has_every_class():
    css = ct.css()
    for k, colour in enumerate(ct.VIRIDIS):
        assert f".ct-text .s{k}{{background:{colour}" in css
    for k, colour in enumerate(ct.PUOR):
        assert f".ct-text .d{k}{{background:{colour}" in css


def test_a_2000_character_view_stays_under_100_kb():
    rng = np.random.default_rng(0)
    n = 2000
    text = "".join(rng.choice(list("abcdefgh \n,.ABC"), n))
    p = rng.random(n)
    tops = ["".join(rng.choice(list("abcdefgh"), 5)) for _ in range(n)]
    hover = ct.hover_columns(p, 2, p, tops, rng.random((n, 5)))
    html = ct.coloured_html(text, p, ct.SCALES["confidence"], hover, key="k" * 32)
    assert len(json.dumps(html).encode()) < 100_000
