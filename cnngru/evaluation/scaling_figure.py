"""``results/scaling.png``: test BPC against parameters for each strategy, and each strategy's
difference from the GRU with its interval, from ``results.json``'s finished scales."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MARKERS = "osD^v"
DODGE = 0.04  # relative x offset between neighbouring rows, so their intervals do not overlap
MARGIN = 1.6  # the x axis reaches this factor beyond the smallest and largest scale


def plot_scaling(table: dict, path: Path) -> bool:
    """Draw the figure if at least one scale is finished (needs matplotlib); True if drawn.
    Otherwise remove the figure there: one drawn from an earlier answer no longer holds."""
    scales = sorted(table["scales"], key=lambda s: s["params"])
    if not scales:
        path.unlink(missing_ok=True)
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in scales[-1]["rows"]]
    colors = plt.get_cmap("tab10").colors
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for k, name in enumerate(names):
        points = [(s["params"], r) for s in scales for r in s["rows"] if r["name"] == name]
        dodge = 1 + DODGE * (k - (len(names) - 1) / 2)  # rows side by side at each scale
        x = np.array([p for p, _ in points], dtype=float) * dodge
        y = np.array([r["test_bpc"] for _, r in points])
        err = np.array([[r["test_bpc"] - r["test_bpc_ci"][0], r["test_bpc_ci"][1] - r["test_bpc"]]
                        for _, r in points]).T
        style = dict(color=colors[k], marker=MARKERS[k % len(MARKERS)], capsize=3, label=name)
        left.errorbar(x, y, yerr=err, **style)
        deltas = [(p, r["delta_vs_gru"]) for p, r in points if r.get("delta_vs_gru")]
        if deltas:
            dx = np.array([p for p, _ in deltas], dtype=float) * dodge
            dy = np.array([d["mean"] for _, d in deltas])
            derr = np.array([[d["mean"] - d["lo"], d["hi"] - d["mean"]] for _, d in deltas]).T
            right.errorbar(dx, dy, yerr=derr, **style)
    ticks = [s["params"] for s in scales]
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlim(ticks[0] / MARGIN, ticks[-1] * MARGIN)  # one scale alone keeps its width
        ax.set_xticks(ticks, [f"{p / 1e6:g}M" if p >= 1e6 else f"{p / 1e3:g}k" for p in ticks])
        ax.minorticks_off()
        ax.set_xlabel("parameters")
        ax.grid(alpha=0.3)
    seeds = len(scales[-1]["rows"][0]["seeds"])
    left.set_ylabel(f"test bits per character (mean of {seeds} seeds)")
    right.set_ylabel("difference from gru (BPC; below 0: better)")
    right.axhline(0, color="black", linewidth=0.8)
    left.set_title("Test BPC, 95% interval over seeds and chunks")
    right.set_title("Difference from the GRU, paired 95% interval")
    # One legend for both panels, below them, where it covers no interval.
    fig.legend(*left.get_legend_handles_labels(), loc="lower center", ncol=len(names), frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return True
