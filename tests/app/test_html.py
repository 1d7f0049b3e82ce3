"""The HTML builders: text coloured by surprisal, and the refiner's before/after diff."""

import pytest
from tiny_zoo import tiny_zoo

from cnngru.app import html
from cnngru.diagnostics import analyse


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


def test_rank_html_escapes_text_and_colours_by_rank(zoo):
    a = analyse(zoo.get("gru"), "The lord's 'word'.")
    out = html.rank_html(a)
    assert out.count('class="ch ') == len(a.text) - 1
    assert "&#x27;" in out and "'word'" not in out  # quotes escaped inside the text
    ranks = a.rank[1:]
    assert out.count("cnngru-b0") == int((ranks == 1).sum())  # first choices: the lightest band
    assert out.count("cnngru-b3") == int((ranks > 10).sum())
    assert ".cnngru-b0{background:#fde725" in html.legend_html()  # viridis, light to dark


def test_diff_html_marks_only_the_changed_characters():
    out = html.diff_html("the qing <spoke>", "the king <spoke>", {4: 0.97})
    assert '<del style="background:#D55E00;color:#fff" title="confidence 0.97">q</del>' in out
    assert ">k</ins>" in out and "&lt;spoke&gt;" in out and "1 change" in out
    assert "changed nothing" in html.diff_html("same", "same")
