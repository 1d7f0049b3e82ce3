"""The Inside tab's endpoints on a served demo of the shipped checkpoints, through
``gradio_client``: each returns its numbers, and bad input gets a clear message."""

from __future__ import annotations

import socket

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from cnngru.app import build_demo
from cnngru.app.loaded_models import load_models
from cnngru.inside import FILE, load_table
from cnngru.models import VARIANTS
from cnngru.paths import SHIPPED

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not all((SHIPPED / v / FILE).is_file() for v in VARIANTS),
    reason="the shipped Inside tables are not built")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client():
    demo = build_demo(load_models())
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                quiet=True, share=False, ssr_mode=False)
    yield Client(demo.local_url, analytics_enabled=False, verbose=False)
    demo.close()


def test_filter_table_comes_as_numbers(client):
    summary, table = client.predict("cnn-pre", api_name="/inside_filters")
    stored = load_table(SHIPPED / "cnn-pre")
    assert f"{stored.data['filters']['labelled']} got a label" in summary
    assert len(table["data"]) == len(stored.filters)
    first = table["data"][0]
    assert first[0] == 0 and first[5] == stored.filters[0]["p99"]


def test_search_units_and_unit_values(client):
    found = client.predict("hybrid", "the king", api_name="/filter_search")
    windows = {"the king"[i:i + k] for k in range(2, 9) for i in range(9 - k)}
    assert found["data"] and all(row[3] in windows and len(row[3]) == row[1]
                                 for row in found["data"])  # a window of what was typed
    assert all(row[4] >= row[5] for row in found["data"])  # above its filter's p99
    units = client.predict("hybrid", "position in line", api_name="/inside_units")
    stored = load_table(SHIPPED / "hybrid").unit_properties["position in line"]["top"]
    assert units == stored
    numbers = client.predict("hybrid", units[0][0], "ab\ncd", api_name="/unit_values")
    assert numbers["text"] == "ab\ncd" and len(numbers["values"]) == 5
    view = client.predict("hybrid", units[0][0], api_name="/unit_view")
    assert view.count("<i class=d") == len(load_table(SHIPPED / "hybrid").excerpt)


def test_unit_values_replace_unknown_characters_only_when_asked(client):
    numbers = client.predict("hybrid", 0, "The жук", True, api_name="/unit_values")
    assert "ж" not in numbers["text"] and len(numbers["values"]) == len("The жук")


@pytest.mark.parametrize("args,api,message", [
    (("transformer-x",), "/inside_filters", "Unknown model"),
    (("gru", "the"), "/filter_search", "no character filters"),
    (("hybrid", "colour"), "/inside_units", "Unknown property"),
    (("hybrid", 99_999, ""), "/unit_values", "whole number from 0 to"),
    (("hybrid", True, ""), "/unit_values", "unit must be a whole number from 0 to .*, not True"),
    (("hybrid", 0, "The жук"), "/unit_values", "never saw in training: 'ж' 'к' 'у'"),
])
def test_bad_input_is_named(client, args, api, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name=api)
