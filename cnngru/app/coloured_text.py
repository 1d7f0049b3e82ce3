"""Text with each character's background coloured by a number: confidence, surprisal, the CNN's
influence, the hybrid's split, the difference between two models, one GRU unit's output.

Readable at 2,000 characters because it wraps like text, and light because each character is
``<i class=sN>c</i>``: a colour class, no style, no title. The numbers shown on hover travel once
per view as compact columns in a ``data-h`` attribute (probabilities in thousandths); a click on
a character asks the server for its attention row (``attention_row``), which lights up the
earlier characters it attended to. Scales are viridis (sequential) and PuOr (diverging), both
colour-blind safe, with a legend under each view.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from html import escape

import gradio as gr
import numpy as np
import torch

from ..diagnostics import Analysis
from .validation import InputError

VIRIDIS = ["#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725"]
PUOR = ["#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7", "#d8daeb", "#b2abd2", "#8073ac",
        "#542788"]
DARK_TEXT = "#000"
LIGHT_TEXT = "#fff"


@dataclass(frozen=True)
class Scale:
    """How numbers become colour classes: the inner bin edges, and the class prefix (``s``:
    viridis, ``d``: PuOr), both palettes ordered from the edges' low end to their high end."""

    label: str  # what is coloured, for the legend
    short: str  # its name in a hover
    edges: tuple[float, ...]  # len(palette) - 1 inner edges, rising
    kind: str = "s"  # "s" sequential, "d" diverging
    digits: int = 2
    flip: bool = False  # values are the negated quantity (surprisal coloured as −bits)

    @property
    def palette(self) -> list[str]:
        return VIRIDIS if self.kind == "s" else PUOR

    def classes(self, values: np.ndarray) -> list[str]:
        """A class per value: its bin (``s0``.. or ``d0``..), or ``n`` where it is NaN."""
        v = np.asarray(values, dtype=np.float64)
        bins = np.digitize(np.nan_to_num(v, nan=0.0), self.edges)
        return ["n" if not np.isfinite(x) else f"{self.kind}{b}" for x, b in zip(v, bins, strict=True)]


# The quantities a visitor can colour by. Each scale's low end is the dark end of viridis, so the
# characters to look at (unlikely, surprising, CNN-driven) stand out.
SCALES = {
    "confidence": Scale("probability the model gave the character", "confidence",
                        (0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9)),
    "surprisal": Scale("surprisal, bits (−log₂ p); light: expected", "surprisal bits",
                       (-8, -6, -4.5, -3, -2, -1, -0.3), digits=2, flip=True),
    "CNN influence": Scale("CNN influence, bits (KL with vs without the CNN); light: the CNN "
                           "changed the prediction", "CNN influence bits", (0.003, 0.01, 0.03, 0.1, 0.3, 1, 3), digits=3),
    "CNN weight": Scale("the hybrid's weight on the CNN context (light: relies on the CNN)",
                        "CNN weight",
                        (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)),
    "difference": Scale("surprisal of model A minus model B, bits (purple: A more surprised)",
                        "A − B bits",
                        (-3.5, -2, -1, -0.3, 0.3, 1, 2, 3.5), kind="d", digits=2),
    "unit": Scale("the unit's output (tanh: −1 to 1)", "unit output",
                  (-0.75, -0.5, -0.25, -0.05, 0.05, 0.25, 0.5, 0.75), kind="d"),
}
ANALYSIS_QUANTITIES = ("confidence", "surprisal", "CNN influence", "CNN weight")
UNIT = "GRU unit"  # colour by one unit's output: a choice beside the analysis quantities


def quantity_values(a: Analysis, quantity: str) -> np.ndarray | None:
    """The per-character numbers of ``quantity`` in ``a`` (coloured values: surprisal as −bits),
    or None where the model has no such quantity."""
    if quantity == "confidence":
        return a.probability
    if quantity == "surprisal":
        return -a.surprisal
    if quantity == "CNN influence":
        return a.influence
    if quantity == "CNN weight":
        return a.reliance
    raise ValueError(f"unknown quantity {quantity!r}: choose one of {', '.join(ANALYSIS_QUANTITIES)}")


def available(a: Analysis) -> list[str]:
    return [q for q in ANALYSIS_QUANTITIES if quantity_values(a, q) is not None]


def css() -> str:
    """The classes every view uses, once per component (gr.HTML's ``css_template``)."""
    rules = []
    for kind, palette in (("s", VIRIDIS), ("d", PUOR)):
        for k, colour in enumerate(palette):
            light = kind == "s" and k < len(palette) // 2 or kind == "d" and k in (0, len(palette) - 1)
            rules.append(f".ct-text .{kind}{k}{{background:{colour};color:"
                         f"{LIGHT_TEXT if light else DARK_TEXT}}}")
    return "\n".join(rules) + """
.ct-text { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 14px;
  line-height: 1.7; white-space: pre-wrap; word-break: break-word; max-height: 420px;
  overflow-y: auto; border: 1px solid #ddd; padding: 6px; }
.ct-text i { font-style: normal; cursor: pointer; }
.ct-text i.att { outline: 2px solid #D55E00; outline-offset: -1px; }
.ct-text i.sel { outline: 3px solid #000; }
.ct-legend { font-size: 12px; margin: 4px 0; }
.ct-legend span { display: inline-block; padding: 0 6px; margin-right: 2px; }
.ct-tip { font-family: ui-monospace, Menlo, monospace; font-size: 12px; min-height: 1.4em;
  color: #333; margin: 2px 0; }
.ct-title { font-weight: 600; margin-top: 8px; }
"""


def legend(scale: Scale) -> str:
    """Swatches for every bin, each labelled with its range (in bits for surprisal, which is
    coloured as −bits so that its dark end means surprising)."""
    flip = scale.flip
    bounds = [None, *scale.edges, None]
    parts = []
    for k, _ in enumerate(scale.palette):
        lo, hi = bounds[k], bounds[k + 1]
        if flip:
            lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
        text = f"< {hi:g}" if lo is None else f"≥ {lo:g}" if hi is None else f"{lo:g}–{hi:g}"
        parts.append(f'<span class="{scale.kind}{k}">{escape(text)}</span>')
    return (f'<div class="ct-legend">{escape(scale.label)}: '
            f'<span class="ct-text" style="display:inline;border:0;padding:0">{"".join(parts)}'
            f"</span></div>")


def _thousandths(p) -> list[int | None]:
    return [None if not np.isfinite(x) else int(round(float(x) * 1000)) for x in np.asarray(p, float)]


def hover_columns(values: np.ndarray, digits: int, probability=None, top_chars=None,
                  top_probs=None, extra: dict[str, np.ndarray] | None = None) -> dict:
    """The numbers a hover shows, as columns: ``v`` the coloured value, ``p`` the probability
    in thousandths, ``a`` each character's top 3 as 3 characters, ``ap`` their thousandths."""
    v = [None if not np.isfinite(x) else round(float(x), digits) for x in np.asarray(values, float)]
    out: dict = {"v": v}
    if probability is not None:
        out["p"] = _thousandths(probability)
    if top_chars is not None:
        out["a"] = "".join((s[:3] + "   ")[:3] for s in top_chars)
        out["ap"] = _thousandths(np.asarray(top_probs, float)[:, :3].ravel())
    for name, column in (extra or {}).items():
        out[name] = [None if not np.isfinite(x) else round(float(x), 3) for x in column]
    return out


def coloured_html(text: str, values: np.ndarray, scale: Scale, hover: dict | None = None,
                  title: str = "", key: str | None = None, note: str = "") -> str:
    """``text`` with character i coloured by ``values[i]`` on ``scale``; ``hover`` columns
    (``hover_columns``), ``key`` of the attention rows held for clicks (``AttentionRows``)."""
    if len(values) != len(text):
        raise ValueError(f"{len(values)} values for {len(text)} characters")
    spans = "".join(f"<i class={c}>{escape(ch)}</i>"
                    for c, ch in zip(scale.classes(values), text, strict=True))
    data = hover if hover is not None else {"v": []}
    data = {**data, "q": scale.short, "s": scale.flip}
    head = f'<div class="ct-title">{escape(title)}</div>' if title else ""
    notes = f'<div class="ct-legend">{escape(note)}</div>' if note else ""
    return (f'<div class="ct" data-key="{escape(key or "")}" '
            f'data-h="{escape(json.dumps(data, ensure_ascii=False, separators=(",", ":")))}">'
            f'{head}{legend(scale)}{notes}<div class="ct-tip">hover a character for its numbers'
            f'{"; click it for what it attended to" if key else ""}</div>'
            f'<div class="ct-text">{spans}</div></div>')


def analysis_html(a: Analysis, quantity: str, key: str | None = None, title: str = "") -> str:
    """The text of an analysis coloured by one of its quantities, with hover numbers."""
    values = quantity_values(a, quantity)
    if values is None:
        raise ValueError(f"{a.model} has no {quantity}: choose one of {', '.join(available(a))}")
    scale = SCALES[quantity]
    hover = hover_columns(values, scale.digits, a.probability, a.top_chars, a.top_probs)
    return coloured_html(a.text, values, scale, hover, title, key,
                         note="first character: not predicted (uncoloured)")


def difference_html(a: Analysis, b: Analysis) -> str:
    """The text coloured by a's surprisal minus b's, hover showing both probabilities."""
    if a.text != b.text:
        raise ValueError("the two analyses read different texts")
    d = a.surprisal - b.surprisal
    hover = hover_columns(d, 2, a.probability, a.top_chars, a.top_probs,
                          extra={"pb": b.probability})
    return coloured_html(a.text, d, SCALES["difference"], hover,
                         f"{a.model} minus {b.model}: surprisal difference per character")


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
    shown = [None if not np.isfinite(v) else round(float(v), 4) for v in values]
    return analysis_html(a, quantity, hold_attention(a, bundle)), {"quantity": quantity,
                                                                  "values": shown}


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
    if a.attention is None or not sources:
        return None
    return ATTENTION.put(np.nan_to_num(a.attention), window, sources)


def attention_row(request) -> dict:
    """Server function for the views' clicks: ``[key, index]`` -> that character's attention."""
    try:
        key, index = request
        return ATTENTION.row(str(key), int(index))
    except (TypeError, ValueError):
        return {"error": "expected [key, index]"}


# Hover: the character's numbers and top 3 alternatives; click: its attention row, fetched from
# the server. Listeners sit on the component's root, so they survive every re-render.
JS = r"""
const show = c => c === "\n" ? "⏎" : c === " " ? "␣" : c;
const dataOf = view => {
  if (!view._h || view._hs !== view.dataset.h) { view._h = JSON.parse(view.dataset.h); view._hs = view.dataset.h; }
  return view._h;
};
const locate = target => {
  const ch = target.closest(".ct-text i");
  if (!ch) return null;
  const view = ch.closest(".ct");
  const index = Array.prototype.indexOf.call(ch.parentNode.children, ch);
  return {ch, view, index};
};
element.addEventListener("mouseover", event => {
  const at = locate(event.target);
  if (!at) return;
  const h = dataOf(at.view), i = at.index, tip = at.view.querySelector(".ct-tip");
  const parts = [`#${i} "${show(at.ch.textContent)}"`];
  const v = h.v[i];
  if (v !== null && v !== undefined) parts.push(`${h.q} ${h.s ? (-v).toFixed(2) : v}`);
  if (h.p && h.p[i] !== null) parts.push(`p ${(h.p[i] / 1000).toFixed(3)}`);
  if (h.pb && h.pb[i] !== null) parts.push(`p(B) ${h.pb[i].toFixed(3)}`);
  if (h.a && h.ap[3 * i] !== null && i > 0) {
    const top = [0, 1, 2].map(j => `${show(h.a[3 * i + j])} ${(h.ap[3 * i + j] / 1000).toFixed(2)}`);
    parts.push("top 3: " + top.join("  "));
  }
  tip.textContent = parts.join(" · ");
  at.ch.setAttribute("data-tip", tip.textContent);
});
element.addEventListener("click", async event => {
  const at = locate(event.target);
  if (!at) return;
  const tip = at.view.querySelector(".ct-tip");
  at.view.querySelectorAll(".ct-text i.att, .ct-text i.sel").forEach(e => { e.classList.remove("att", "sel"); e.style.outlineColor = ""; });
  at.ch.classList.add("sel");
  const key = at.view.dataset.key;
  if (!key) { tip.textContent = `#${at.index}: this model has no attention to show`; return; }
  const row = await server.attention_row([key, at.index]);
  if (!row || row.error) { tip.textContent = row ? row.error : "no answer"; return; }
  const chars = at.ch.parentNode.children, best = {};
  row.sources.forEach(s => s.positions.forEach((p, j) => { best[p] = Math.max(best[p] || 0, s.weights[j]); }));
  Object.entries(best).forEach(([p, w]) => {
    const e = chars[+p]; e.classList.add("att");
    e.style.outlineColor = `rgba(213, 94, 0, ${Math.min(1, 0.25 + 2 * w).toFixed(2)})`;
  });
  const ranked = Object.entries(best).sort((x, y) => y[1] - x[1]).slice(0, 5);
  tip.textContent = `#${at.index} "${show(at.ch.textContent)}" attended to: ` +
    ranked.map(([p, w]) => `#${p} "${show(chars[+p].textContent)}" ${w.toFixed(2)}`).join(", ");
  at.view.dataset.attended = Object.keys(best).join(",");
});
"""


def coloured_view(elem_id: str, label: str, value: str = "") -> gr.HTML:
    """The component that shows these views, with their styles, hover and click."""
    return gr.HTML(value, elem_id=elem_id, label=label, css_template=css(), js_on_load=JS,
                   server_functions=[attention_row])
