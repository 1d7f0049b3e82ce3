"""Two pieces of Gradio's bookkeeping that a crowd pays for and this demo does not need.

Both run on the server's event loop, so under load they run one after another, and every
visitor's stream waits behind them (py-spy, 30 visitors at once: ~1.4 s and ~1.1 s of the loop).

1. **A config per block per session.** For every new session, Gradio's ``SessionState`` builds
   the config of every block of the page (178 here, an ``inspect.signature`` per component) so
   that a deep link could recreate the page: ~12 ms a session alone, ~45 ms beside generation
   threads. ``LazySessionState`` builds each one on its first read, from the same block, so
   whatever reads it sees what it would have seen; an update's new value waits in an unbuilt
   config until then (Gradio builds one per output to store it: 14% of the server's time under
   a crowd of new sessions).
2. **A skipped output rebuilt.** ``gr.skip()`` leaves an output as it is, but Gradio still makes
   a new component for it and rebuilds its config, for every update (~1.5 ms each). A streamed
   update here skips four or five outputs. ``skip_cheaply(demo)`` sends the same
   ``{"__type__": "update"}`` for them without that work.

``build_demo`` installs both; ``tests/app/test_lean_gradio.py`` holds them equal to Gradio's own
paths in what they set and what they send.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from copy import copy
from typing import Any

import gradio as gr
from gradio import state_holder
from gradio.components import _Keywords
from gradio.state_holder import SessionState

FINISHED = _Keywords.FINISHED_ITERATING  # an output Gradio leaves alone (sends as None)


_UNBUILT = object()


class ConfigsOnRead(MutableMapping):
    """``SessionState.config_values``: block id -> its config, each built on its first read, in
    page order as Gradio's."""

    def __init__(self, blocks_config, ids: list[int]):
        self._blocks_config = blocks_config
        self._configs: dict[int, Any] = dict.fromkeys(ids, _UNBUILT)
        self._values: dict[int, Any] = {}  # the latest value set in an unbuilt config

    def __getitem__(self, key: int) -> dict:
        config = self._configs[key]
        if config is _UNBUILT:
            block = self._blocks_config.blocks[key]
            config = self._configs[key] = self._blocks_config.config_for_block(key, [], block)
            if key in self._values and "props" in config:
                config["props"]["value"] = self._values.pop(key)
        return config

    def __setitem__(self, key: int, value: dict) -> None:
        self._configs[key] = value
        self._values.pop(key, None)

    def __delitem__(self, key: int) -> None:
        del self._configs[key]
        self._values.pop(key, None)

    def set_value(self, key: int, value: Any) -> bool:
        """Give the config of ``key`` this value, as an event's update does; an unbuilt config
        takes it when it is built. False: ``key`` is not here."""
        config = self._configs.get(key, _UNBUILT if key in self._configs else None)
        if config is None:
            return False
        if config is _UNBUILT:
            self._values[key] = value
        elif "props" in config:
            config["props"]["value"] = value
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._configs

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._configs))

    def __len__(self) -> int:
        return len(self._configs)


class LazySessionState(SessionState):
    """Gradio's ``SessionState`` (6.x), with ``config_values`` built on read (``ConfigsOnRead``)."""

    def __init__(self, blocks):  # noqa: D107 - SessionState.__init__ but for config_values
        self.blocks_config = copy(blocks.default_config)
        self.config_values = ConfigsOnRead(
            self.blocks_config, [k for k in self.blocks_config.blocks if k in blocks.blocks])
        self.state_data: dict[int, Any] = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600

    def _update_value_in_config(self, key: int, value: Any):
        """Gradio's, without building the block's config to hold the value (every output of
        every update of a new session would build one)."""
        if not self.config_values.set_value(key, value):
            super()._update_value_in_config(key, value)


def use_lazy_session_configs() -> None:
    """New sessions of every Blocks in this process are ``LazySessionState``s."""
    state_holder.SessionState = LazySessionState


SKIP = {"__type__": "update"}  # what gr.skip() returns, and what Gradio sends for it


def skip_cheaply(demo: gr.Blocks) -> None:
    """``demo`` sends skipped outputs (``gr.skip()``, of any block that holds no state) as they
    are, instead of rebuilding the block (see the module's docstring)."""
    postprocess_data = demo.postprocess_data  # Gradio's, bound to demo

    async def skipping_cheaply(block_fn, predictions, state):
        if not isinstance(predictions, list | tuple) or len(block_fn.outputs) < 2:
            return await postprocess_data(block_fn, predictions, state)
        pairs = zip(predictions, block_fn.outputs, strict=False)  # a wrong count: Gradio says so
        skipped = [i for i, (value, block) in enumerate(pairs)
                   if value == SKIP and not block.stateful]
        passed = [FINISHED if i in skipped else value for i, value in enumerate(predictions)]
        output = await postprocess_data(block_fn, passed, state)
        for i in skipped:
            output[i] = dict(SKIP)
        return output

    demo.postprocess_data = skipping_cheaply
