"""The Compare tab's handler: every column from the first update, Stop, common random numbers."""

import gradio as gr
import pytest
from tiny_zoo import drain, tiny_zoo

from cnngru.app.compare import CompareHandlers, CompareOutputs, column_stats
from cnngru.app.loaded_models import Models


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


def test_compare_fills_every_column_from_the_first_update(zoo):
    handlers = CompareHandlers(zoo)
    n = len(handlers.names)
    updates = drain(handlers.compare_texts("The ", 200, 0.8, 0, 1.0, 4, False, False))
    assert all(len(t) >= 1 for t in updates[0][:n])
    final = updates[-1]
    assert all(len(t) == 200 for t in final[:n])
    assert all("chars/s" in s and "real words" in s for s in final[n:2 * n])
    assert len(final) == 4 * n + 1  # and the run, for the Stop button
    for update in updates[:-1]:  # streamed: the texts alone, then everything at the end
        assert update[n:4 * n] == (gr.skip(),) * 3 * n and update[-1] is updates[0][-1]
    assert all(f is not None for f in final[2 * n:3 * n])


def test_the_columns_are_cleared_before_a_comparison_joins_the_queue(zoo):
    handlers = CompareHandlers(zoo)
    n = len(handlers.names)
    cleared = handlers.clear_columns()
    assert cleared == ("",) * 2 * n + (None,) * n + ("",) * n + (gr.skip(),)


def test_compare_outputs_flatten_column_by_field_then_the_run():
    outputs = CompareOutputs(texts=["t1", "t2"], stats=["s1", "s2"], figures=["f1", "f2"],
                             diffs=["d1", "d2"], run="run")
    assert outputs.flat() == ("t1", "t2", "s1", "s2", "f1", "f2", "d1", "d2", "run")


def test_compare_stops_when_asked(zoo):
    handlers = CompareHandlers(zoo)
    stream = handlers.compare_texts("The ", 1000, 0.8, 0, 1.0, 4, False, False)
    first = next(stream)
    handlers.request_stop(first[-1])
    final = list(stream)[-1]
    assert 0 < len(final[0]) < 1000 and len({len(t) for t in final[:4]}) == 1


def test_compare_uses_common_random_numbers(zoo):
    same = Models({"gru": zoo.get("gru"), "hybrid": zoo.get("gru")}, zoo.words)  # one model twice
    texts = drain(CompareHandlers(same).compare_texts("The ", 100, 1.0, 0, 1.0, 9, False,
                                                      False))[-1][:2]
    assert texts[0] == texts[1]
    other = drain(CompareHandlers(same).compare_texts("The ", 100, 1.0, 0, 1.0, 10, False,
                                                      False))[-1][:2]
    assert other[0] != texts[0]


def test_column_stats_name_speed_confidence_and_real_words():
    assert column_stats(4000.4, -2.5, 0.25) == ("4,000 chars/s · mean log₂ p -2.50 bits/char · "
                                                  "real words 25%")
    assert column_stats(0.0, 1.0, None).endswith("real words —")
