"""What the coloured views show: an analysis's per-character quantities, the difference of two
models, one GRU unit's output, and a text while it streams.

Each function returns the HTML of ``coloured_text.coloured_html``. The Generate tab's choice of
colouring is remembered per page (``Colourings``), so its next text streams in it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from math import isfinite

import numpy as np
import torch

from ..diagnostics import Analysis
from .attention_rows import hold_attention
from .coloured_text import SCALES, coloured_html, hover_columns
from .validation import InputError

ANALYSIS_QUANTITIES = ("confidence", "surprisal", "CNN influence", "CNN weight",
                       "GRU-state weight", "memory weight")
UNIT = "GRU unit"  # colour by one unit's output: a choice beside the analysis quantities
# A split gate's columns: the GRU state, then each source of the hybrid's window in order.
SPLIT_COLUMNS = {"gru": "GRU-state weight", "cnn": "CNN weight", "memory": "memory weight"}


def quantity_values(a: Analysis, quantity: str) -> np.ndarray | None:
    """The per-character numbers of ``quantity`` in ``a`` (coloured values: surprisal as −bits),
    or None where the model has no such quantity."""
    if quantity == "confidence":
        return a.probability
    if quantity == "surprisal":
        return -a.surprisal
    if quantity == "CNN influence":
        return a.influence
    if quantity == "CNN weight" and a.reliance is not None:
        return a.reliance
    if quantity in ("GRU-state weight", "memory weight"):
        return split_weights(a).get(quantity)
    if quantity in ANALYSIS_QUANTITIES:
        return None
    raise ValueError(f"unknown quantity {quantity!r}: choose one of "
                     f"{', '.join(ANALYSIS_QUANTITIES)}")


def split_weights(a: Analysis) -> dict[str, np.ndarray]:
    """A split gate's weights by quantity name, from the columns the model's config names
    (GRU state first, then its sources); empty without a split gate."""
    if a.split is None:
        return {}
    return {SPLIT_COLUMNS[name]: a.split[:, i] for i, name in enumerate(a.split_columns)}


def available(a: Analysis) -> list[str]:
    return [q for q in ANALYSIS_QUANTITIES if quantity_values(a, q) is not None]


def offered(bundles) -> list[str]:
    """The quantities at least one of ``bundles`` can be coloured by, read from the models'
    structure (a menu is built before any text exists)."""
    configs = [b.model.config for b in bundles]
    has = {"confidence", "surprisal"}
    if any(b.variant != "gru" for b in bundles):  # every CNN variant: analyse() measures it
        has.add("CNN influence")
    for c in configs:
        sources = getattr(c, "sources", ())
        if "cnn" in sources:
            has.add("CNN weight")
        if getattr(c, "gate", None) == "split":
            has.update(SPLIT_COLUMNS[s] for s in ("gru", *sources))
    return [q for q in ANALYSIS_QUANTITIES if q in has]


def analysis_html(a: Analysis, quantity: str, key: str | None = None, title: str = "") -> str:
    """The text of an analysis coloured by one of its quantities, with hover numbers."""
    values = quantity_values(a, quantity)
    if values is None:
        raise ValueError(f"{a.model} has no {quantity}: choose one of {', '.join(available(a))}")
    scale = SCALES[quantity]
    hover = hover_columns(values, scale.digits, a.probability, a.top_chars, a.top_probs)
    return coloured_html(a.text, values, scale, hover, title, key,
                         note="first character: not predicted (uncoloured)")


def difference_html(a: Analysis, b: Analysis, key: str | None = None) -> str:
    """The text coloured by a's surprisal minus b's, hover showing both probabilities; ``key``:
    a's attention rows, for clicks."""
    if a.text != b.text:
        raise ValueError("the two analyses read different texts")
    d = a.surprisal - b.surprisal
    hover = hover_columns(d, 2, a.probability, a.top_chars, a.top_probs,
                          extra={"pb": b.probability})
    return coloured_html(a.text, d, SCALES["difference"], hover,
                         f"{a.model} minus {b.model}: surprisal difference per character", key)


def streaming_html(text: str, prompt_chars: int, probabilities: list[float]) -> str:
    """The text while it streams, coloured by the confidence of each generated character (the
    prompt uncoloured). Light, as it is sent again at every update: the hover shows the
    confidence only; the alternatives and the chosen quantity come when the text ends."""
    p = np.full(len(text), np.nan)
    p[prompt_chars:prompt_chars + len(probabilities)] = probabilities
    return coloured_html(text, p, SCALES["confidence"], hover_columns(p, 2),
                         note="while it streams: confidence of each generated character; "
                              "alternatives and attention when it ends")


class Colourings:
    """What each page last chose to colour its text by, by Gradio session, so that its next text
    streams in that colouring (``/generate``'s parameters are a public API and stay as they
    are). A bounded store of small tuples; the oldest sessions are forgotten first."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._choices: OrderedDict[str, tuple[str, object]] = OrderedDict()
        self._lock = threading.Lock()

    def choose(self, session_hash: str | None, quantity: str, unit) -> None:
        if not session_hash:
            return
        with self._lock:
            self._choices[session_hash] = (quantity, unit)
            self._choices.move_to_end(session_hash)
            while len(self._choices) > self.size:
                self._choices.popitem(last=False)

    def of(self, session_hash: str | None) -> tuple[str, object]:
        with self._lock:
            return self._choices.get(session_hash or "", ("confidence", None))


COLOURINGS = Colourings()


class StreamingUnit:
    """One GRU unit's output over a text that grows: each update runs the model's forward over
    the characters added since the last (the state carried), so it costs what was added."""

    def __init__(self, bundle, unit: int):
        self.bundle, self.unit = bundle, unit
        self.state, self.read, self.values = None, 0, np.zeros(0)

    def values_for(self, text: str) -> np.ndarray:
        new = text[self.read:]
        if new:
            ids = self.bundle.vocab.encode_tensor(new, "replace").to(self.bundle.device)
            with torch.inference_mode():
                out = self.bundle.model(ids[None], self.state)
            self.state, self.read = out.state, len(text)
            column = out.trace["units"][0, :, self.unit].float().cpu().numpy()
            self.values = np.concatenate([self.values, column])
        return self.values


def unit_outputs(bundle, text: str, unit: int) -> np.ndarray:
    """(len(text),) a GRU unit's output after reading each character (the trace's ``units``)."""
    ids = bundle.vocab.encode_tensor(text, "replace").to(bundle.device)
    with torch.inference_mode():
        units = bundle.model(ids[None]).trace["units"][0]  # (T, H)
    if not 0 <= unit < units.shape[1]:
        raise InputError(f"unit must be between 0 and {units.shape[1] - 1}, not {unit}")
    return units[:, unit].float().cpu().numpy()


def unit_html(text: str, values: np.ndarray, title: str) -> str:
    """Karpathy's cell view: the text coloured by one unit's output."""
    return coloured_html(text, values, SCALES["unit"], hover_columns(values, 3), title)


def text_view(bundle, a: Analysis, quantity: str, unit=None) -> tuple[str, dict]:
    """The view of an analysed text coloured by ``quantity`` (or a GRU unit), and the numbers
    it shows (for the download)."""
    if quantity == UNIT:
        try:
            u = int(unit)
        except (TypeError, ValueError):
            raise InputError(f"unit must be a whole number, not {unit!r}") from None
        values = unit_outputs(bundle, a.text, u)
        return (unit_html(a.text, values, f"{a.model}, unit {u}"),
                {"quantity": f"GRU unit {u}", "values": np.round(values, 4).tolist()})
    if quantity not in ANALYSIS_QUANTITIES:
        raise InputError(f"Unknown colouring {quantity!r}: choose one of "
                         f"{', '.join((*ANALYSIS_QUANTITIES, UNIT))}.")
    if quantity_values(a, quantity) is None:
        raise InputError(f"{a.model} has no {quantity}: choose one of "
                         f"{', '.join((*available(a), UNIT))}.")
    values = quantity_values(a, quantity) * (-1 if SCALES[quantity].flip else 1)
    shown = [round(v, 4) if isfinite(v) else None for v in values.tolist()]  # Python floats
    return analysis_html(a, quantity, hold_attention(a, bundle)), {"quantity": quantity,
                                                                  "values": shown}
