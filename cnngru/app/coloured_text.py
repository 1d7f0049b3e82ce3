"""Text with each character's background coloured by a number, as an HTML view.

Readable at 2,000 characters because it wraps like text, and light because each character is
``<i class=sN>c</i>``: a colour class, no style, no title. The numbers shown on hover travel once
per view as compact columns in a ``data-h`` attribute (probabilities in thousandths); a click on
a character asks the server for its attention row (``attention_rows.py``), which lights up the
earlier characters it attended to. Scales are viridis (sequential) and PuOr (diverging), both
colour-blind safe, with a legend on each view. What is coloured (confidence, a unit, ...) is
``text_views.py``'s business; this module only draws.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape

import gradio as gr
import numpy as np

from .attention_rows import attention_row

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
        bins = np.where(np.isfinite(v), np.digitize(np.nan_to_num(v), self.edges), -1)
        names = [f"{self.kind}{k}" for k in range(len(self.palette))] + ["n"]  # [-1]: "n"
        return [names[b] for b in bins.tolist()]


# What can be coloured. Sequential scales run from viridis's dark end (low) to its light end
# (high); surprisal is coloured as −bits, so the surprising characters are the dark ones.
SCALES = {
    "confidence": Scale("probability the model gave the character", "confidence",
                        (0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9)),
    "surprisal": Scale("surprisal, bits (−log₂ p); light: expected", "surprisal bits",
                       (-8, -6, -4.5, -3, -2, -1, -0.3), digits=2, flip=True),
    "CNN influence": Scale("CNN influence, bits (KL with vs without the CNN); light: the CNN "
                           "changed the prediction", "CNN influence bits",
                           (0.003, 0.01, 0.03, 0.1, 0.3, 1, 3), digits=3),
    "CNN weight": Scale("the hybrid's weight on the CNN context (light: relies on the CNN)",
                        "CNN weight", (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)),
    "GRU-state weight": Scale("the split gate's weight on the GRU state (light: the GRU alone)",
                              "GRU-state weight", (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)),
    "memory weight": Scale("the split gate's weight on the attention over past GRU states "
                           "(light: relies on that memory)", "memory weight",
                           (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)),
    "difference": Scale("surprisal of model A minus model B, bits (orange: A better, purple: B "
                        "better)",
                        "A − B bits",
                        (-3.5, -2, -1, -0.3, 0.3, 1, 2, 3.5), kind="d", digits=2),
    "unit": Scale("the unit's output (tanh: −1 to 1)", "unit output",
                  (-0.75, -0.5, -0.25, -0.05, 0.05, 0.25, 0.5, 0.75), kind="d"),
}


def css() -> str:
    """The classes every view uses, once per component (gr.HTML's ``css_template``)."""
    rules = []
    for kind, palette in (("s", VIRIDIS), ("d", PUOR)):
        for k, colour in enumerate(palette):
            dark = k < len(palette) // 2 if kind == "s" else k in (0, len(palette) - 1)
            rules.append(f".ct-text .{kind}{k}{{background:{colour};color:"
                         f"{LIGHT_TEXT if dark else DARK_TEXT}}}")
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


def _rounded(values, digits: int) -> list[float | None]:
    """Rounded to ``digits`` places, NaN as None (vectorised: a view is rebuilt while it
    streams)."""
    a = np.asarray(values, float)
    a = np.round(np.where(np.isfinite(a), a, np.nan), digits)
    return [None if x != x else x for x in a.tolist()]  # NaN != NaN


def _thousandths(p) -> list[int | None]:
    return [None if x is None else int(x) for x in _rounded(np.asarray(p, float) * 1000, 0)]


def hover_columns(values: np.ndarray, digits: int, probability=None, top_chars=None,
                  top_probs=None, extra: dict[str, np.ndarray] | None = None) -> dict:
    """The numbers a hover shows, as columns: ``v`` the coloured value, ``p`` the probability
    in thousandths, ``a`` each character's top 3 as 3 characters, ``ap`` their thousandths."""
    out: dict = {"v": _rounded(values, digits)}
    if probability is not None:
        out["p"] = _thousandths(probability)
    if top_chars is not None:
        out["a"] = "".join((s[:3] + "   ")[:3] for s in top_chars)
        out["ap"] = _thousandths(np.asarray(top_probs, float)[:, :3].ravel())
    for name, column in (extra or {}).items():
        out[name] = _rounded(column, 3)
    return out


def coloured_html(text: str, values: np.ndarray, scale: Scale, hover: dict | None = None,
                  title: str = "", key: str | None = None, note: str = "") -> str:
    """``text`` with character i coloured by ``values[i]`` on ``scale``; ``hover`` columns
    (``hover_columns``), ``key`` of the attention rows held for clicks (``AttentionRows``)."""
    if len(values) != len(text):
        raise ValueError(f"{len(values)} values for {len(text)} characters")
    escaped = {ch: escape(ch) for ch in set(text)}
    spans = "".join(f"<i class={c}>{escaped[ch]}</i>"
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
