"""The Inside tab's handlers on the shipped checkpoints and their stored tables."""

import pytest

import cnngru.corpus
import cnngru.inside.build
from cnngru.app.inside import InsideHandlers
from cnngru.app.loaded_models import load_models
from cnngru.app.text_views import unit_outputs
from cnngru.app.validation import InputError
from cnngru.inside import FILE
from cnngru.models import VARIANTS
from cnngru.paths import SHIPPED

pytestmark = pytest.mark.skipif(not all((SHIPPED / v / FILE).is_file() for v in VARIANTS),
                                reason="the shipped Inside tables are not built")


@pytest.fixture(scope="module")
def handlers():
    with pytest.MonkeyPatch.context() as mp:  # the tab reads tables: it never scans the corpus
        mp.setattr(cnngru.corpus, "load_corpus", lambda *a, **k: pytest.fail("corpus read"))
        mp.setattr(cnngru.corpus, "load_shakespeare", lambda *a, **k: pytest.fail("corpus read"))
        mp.setattr(cnngru.inside.build, "load_corpus", lambda *a, **k: pytest.fail("corpus read"))
        h = InsideHandlers(load_models())
        for name in VARIANTS:
            h.filters(name), h.units(name, "position in line")
    return h


def test_every_shipped_model_has_its_table(handlers):
    assert set(VARIANTS) <= set(handlers.names) and not handlers.problems


def test_filter_table_has_a_row_per_filter_and_says_what_is_left_out(handlers):
    hybrid = handlers.filters("hybrid")
    assert len(hybrid.table) == len(handlers.tables["hybrid"].filters) > 0
    assert "got a label" in hybrid.summary
    assert all(row[3] == "no label" or "%" in row[3] for row in hybrid.table)
    assert "no fixed window" in handlers.filters("cnn-post").summary
    assert handlers.filters("gru").table == []


def test_search_finds_a_filter_on_its_own_best_ngram(handlers):
    table = handlers.tables["cnn-pre"]
    f = next(f for f in table.filters if f["top"][0][2] > f["p99"] and f["window"] >= 3)
    gram = f["top"][0][0]
    hits = handlers.search("cnn-pre", gram)
    hit = next(h for h in hits if h[0] == f["id"])
    # its one window is the n-gram, at the activation the table's builder recorded for it
    assert hit[3] == gram and hit[4] == pytest.approx(f["top"][0][2], abs=2e-3)
    assert all(h[4] >= h[5] for h in hits)  # each hit is above its filter's p99


def test_a_hit_against_a_p99_at_or_below_zero_has_no_ratio_and_comes_last(handlers):
    """Depthwise channels have no ReLU: a p99 at or below zero makes "× p99" meaningless."""
    import copy

    from cnngru.inside import firing
    table = copy.deepcopy(handlers.tables["cnn-pre"])
    gram = "the king"
    hits = firing(handlers.models.get("cnn-pre"), table, gram)
    negative = next(f for f in table.filters if f["id"] not in {h["id"] for h in hits})
    negative["p99"] = -1e6  # fires on anything
    again = firing(handlers.models.get("cnn-pre"), table, gram)
    last = again[-1]
    assert last["id"] == negative["id"] and last["ratio"] is None
    assert [h["ratio"] for h in again[:-1]] == sorted((h["ratio"] for h in hits), reverse=True)


def test_switching_model_searches_its_own_filters_or_clears_the_hits(handlers):
    gram = next(f for f in handlers.tables["cnn-pre"].filters if f["window"] >= 3)["top"][0][0]
    assert handlers.search_on_switch("cnn-pre", gram) == handlers.search("cnn-pre", gram)
    hybrid = handlers.search_on_switch("hybrid", gram)
    assert hybrid == handlers.search("hybrid", gram) != handlers.search("cnn-pre", gram)
    assert handlers.search_on_switch("gru", gram) == []  # no filters: no hits, no error
    assert handlers.search_on_switch("cnn-pre", "  ") == []


def test_unit_numbers_and_view(handlers):
    top = handlers.unit_list("hybrid", "position in line")
    assert len(top) == 10 and abs(top[0][1]) >= abs(top[-1][1])
    unit = top[0][0]
    numbers = handlers.unit_values("hybrid", unit, "ROMEO\nBut soft!\n")
    assert len(numbers["values"]) == len("ROMEO\nBut soft!\n")
    bundle = handlers.models.get("hybrid")  # the chosen unit's own column, not another's
    expected = unit_outputs(bundle, "ROMEO\nBut soft!\n", unit)
    assert numbers["values"] == [round(float(v), 3) for v in expected]
    assert numbers["values"] != [round(float(v), 3) for v in unit_outputs(
        bundle, "ROMEO\nBut soft!\n", (unit + 1) % handlers.tables["hybrid"].data["units"]["count"])]
    assert handlers.unit_values("hybrid", f"{unit}.0")["unit"] == unit
    assert f"unit {unit}," in handlers.unit_view("hybrid", f"{unit}.0")
    html = handlers.unit_view("hybrid", unit)
    assert html.count("<i class=d") == len(handlers.tables["hybrid"].excerpt)


@pytest.mark.parametrize("call,message", [
    (lambda h: h.filters("nope"), "Unknown model"),
    (lambda h: h.search("gru", "the"), "no character filters"),
    (lambda h: h.search("hybrid", ""), "n-gram"),
    (lambda h: h.search("hybrid", "a"), "narrower than 2 characters"),
    (lambda h: h.search("hybrid", "the ki\u00f1g"), "never saw in training: '\u00f1'"),
    (lambda h: h.units("hybrid", "colour"), "Unknown property"),
    (lambda h: h.unit_values("hybrid", 10_000), "whole number from 0 to"),
    (lambda h: h.unit_values("hybrid", "x"), "whole number"),
])
def test_bad_input_gets_a_clear_message(handlers, call, message):
    with pytest.raises(InputError, match=message):
        call(handlers)


def test_switching_model_keeps_the_property_it_has_and_lists_its_own(handlers, monkeypatch):
    update, *units = handlers.units_on_switch("cnn-pre", "inside brackets")
    assert update["value"] == "inside brackets" and units[1] == handlers.unit_list("cnn-pre", "inside brackets")
    table = handlers.tables["gru"]
    fewer = {"word start": table.unit_properties["word start"]}
    monkeypatch.setitem(table.data["units"], "properties", fewer)  # a table with other properties
    update, *units = handlers.units_on_switch("gru", "inside brackets")
    assert update["choices"] == ["word start"] and update["value"] == "word start"
    assert units[1] == fewer["word start"]["top"]
