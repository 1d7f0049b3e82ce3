"""Plotly figures for the demo: pure functions from numbers to a figure, no Gradio, no models.

Colours are colour-blind safe: viridis for weights (its lightness rises monotonically, so it reads
in grey too) and the Okabe-Ito palette for lines. Characters on axes are shown as themselves,
with visible stand-ins for newline and space; positions, not characters, are the axis values, so
a repeated character does not collapse into one category.

Each figure is plain data in plotly's JSON schema (``Figure``), never a plotly object: plotly's
validation of every property took 60-140 ms a figure, the biggest cost of a finished generation;
even unvalidated, building the object and writing its JSON again for the page took ~2.5 ms a
figure, against ~0.1 ms to write the data with orjson. ``Figure.validated()`` reads it back
through plotly's objects, which reject a wrong property: the tests do.

Figures travel to the browser as JSON, so they are kept light: numbers rounded to what a hover
shows, no per-point text that repeats what the axes already say, even x steps given as a start
and a step rather than as a list, and a template holding only the layout this page uses.
"""

from __future__ import annotations

from math import isfinite

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import make_colorscale, sequential

from ..diagnostics import Analysis
from .coloured_text import PUOR

OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
VIRIDIS = make_colorscale(sequential.Viridis)  # as data: the figures skip plotly's lookups
ATTENTION_ROWS = 48  # predictions shown at once in the attention view: readable at any length
FONT = dict(family="ui-monospace, SFMono-Regular, Menlo, monospace", size=11)
_AXIS = dict(gridcolor="#EBF0F8", linecolor="#EBF0F8", zerolinecolor="#EBF0F8", zerolinewidth=2,
             ticks="", automargin=True)
# plotly_white's look without its defaults for every trace type (~9 KB in each figure's JSON)
TEMPLATE = dict(layout=dict(
    font=dict(color="#2a3f5f"), paper_bgcolor="white", plot_bgcolor="white", colorway=OKABE_ITO,
    hoverlabel=dict(align="left"), xaxis=_AXIS, yaxis=_AXIS))


def rounded(values, decimals: int | None = None, significant: int | None = None) -> list:
    """``values`` (any shape) as nested lists of floats rounded to ``decimals`` places or to
    ``significant`` digits; NaN and infinities become None (a gap in a plot)."""
    a = np.asarray(values, dtype=np.float64)
    finite = bool(np.isfinite(a).all())  # the common case: no gaps to test for value by value
    if significant is not None:  # Python floats: NumPy scalars format and test far slower
        flat = [float(f"{v:.{significant}g}") if finite or isfinite(v) else None
                for v in a.ravel().tolist()]
    elif finite:
        return np.round(a.ravel() if a.ndim == 0 else a, decimals).tolist()
    else:
        flat = [v if isfinite(v) else None for v in np.round(a.ravel(), decimals).tolist()]
    if a.ndim <= 1:
        return flat
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(a.shape).tolist()


def show_char(c: str) -> str:
    """A character as it can be seen on an axis or in a tooltip."""
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(c, c)


class Figure(dict):
    """A plotly figure as plain data (``{"data": [...], "layout": {...}}``). ``gr.Plot`` sends
    what ``to_json`` writes, as it does for a plotly figure."""

    def to_json(self) -> str:
        return pio.to_json(dict(self), validate=False)  # orjson, where it is installed

    def validated(self) -> go.Figure:
        """The figure as plotly's object, every property checked: a wrong one raises."""
        return go.Figure(dict(self))

    @property
    def data(self):
        return self.validated().data

    @property
    def layout(self):
        return self.validated().layout


def figure(data: list[dict], layout: dict, title: str, height: int) -> Figure:
    """A figure from plain data and layout, in the page's look."""
    layout = dict(layout, title=dict(text=title, x=0.01, font=dict(size=14)), height=height,
                  margin=dict(l=60, r=20, t=50, b=40), template=TEMPLATE,
                  hoverlabel=dict(font=FONT))
    return Figure(data=data, layout=layout)


def note_figure(message: str, height: int = 160) -> Figure:
    """An empty figure that says why there is nothing to plot."""
    layout = dict(annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5, xref="paper",
                                    yref="paper", font=dict(size=14))],
                  xaxis=dict(visible=False), yaxis=dict(visible=False))
    return figure([], layout, "", height)


def attention_view(n_chars: int, position: float, rows: int = ATTENTION_ROWS) -> tuple[int, int]:
    """The predictions [start, end) shown for a position slider at ``position`` percent."""
    rows = min(rows, n_chars - 1)
    last_start = n_chars - rows
    start = 1 + round((last_start - 1) * min(max(position, 0), 100) / 100)
    return start, start + rows


KEYS_OF = {  # what an attention source's keys are: on its axis, in a hover, in the title
    "cnn": ("CNN features of character (keys)", "CNN feature of", "CNN features"),
    "memory": ("GRU state after character (memory keys)", "GRU state after", "past GRU states"),
}


def attention_figure(a: Analysis, start: int, end: int) -> Figure:
    """The hybrid's attention for the predictions of text[start:end]: GRU states (rows, named by
    the character they predict) over the window before each (columns), one panel per source
    of keys: the CNN features, and the past GRU states where the hybrid keeps a memory."""
    if a.attention is None:
        return note_figure(f"{a.model} has no attention: only the hybrid weighs CNN features.")
    w = a.window
    keys = np.arange(max(start - w, 0), end - 1)  # every key position some shown row sees
    sources = a.attention_sources
    gap = 0.08 if len(sources) > 1 else 0.0
    size = (1 - gap * (len(sources) - 1)) / len(sources)
    panels = {}  # per source: its weights, each under the key position it weighs
    for source in sources:
        weights = a.attention_of(source)
        z = panels[source] = np.full((end - start, len(keys)), np.nan)
        for r, i in enumerate(range(start, end)):
            first = max(i - w, keys[0])  # the key positions of row i: text[i-w..i-1], oldest first
            z[r, first - keys[0]: i - keys[0]] = weights[i, first - (i - w):]
    shown = np.stack(list(panels.values()))
    top = float(np.nanmax(shown)) if np.isfinite(shown).any() else 1.0  # one scale for all
    data, layout = [], {}
    for n, (source, z) in enumerate(panels.items()):
        axis, labels = "" if n == 0 else str(n + 1), KEYS_OF.get(source, (source,) * 3)
        data.append(dict(  # the characters are on the axes; a hover names the positions
            type="heatmap", z=rounded(z, decimals=3), x=keys.tolist(), y=list(range(start, end)),
            xaxis=f"x{axis}", yaxis=f"y{axis}",
            hovertemplate=f"predicting #%{{y}}<br>{labels[1]} #%{{x}}<br>weight %{{z:.3f}}"
                          "<extra></extra>",
            colorscale=VIRIDIS, zmin=0, zmax=round(top, 3) or 1, showscale=n == 0,
            colorbar=dict(title=dict(text="weight"), thickness=12), hoverongaps=False, xgap=1,
            ygap=1))
        top_edge = 1 - n * (size + gap)  # panels from the top down
        layout[f"xaxis{axis}"] = dict(
            title=dict(text=labels[0]), tickmode="array", tickvals=keys.tolist(),
            ticktext=[show_char(a.text[k]) for k in keys], tickangle=0, tickfont=FONT,
            anchor=f"y{axis}")
        layout[f"yaxis{axis}"] = dict(
            title=dict(text="GRU state predicting (queries)"), tickmode="array",
            tickvals=list(range(start, end)),
            ticktext=[show_char(a.text[i]) for i in range(start, end)],
            autorange="reversed", tickfont=FONT, domain=[max(top_edge - size, 0), top_edge],
            anchor=f"x{axis}")
    over = " and ".join(KEYS_OF.get(s, (s,) * 3)[2] for s in sources)
    title = (f"{a.model}: attention of GRU states over {over}, characters {start}-{end - 1}"
             f" of {len(a.text)}")
    rows = 14 * (end - start) + 120
    return figure(data, layout, title, height=max(360, rows) * len(sources))


def _hover_rows(a: Analysis, alternatives: int = 3) -> list[str]:
    """Per predicted character (text[1:]): it, its surprisal, the likeliest alternatives.

    Built a column at a time (each distinct character made displayable once), then joined per
    row: a batch's texts end together, so every visitor's figure is built at the same moment
    and this cost is paid by the whole crowd."""
    n = len(a.text) - 1
    if n < 1:
        return []
    quoted = {c: repr(show_char(c)) for c in set(a.text)}
    tops = a.top_chars[1:]
    k = min(alternatives, min(len(t) for t in tops))
    shown = {c: show_char(c) for c in set("".join(t[:k] for t in tops))}
    columns = [[f"{shown[t[j]]} {p:.2f}".replace(" 0.", " .") for t, p in
                zip(tops, a.top_probs[1:, j].tolist(), strict=True)] for j in range(k)]
    alts = [", ".join(row) for row in zip(*columns, strict=True)] if k else [""] * n
    return [f"{quoted[c]} {s:.2f} bits; top: {alt}" for c, s, alt in
            zip(a.text[1:], a.surprisal[1:].tolist(), alts, strict=True)]


def character_figure(a: Analysis, prompt_chars: int = 0, view: tuple[int, int] | None = None,
                     compact: bool = False) -> Figure:
    """Per character: the model's confidence in it and, where there is a CNN, how much the CNN
    changed the prediction (KL, bits) and the hybrid's CNN-vs-GRU reliance."""
    panels = [  # (name, values, colour, their rounding: finer than the hover's 3 decimals)
        ("confidence<br>p(character)", a.probability, OKABE_ITO[0], dict(significant=4))]
    if a.influence is not None:
        panels.append(("CNN influence<br>KL, bits", a.influence, OKABE_ITO[1], dict(decimals=4)))
    if a.reliance is not None:
        panels.append(("reliance on CNN<br>(1 = all CNN)", a.reliance, OKABE_ITO[2],
                       dict(decimals=4)))
    gap = 0.06  # between panels, as a fraction of the plot's height
    size = (1 - gap * (len(panels) - 1)) / len(panels)
    lines = "lines+markers" if len(a.text) < 300 else "lines"
    data, layout, shapes, notes = [], {}, [], []
    for row, (name, values, colour, rounding) in enumerate(panels, start=1):
        label = name.split("<br>")[0]
        axis = "y" if row == 1 else f"y{row}"
        if row == 1:  # the character, its surprisal and the alternatives, once per position
            hover = dict(text=_hover_rows(a), hovertemplate="#%{x} %{text}<br>" + label
                         + " %{y:.3f}<extra></extra>")
        else:
            hover = dict(hovertemplate="#%{x} " + label + " %{y:.3f}<extra></extra>")
        data.append(dict(type="scatter", x0=1, dx=1, y=rounded(values[1:], **rounding),
                         mode=lines, line=dict(color=colour, width=1.2), marker=dict(size=4),
                         name=label, showlegend=False, xaxis="x", yaxis=axis, **hover))
        top = 1 - (row - 1) * (size + gap)  # panels from the top down, one x axis below them
        layout["yaxis" if row == 1 else f"yaxis{row}"] = dict(
            domain=[max(top - size, 0), top], anchor="x",
            title=dict(text=name, font=dict(size=10)),
            **({"range": [0, 1.02]} if values is not a.influence else {}))
        if prompt_chars > 1:  # shade every panel, name the prompt once
            shapes.append(dict(type="rect", xref="x", yref=f"{axis} domain", x0=0,
                               x1=prompt_chars - 0.5, y0=0, y1=1, fillcolor="#999999",
                               opacity=0.2, line=dict(width=0), layer="above"))
            if row == 1 and not compact:
                notes.append(dict(text="prompt", showarrow=False, xref="x", yref=f"{axis} domain",
                                  x=0, y=1, xanchor="left", yanchor="top"))
    if view is not None:
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=view[0] - 0.5,
                           x1=view[1] - 0.5, y0=0, y1=1, fillcolor="rgba(0,0,0,0)",
                           line=dict(color="#000000", width=1, dash="dot")))
    layout.update(xaxis=dict(title=dict(text="character position"), anchor=f"y{len(panels)}"
                             if len(panels) > 1 else "y"), shapes=shapes, annotations=notes)
    title = "" if compact else (f"{a.model}: per character" + (
        "" if a.influence is not None else " (no CNN in this model: confidence only)"))
    return figure(data, layout, title, height=(110 if compact else 150) * len(panels) + 80)


def difference_figure(a: Analysis, b: Analysis) -> Figure:
    """Per character, surprisal under ``a`` minus under ``b``: negative where ``a`` saw it coming
    better. Both analyses are of the same text."""
    if a.text != b.text:
        raise ValueError("the two analyses are of different texts")
    diff = a.surprisal[1:] - b.surprisal[1:]
    bars = dict(
        type="bar", x0=1, dx=1, y=rounded(diff, decimals=3),
        text=[show_char(c) for c in a.text[1:]],
        customdata=np.column_stack([rounded(a.surprisal[1:], decimals=2),
                                    rounded(b.surprisal[1:], decimals=2)]).tolist(),
        # the colours of the difference coloured on the text (PUOR's ends): orange where a did better
        marker=dict(color=(diff < 0).astype(np.int8).tolist(), cmin=0, cmax=1,
                    colorscale=[[0, PUOR[-1]], [1, PUOR[0]]]),
        textposition="none", hovertemplate=(
            f"#%{{x}} %{{text}}<br>{a.model}: %{{customdata[0]:.2f}} bits<br>{b.model}: "
            "%{customdata[1]:.2f} bits<br>difference %{y:+.2f} bits<extra></extra>"))
    zero = dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=0, y1=0,
                line=dict(color="#000000", width=1))
    mean = float(np.mean(diff)) if len(diff) else 0.0
    layout = dict(xaxis=dict(title=dict(text="character position")),
                  yaxis=dict(title=dict(text=f"{a.model} − {b.model}, bits")), shapes=[zero])
    title = (f"Surprisal of {a.model} minus {b.model} per character (orange: {a.model} better, "
             f"purple: {b.model} better); mean {mean:+.3f} bits/char")
    return figure([bars], layout, title, height=360)


def curves_figure(curves: dict[str, list], title: str = "Training curves") -> Figure:
    """Validation bits-per-character against training characters, one line per model."""
    if not curves:
        return note_figure("No training curves in the results file.")
    arrays = {name: np.asarray(points, dtype=float).reshape(-1, 2)
              for name, points in curves.items()}
    data = []
    for k, (name, pts) in enumerate(arrays.items()):
        data.append(dict(type="scatter", x=pts[:, 0].tolist(), y=pts[:, 1].tolist(), mode="lines",
                         name=name,
                         line=dict(color=OKABE_ITO[k % len(OKABE_ITO)], width=2,
                                   dash=["solid", "dash", "dot", "dashdot"][k // 4 % 4]),
                         hovertemplate=name + ": %{y:.3f} BPC at %{x:,.0f} chars<extra></extra>"))
    zoom = finish_range(arrays.values())
    above = zoom is not None and any(np.nanmax(p[:, 1], initial=-np.inf) > zoom[1]
                                     for p in arrays.values())
    note = " (the fall at the start is above the top: double-click to see it)" if above else ""
    layout = dict(xaxis=dict(title=dict(text="training characters" + note)),
                  yaxis=dict(title=dict(text="validation bits per character"), range=zoom))
    return figure(data, layout, title, height=420)


CURVE_START = 0.1  # the share of training whose fast early fall the curves' y range leaves out


def finish_range(curves) -> list[float] | None:
    """A y range for validation curves that shows where they finish, where rows differ by
    hundredths of a bit: from their lowest point to their highest after the first tenth of the
    longest run's training (the first points, several bits higher, would flatten the rest; a
    run stopped early shows only what it reached past that). None (plotly's own range) when
    no such point is a number."""
    pts = [p for p in (np.asarray(c, dtype=float).reshape(-1, 2) for c in curves) if len(p)]
    if not pts:
        return None
    start = CURVE_START * max(p[-1, 0] for p in pts)
    late = np.concatenate([p[p[:, 0] >= start, 1] for p in pts])
    every = np.concatenate([p[:, 1] for p in pts])
    late, every = late[np.isfinite(late)], every[np.isfinite(every)]
    if not late.size:
        return None
    low, high = float(every.min()), float(late.max())
    pad = 0.05 * max(high - low, 0.01)
    return [low - pad, high + pad]
