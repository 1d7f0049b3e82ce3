"""The attention rows behind the coloured views' clicks, held on the server for a while.

A finished view carries a key, not its attention: a hybrid's 2,000 x 32 weights would double the
view's size. A click asks for one row by key (``attention_row``, a server function of the view's
component), and the earlier characters it attended to are outlined.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict

import numpy as np

from ..diagnostics import Analysis


class AttentionRows:
    """The attention of recent texts, by an unguessable key, for clicks on their characters.

    A bounded, thread-safe store: the oldest text is dropped when a new one exceeds ``size``.
    Rows are float16: a hybrid's 2,000 x 32 weights take 128 KB."""

    def __init__(self, size: int = 64):
        self.size = size
        self._rows: OrderedDict[str, tuple[np.ndarray, int, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, attention: np.ndarray, window: int, sources: list[str]) -> str:
        key = uuid.uuid4().hex
        with self._lock:
            self._rows[key] = (np.asarray(attention, dtype=np.float16), window, sources)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)
        return key

    def row(self, key: str, index: int) -> dict:
        """Character ``index``'s attention: for each source, the earlier positions attended to
        and their weights (weights below 0.005 left out)."""
        with self._lock:
            found = self._rows.get(key)
        if found is None:
            return {"error": "This text's attention is no longer held: generate or score again."}
        attention, window, sources = found
        if not 1 <= index < len(attention):
            return {"error": f"No prediction at position {index}."}
        out = {"index": index, "sources": []}
        for s, name in enumerate(sources):
            weights = attention[index, s * window:(s + 1) * window].astype(float)
            positions = index - window + np.arange(window)  # oldest first, the last is index-1
            keep = (positions >= 0) & (weights >= 0.005)
            out["sources"].append({"name": name, "positions": positions[keep].tolist(),
                                   "weights": np.round(weights[keep], 3).tolist()})
        return out


ATTENTION = AttentionRows()


def attention_sources(bundle) -> tuple[int, list[str]]:
    """The window and the names of the attention's column blocks, from the model itself."""
    blocks = getattr(bundle.model, "attention_blocks", None)
    if blocks is None:
        return 0, []
    return bundle.model.config.window, list(blocks())


def hold_attention(a: Analysis, bundle) -> str | None:
    """Keep ``a``'s attention for clicks; its key, or None when the model has none."""
    window, sources = attention_sources(bundle)
    if a.attention is None or not sources or a.attention.shape[1] != window * len(sources):
        return None  # no attention, or not this model's
    return ATTENTION.put(np.nan_to_num(a.attention), window, sources)


def attention_row(request) -> dict:
    """Server function for the views' clicks: ``[key, index]`` -> that character's attention."""
    try:
        key, index = request
        return ATTENTION.row(str(key), int(index))
    except (TypeError, ValueError):
        return {"error": "expected [key, index]"}
