"""The attention rows a click on a coloured character fetches, on hand-made weights."""

import numpy as np

from cnngru.app import attention_rows as rows_module


def test_attention_rows_map_window_columns_to_earlier_positions():
    rows = rows_module.AttentionRows(size=2)
    attention = np.zeros((6, 3))
    attention[5] = [0.2, 0.0, 0.8]  # character 5: window text[2..4], oldest first
    attention[1] = [0.5, 0.25, 0.25]  # character 1: text[-2..0]; only text[0] exists
    key = rows.put(attention, 3, ["cnn"])
    assert rows.row(key, 5)["sources"] == [{"name": "cnn", "positions": [2, 4],
                                            "weights": [0.2, 0.8]}]
    assert rows.row(key, 1)["sources"][0]["positions"] == [0]
    assert "no prediction" in rows.row(key, 0)["error"].lower()
    rows.put(attention, 3, ["cnn"]), rows.put(attention, 3, ["cnn"])  # the oldest is dropped
    assert "no longer held" in rows.row(key, 5)["error"]
    assert "expected" in rows_module.attention_row("not a pair")["error"]


def test_attention_is_held_only_for_the_model_that_made_it(vocab):
    from dataclasses import replace

    from conftest import make_small

    from cnngru import Bundle
    from cnngru.diagnostics import analyse

    hybrid = Bundle(make_small("hybrid", len(vocab)), vocab)
    a = analyse(hybrid, "ROMEO\nBut soft!\n", influence=False)
    key = rows_module.hold_attention(a, hybrid)
    assert rows_module.ATTENTION.row(key, 5)["sources"][0]["name"] == "cnn"
    gru = Bundle(make_small("gru", len(vocab)), vocab)
    assert rows_module.hold_attention(a, gru) is None  # no attention in that model
    narrower = replace(a, attention=a.attention[:, :4])  # another design's window
    assert rows_module.hold_attention(narrower, hybrid) is None
