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


def split_hybrid(vocab):
    import torch

    from cnngru import Bundle
    from cnngru.models import build_model

    torch.manual_seed(0)
    model = build_model("hybrid", len(vocab), params=120_000, sources=("cnn", "memory"),
                        window=8, gate="split").eval()
    return Bundle(model, vocab)


def test_a_split_hybrid_offers_each_weight_of_its_gate(vocab):
    from cnngru.diagnostics import analyse

    bundle = split_hybrid(vocab)
    a = analyse(bundle, "ROMEO\nBut soft, what light\n")
    assert a.split_columns == ("gru", "cnn", "memory")
    assert tv.available(a) == ["confidence", "surprisal", "CNN influence", "CNN weight",
                               "GRU-state weight", "memory weight"]
    html, shown = tv.text_view(bundle, a, "memory weight")
    assert shown["values"][1:] == pytest.approx(a.split[1:, 2], abs=1e-4)
    weights = sum(np.asarray(tv.quantity_values(a, q)[1:]) for q in
                  ("GRU-state weight", "CNN weight", "memory weight"))
    assert weights == pytest.approx(1.0)  # the gate's weights sum to one at every character
    assert tv.offered([bundle]) == tv.available(a)


def test_models_offer_only_what_they_have(vocab):
    from conftest import make_small

    from cnngru import Bundle

    gru = Bundle(make_small("gru", len(vocab)), vocab)
    hybrid = Bundle(make_small("hybrid", len(vocab)), vocab)
    assert tv.offered([gru]) == ["confidence", "surprisal"]
    assert tv.offered([gru, hybrid]) == ["confidence", "surprisal", "CNN influence", "CNN weight"]
    with pytest.raises(tv.InputError, match="has no memory weight"):
        from cnngru.diagnostics import analyse

        tv.text_view(hybrid, analyse(hybrid, "ROMEO\n"), "memory weight")
