"""HTML views that plotly does not do well: coloured running text, and a before/after diff.

Pure functions from numbers and strings to an HTML string; every piece of user text is escaped.
Tooltips use the ``title`` attribute, which any browser shows on hover without scripts.
"""

from __future__ import annotations

import difflib
from html import escape

from ..diagnostics import Analysis
from .figures import show_char

# GLTR (Gehrmann et al. 2019) colours each token by the rank the model gave it. Characters have
# few choices, so the bands are tighter. Viridis shades: light = expected, dark = surprising.
RANK_BANDS = [  # (highest rank in the band, background, text colour, label)
    (1, "#fde725", "#000000", "model's first choice"),
    (3, "#5ec962", "#000000", "top 3"),
    (10, "#21918c", "#ffffff", "top 10"),
    (10**9, "#3b0f70", "#ffffff", "beyond the top 10"),
]
TEXT_STYLE = ("font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 14px; "
              "line-height: 1.6; white-space: pre-wrap; word-break: break-word;")


def _band(rank: int) -> int:
    return next(k for k, (top, *_) in enumerate(RANK_BANDS) if rank <= top)


def band_style() -> str:
    """One style rule per band, so each of thousands of characters carries a class, not a style."""
    rules = "".join(f".cnngru-b{k}{{background:{bg};color:{fg} !important}}"  # over the theme's
                    for k, (_, bg, fg, _) in enumerate(RANK_BANDS))
    return f"<style>{rules}</style>"


def legend_html() -> str:
    items = "".join(f'<span class="cnngru-b{k}" style="padding:1px 6px;margin-right:6px;'
                    f'border-radius:3px">{escape(label)}</span>'
                    for k, (*_, label) in enumerate(RANK_BANDS))
    return (f'{band_style()}<div style="margin:4px 0 8px 0;font-size:13px">Rank of each '
            f'character: {items}</div>')


def rank_html(a: Analysis, alternatives: int = 3) -> str:
    """The text coloured by the rank the model gave each character; hover for the surprisal
    and the model's top alternatives. Goes with ``band_style()`` (``legend_html`` has it)."""
    spans = [f'<span title="first character: not predicted">{escape(a.text[0])}</span>']
    for i in range(1, len(a.text)):
        alts = " ".join(f"{show_char(c)} {p:.2f}" for c, p in
                        zip(a.top_chars[i][:alternatives], a.top_probs[i], strict=False))
        tip = (f"{show_char(a.text[i])}: {a.surprisal[i]:.2f} bits, p={a.probability[i]:.3f}, "
               f"rank {a.rank[i]} | top: {alts}")
        spans.append(f'<span class="ch cnngru-b{_band(int(a.rank[i]))}" title="{escape(tip)}">'
                     f'{escape(a.text[i])}</span>')
    return (f'<div class="surprisal" data-model="{escape(a.model)}">'
            f'<div style="font-weight:600;margin-top:10px">{escape(a.model)}: '
            f'{a.bits_per_char():.3f} bits per character</div>'
            f'<div style="{TEXT_STYLE}max-height:320px;overflow-y:auto;border:1px solid #ddd;'
            f'padding:6px">{"".join(spans)}</div></div>')


def diff_html(before: str, after: str, confidences: dict[int, float] | None = None) -> str:
    """Before and after, the changed characters marked (struck out in before, bold in after);
    hovering a change shows the refiner's confidence where it is known (by position in before)."""
    confidences = confidences or {}
    old_parts, new_parts, changes = [], [], 0
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = escape(before[i1:i2]), escape(after[j1:j2])
        if op == "equal":
            old_parts.append(old)
            new_parts.append(new)
            continue
        changes += 1
        conf = confidences.get(i1)
        tip = f' title="confidence {conf:.2f}"' if conf is not None else ""
        if old:
            old_parts.append(f'<del style="background:#D55E00;color:#fff"{tip}>{old}</del>')
        if new:
            new_parts.append(f'<ins style="background:#0072B2;color:#fff;text-decoration:none;'
                             f'font-weight:700"{tip}>{new}</ins>')
    box = f'style="{TEXT_STYLE}border:1px solid #ddd;padding:6px;max-height:260px;overflow-y:auto"'
    summary = ("The refiner changed nothing." if not changes
               else f"The refiner made {changes} change{'s' if changes > 1 else ''}.")
    return (f'<div class="refine-diff"><div style="font-weight:600">{summary}</div>'
            f'<div>Before</div><div class="before" {box}>{"".join(old_parts)}</div>'
            f'<div>After</div><div class="after" {box}>{"".join(new_parts)}</div></div>')


def message_html(text: str) -> str:
    return f'<div style="padding:6px;color:#555">{escape(text)}</div>'
