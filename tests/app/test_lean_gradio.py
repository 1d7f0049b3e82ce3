"""``cnngru/app/lean_gradio.py``: a new session builds no block config until one is read, and
every read gives what Gradio's own ``SessionState`` gives; a skipped output is sent as Gradio
sends it, without the rebuild."""

from __future__ import annotations

import asyncio

import gradio as gr
import pytest
from gradio import state_holder
from gradio.blocks import BlocksConfig
from gradio.state_holder import StateHolder
from tiny_zoo import tiny_zoo

from cnngru.app import build_demo
from cnngru.app.lean_gradio import SKIP, LazySessionState

GRADIOS = state_holder.SessionState.__mro__[-2]  # Gradio's SessionState, whatever is installed


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield build_demo(models)


@pytest.fixture
def built(monkeypatch):
    """How many block configs were built since the test began."""
    calls = []
    original = BlocksConfig.config_for_block

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(BlocksConfig, "config_for_block", staticmethod(counting))
    return calls


def test_the_demo_installs_it_for_new_sessions(demo):
    holder = StateHolder()
    holder.set_blocks(demo)
    assert type(holder["a-session"]) is LazySessionState


def test_a_new_session_builds_no_config(demo, built):
    LazySessionState(demo)
    assert built == []
    GRADIOS(demo)
    assert len(built) > 100  # Gradio's own builds one per block: what the lazy one saves


def test_it_sets_what_gradios_sets(demo):
    lazy, eager = LazySessionState(demo), GRADIOS(demo)
    assert vars(lazy).keys() == vars(eager).keys()
    assert list(lazy.config_values) == list(eager.config_values)  # the same blocks, page order
    assert dict(lazy.config_values) == eager.config_values
    assert list(lazy.components) == list(eager.components)


def test_a_read_builds_that_config_only(demo, built):
    lazy, eager = LazySessionState(demo), GRADIOS(demo)
    key = next(iter(eager.config_values))
    built.clear()
    assert lazy.config_values[key] == eager.config_values[key]
    assert built == [key]
    assert lazy.config_values[key] is lazy.config_values[key]  # built once, then kept
    assert built == [key]


def test_updates_change_a_config_as_gradios_do(demo, built):
    lazy, eager = LazySessionState(demo), GRADIOS(demo)
    textbox = next(k for k, b in demo.blocks.items() if type(b).__name__ == "Textbox")
    built.clear()
    lazy._update_value_in_config(textbox, "a first value")
    lazy._update_value_in_config(textbox, "a value set by an event")
    assert built == []  # the value waits for the config to be read
    eager._update_value_in_config(textbox, "a value set by an event")
    assert lazy.config_values[textbox] == eager.config_values[textbox]
    lazy._update_value_in_config(textbox, "once built, set in it")
    assert lazy.config_values[textbox]["props"]["value"] == "once built, set in it"
    for state in (lazy, eager):
        state._update_value_in_config(textbox, "a value set by an event")
    assert lazy.config_values[textbox] == eager.config_values[textbox]
    assert lazy.config_values[textbox]["props"]["value"] == "a value set by an event"
    block = demo.blocks[textbox]
    for state in (lazy, eager):
        state[textbox] = block  # an update replaces the block: its config is rebuilt
    assert dict(lazy.config_values) == eager.config_values
    del lazy.config_values[textbox]
    assert textbox not in lazy.config_values and len(lazy.config_values) == len(eager.config_values) - 1


def generate_event(demo):
    return next(fn for fn in demo.fns.values() if fn.api_name == "generate")


def postprocess(demo, predictions, gradios: bool):
    """The demo's postprocessing of one update (``gradios``: Gradio's own, without the cheap
    skip), and the session it left."""
    fn = generate_event(demo)
    state = LazySessionState(demo)
    run = type(demo).postprocess_data.__get__(demo) if gradios else demo.postprocess_data
    return asyncio.run(run(fn, list(predictions), state)), state


def test_a_streamed_update_is_sent_as_gradio_sends_it(demo, built):
    fn = generate_event(demo)
    outputs = [type(b).__name__ for b in fn.outputs]
    update = [gr.skip() for _ in outputs]
    update[0], update[outputs.index("HTML")] = "ROMEO.\nO", "<p>coloured</p>"
    built.clear()
    cheap, _ = postprocess(demo, update, gradios=False)
    rebuilt = len(built)
    gradios, _ = postprocess(demo, update, gradios=True)
    # Gradio's own path also leaks its update marker into a skipped HTML's template props
    # ({"props": {"__type__": "update"}}), which this page's HTML blocks do not use
    assert cheap == [{k: v for k, v in g.items() if k != "props"} if isinstance(g, dict) else g
                     for g in gradios]
    # text and coloured set; the session's State skipped is sent as None (Gradio's way)
    assert cheap.count(SKIP) == len(outputs) - 3 and cheap[-1] is None
    assert rebuilt < len(built) - 3  # Gradio rebuilt a config per skipped output


def test_a_skipped_state_and_a_full_update_go_gradios_way(demo):
    fn = generate_event(demo)
    assert any(b.stateful for b in fn.outputs)
    update = ["a text", "**status**", None, None, None, "", "<p>x</p>", {"any": "session"}]
    assert len(update) == len(fn.outputs)
    assert postprocess(demo, update, gradios=False)[0] == postprocess(demo, update, gradios=True)[0]
    skipped_state = update[:-1] + [gr.skip()]
    cheap, state = postprocess(demo, skipped_state, gradios=False)
    assert cheap == postprocess(demo, skipped_state, gradios=True)[0]
    assert cheap[-1] is None  # a State sends nothing; Gradio decides that, not the cheap path
