"""The results in words, in a table and in a figure: pure functions of ``results.json``'s data.

``cnngru reproduce`` measures; this module only formats what it measured, so the README, the
demo's Results tab and the tests all read the same sentences and numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..models import VARIANTS

BASELINE = "gru"  # every difference in the table is a variant minus this row


def answer(rows: list[dict]) -> str:
    """The question answered in words from the paired intervals, whatever they say."""
    by_name = {r["name"]: r for r in rows}
    lines, better = [], []
    for v in VARIANTS[1:]:
        r = by_name[v]
        d, (lo, hi) = r["diff_vs_gru"], r["diff_ci"]
        if hi < 0:
            verdict = f"**better** than the GRU baseline by {-d:.3f} BPC (95% CI {-hi:.3f} to {-lo:.3f})"
            better.append(v)
        elif lo > 0:
            verdict = f"**worse** than the GRU baseline by {d:.3f} BPC (95% CI {lo:.3f} to {hi:.3f})"
        else:
            verdict = f"**not distinguishable** from the GRU baseline ({d:+.3f} BPC, 95% CI {lo:+.3f} to {hi:+.3f})"
        lines.append(f"- `{v}`: {verdict}.")
    t = by_name.get("transformer")
    if t:
        side = "better" if t["diff_ci"][1] < 0 else "worse" if t["diff_ci"][0] > 0 else "level with"
        lines.append(f"- The transformer reference at the same budget is {side} than the GRU "
                     f"({t['diff_vs_gru']:+.3f} BPC).")
    base = by_name[BASELINE]["seeds"]
    if base:
        n = len(base["values"])
        lines.append(f"\nAt the seed study's reduced budget ({n} seeds, mean ± standard deviation "
                     f"of test BPC): `gru` {base['mean']:.3f} ± {base['std']:.3f}")
        for v in VARIANTS[1:]:
            s = by_name[v]["seeds"]
            gap = s["mean"] - base["mean"]
            noise = 2 * math.sqrt((s["std"] ** 2 + base["std"] ** 2) / n)
            where = "ahead of" if gap < -noise else "behind" if gap > noise else "level with"
            lines.append(f"- `{v}` {s['mean']:.3f} ± {s['std']:.3f}: {where} the GRU "
                         f"({gap:+.3f}) early in training.")
    head = (f"**Yes, at this scale:** {', '.join(f'`{v}`' for v in better)} beat the GRU baseline "
            "on the unseen test plays with the same parameters, data and tuning."
            if better else
            "**No, not at this scale:** no CNN variant beats the GRU baseline on the unseen test "
            "plays with the same parameters, data and tuning.")
    return head + "\n\n" + "\n".join(lines)


def _fmt_int(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def markdown_table(table: dict) -> str:
    head = ("| model | params | train chars | train time | device | lr | test BPC (95% CI) "
            "| vs gru (95% CI) | 3 seeds, reduced budget | gen chars/s | real words | distinct-2 "
            "| distinct-3 | repetition |\n" + "|---" * 14 + "|\n")
    body = []
    for r in table["rows"]:
        diff = "—" if r["diff_vs_gru"] is None else \
            f"{r['diff_vs_gru']:+.3f} ({r['diff_ci'][0]:+.3f}, {r['diff_ci'][1]:+.3f})"
        seeds = "—" if not r["seeds"] else f"{r['seeds']['mean']:.3f} ± {r['seeds']['std']:.3f}"
        speed = "—" if r["gen_chars_per_s"] is None else f"{r['gen_chars_per_s']:,.0f}"
        body.append(
            f"| {r['name']} | {_fmt_int(r['params'])} | {_fmt_int(r['train_chars'])} "
            f"| {r['train_time_s'] / 60:.1f} min | {r['device']} | {r['lr']:g} "
            f"| {r['test_bpc']:.3f} ({r['test_bpc_ci'][0]:.3f}, {r['test_bpc_ci'][1]:.3f}) | {diff} "
            f"| {seeds} | {speed} | {r['real_word_rate']:.1%} | {r['distinct_2']:.3f} "
            f"| {r['distinct_3']:.3f} | {r['repetition']:.3f} |")
    notes = (f"\nTest: {table['test_chars']:,} characters of the unseen test plays, read as "
             f"{table['test_streams']} contiguous streams with the state carried (evaluated in "
             f"{table['test_eval_time_s']:.0f} s for the five main rows). Intervals: 95% bootstrap over {table['bootstrap']['chunk_chars']:,}-"
             "character chunks; differences paired on the same chunks. Seeds: mean ± standard "
             "deviation of test BPC over seeds "
             f"{', '.join(map(str, table['budget']['seeds']))} at {_fmt_int(table['budget']['sweep_chars'])} "
             "training characters. Sample figures: seeded samples at temperature "
             f"{table['rows'][0]['sample_temperature']}. Learning rate chosen per row from "
             f"{', '.join(f'{lr:g}' for lr in table['budget']['lrs'])} on validation BPC.\n")
    return head + "\n".join(body) + "\n" + notes + "\n" + table["answer"] + "\n"


def plot_curves(curves: dict, path: Path) -> None:
    """Validation BPC against training characters, one line per row (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    colors = plt.get_cmap("tab10").colors  # colour-blind-distinguishable when paired with markers
    for (name, points), color, marker in zip(curves.items(), colors, "osD^vx", strict=False):
        xs, ys = zip(*points, strict=True)
        ax.plot(np.array(xs) / 1e6, ys, label=name, color=color, marker=marker, markersize=3)
    ax.set_xlabel("training characters (millions)")
    ax.set_ylabel("validation bits per character")
    ax.set_ylim(top=min(3.0, max(max(p[1] for p in pts) for pts in curves.values())))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
