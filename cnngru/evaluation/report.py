"""The results in words, in a table and in a figure: pure functions of ``results.json``'s data.

``cnngru reproduce`` measures; this module only formats what it measured, so the README, the
demo's Results tab and the tests all read the same sentences and numbers.
"""

from __future__ import annotations

from ..models import VARIANTS
from .intervals import holm
from .stability import RISE
from .study import REFERENCE
from .text_study import TIE_MARGIN


def verdict(delta: dict) -> str:
    """"helps", "hurts" or "ties": whether the interval of a difference from the GRU excludes 0."""
    return "helps" if delta["hi"] < 0 else "hurts" if delta["lo"] > 0 else "ties"


def scale_answer(table: dict) -> str:
    """The question answered in words, for each strategy at each finished scale."""
    scales = sorted(table["scales"], key=lambda s: s["params"])
    unfinished = [s["params"] for s in table.get("unfinished_scales", [])]
    partial = rows_so_far(table)
    compared = [s["params"] for s in scales] + [
        s["params"] for s in table.get("unfinished_scales", []) if s.get("rows_so_far")]
    note = ("\n\nA difference \"helps\" or \"hurts\" only when its 95% interval, which "
            f"includes training randomness ({len(table['method']['seeds'])} seeds), excludes zero; "
            "otherwise it ties.")
    if caveat := budget_caveat(table, sorted(compared)):
        note += " " + caveat
    if not scales:
        to_go = table.get("runs_to_go", table.get("runs_remaining", "?"))
        return ("**Not answered yet:** no scale of the study is finished (at least "
                f"{to_go} runs to go, {table.get('runs_remaining', '?')} of them known now; "
                "`cnngru reproduce --plan` lists what remains)."
                + (partial + note if partial else "") + previews_pointer(table))
    lines, helped = [], []
    for strategy in VARIANTS[1:]:
        parts = []
        for s in scales:
            row = next(r for r in s["rows"] if r["name"] == strategy)
            d = row["delta_vs_gru"]
            if verdict(d) == "helps":
                helped.append((strategy, s["params"]))
            parts.append(verdict_phrase(d, s["params"]))
        design = next(r for r in scales[-1]["rows"] if r["name"] == strategy)["design"]
        lines.append(f"- `{strategy}` ({design}): " + "; ".join(parts) + ".")
    for s in scales:
        ref = next((r for r in s["rows"] if r["name"] == REFERENCE), None)
        if ref:
            v = verdict(ref["delta_vs_gru"])
            side = {"helps": "better than", "hurts": "worse than", "ties": "level with"}[v]
            lines.append(f"- The transformer reference at {fmt_count(s['params'])} is {side} the "
                         f"GRU ({ref['delta_vs_gru']['mean']:+.3f} BPC).")
    where = ", ".join(fmt_count(s["params"]) for s in scales)
    so_far = " so far" if unfinished else ""  # another scale may still change the answer
    together = counted_together(scales)
    clear = [h for h in helped if together[h] < 0.05]
    alone = [h for h in helped if h not in clear]  # clear on their own intervals only
    own = "its own interval" if len(alone) == 1 else "their own intervals"
    if clear:
        head = (f"**Yes, in places{so_far}:** {_listed(clear)} beat the GRU baseline on the "
                f"unseen test plays (scales finished: {where})"
                + (f"; {_listed(alone)} did too on {own}, but not once all the comparisons "
                   "made are counted together (below)" if alone else "") + ".")
    elif alone:
        head = (f"**Not clearly{so_far}:** {_listed(alone)} beat the GRU baseline on the unseen "
                f"test plays (scales finished: {where}) on {own}, but not once all the "
                "comparisons made are counted together (below).")
    else:
        which = "the scales finished so far" if unfinished else "these scales"
        head = (f"**No, not at {which}:** no CNN strategy, in its strongest "
                f"design, beats the GRU baseline on the unseen test plays at {where} parameters.")
    if unfinished:
        note += (" Not finished yet: the " + ", ".join(fmt_count(p) for p in unfinished)
                 + " scale(s); the answer there is still open.")
    return (head + "\n\n" + "\n".join(lines) + together_sentence(scales, together) + partial
            + note + previews_pointer(table))


def _listed(cases: list[tuple[str, int]]) -> str:
    return ", ".join(f"`{v}` at {fmt_count(p)}" for v, p in cases)


def counted_together(scales: list[dict]) -> dict[tuple[str, int], float]:
    """Holm's adjusted p-value of each strategy's difference from the GRU at each finished
    scale, all of them taken as one family: (strategy, params) -> p."""
    compared = [(r["name"], s["params"], r["delta_vs_gru"]["p"])
                for s in scales for r in s["rows"] if r["name"] in VARIANTS[1:]]
    adjusted = holm([p for _, _, p in compared])
    return {(name, params): a for (name, params, _), a in zip(compared, adjusted, strict=True)}


def together_sentence(scales: list[dict], together: dict[tuple[str, int], float]) -> str:
    """Whether each "helps" and "hurts" stays clear once every comparison made is counted."""
    parts = []
    for s in scales:
        for r in s["rows"]:
            d = r["delta_vs_gru"] if r["name"] in VARIANTS[1:] else None
            if d and verdict(d) != "ties":
                a = together[(r["name"], s["params"])]
                parts.append(f"`{r['name']}` {verdict(d)} at {fmt_count(s['params'])} with "
                             f"{_p(d['p'])} ({_p(a)} adjusted): "
                             + ("still clear" if a < 0.05 else "no longer clear"))
    if not parts:
        return ""
    return (f"\n\nCounted together: the {len(together)} comparisons with the GRU at the scales "
            "finished so far, taken as one family with Holm's correction (5% family-wise error; "
            "an adjusted p can only rise as more scales finish): " + "; ".join(parts) + ".")


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def previews_pointer(table: dict) -> str:
    """Where the results preview a scale trained apart (``scale_previews``), outside the answer."""
    previews = table.get("scale_previews") or []
    if not previews:
        return ""
    which = ", ".join(f"{fmt_count(p['params'])} ({p['precision']})" for p in previews)
    return (f" A preview of the {which} scale(s), trained apart on a GPU, follows the main "
            "table; it is no part of this answer.")


def verdict_phrase(d: dict, params: int) -> str:
    return (f"{verdict(d)} at {fmt_count(params)} ({d['mean']:+.3f} BPC, 95% CI "
            f"{signed(d['lo'])} to {signed(d['hi'])})")


def rows_so_far(table: dict) -> str:
    """The strategies compared so far at scales not finished (their other rows still train)."""
    parts = [f"`{r['name']}` ({r['design']}) {verdict_phrase(r['delta_vs_gru'], s['params'])}"
             for s in sorted(table.get("unfinished_scales", []), key=lambda s: s["params"])
             for r in s.get("rows_so_far", []) if r["name"] in VARIANTS[1:]]
    if not parts:
        return ""
    return ("\n\nSo far, at scales not finished (rows with all their seeds, each against the "
            "GRU's): " + "; ".join(parts) + ".")


def last_doubling(ladder: dict) -> float | None:
    """Validation BPC the ladder's last doubling of characters gained (negative: it lost)."""
    rungs = ladder.get("rungs") or []
    return rungs[-2][1] - rungs[-1][1] if len(rungs) >= 2 else None


def budget_caveat(table: dict, params: list[int]) -> str:
    """What the comparison is not at the scales whose budget B did not converge (their ladder
    ended at its last rung still improving): there the rows are compared at B, short of it."""
    short = []
    for p in params:
        ladder = (table.get("convergence") or {}).get(str(p))
        if ladder and ladder.get("converged") is False:
            short.append((p, last_doubling(ladder), ladder["chars"]))
    if not short:
        return ""
    scales = _and([fmt_count(p) for p, _, _ in short])
    gains = _and([f"{g:.3f}" for _, g, _ in short if g is not None])
    budgets = _and([fmt_count(b) for _, _, b in short])
    return (f"The budget did not converge at {scales}: the GRU's last doubling of characters "
            f"still gained {gains} validation BPC there (the convergence rule asks for under "
            f"{table['method']['converged']}), so {'that scale compares' if len(short) == 1 else 'those scales compare'} "
            f"the strategies at {budgets} characters, short of convergence.")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def converged_cell(ladder: dict) -> str:
    """The convergence table's verdict on a ladder, with the last doubling's gain."""
    gain = last_doubling(ladder)
    if ladder["converged"] is None:
        return "not yet"
    if ladder["converged"] is False:
        return "no (last rung" + (f"; doubling gained {gain:.3f})" if gain is not None else ")")
    if gain is None:
        return "yes"
    return f"yes (2B worse by {-gain:.3f})" if gain < 0 else f"yes (2B gained {gain:.3f})"


def fmt_count(n: float) -> str:
    """A count of parameters or characters, short: 300k, 157.29M."""
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def signed(v: float) -> str:
    """A difference's bound with its sign: one more digit where three would show a bound that
    misses zero by a hair as ±0.000 (the verdict reads the unrounded one)."""
    return f"{v:+.4f}" if v != 0 and round(v, 3) == 0 else f"{v:+.3f}"


def _interval(lo: float, hi: float, differences: bool = False) -> str:
    if differences:
        return f"({signed(lo)}, {signed(hi)})"
    return f"({lo:.3f}, {hi:.3f})"


def _difference(d: dict) -> str:
    """A difference with its interval, as every table cell shows one."""
    return f"{d['mean']:+.3f}&nbsp;{_interval(d['lo'], d['hi'], True)}"


def study_markdown(table: dict) -> str:
    """results.md: the answer, the main table per scale, then the details a referee checks."""
    out = ["### The answer", "", table["answer"], ""]
    if table.get("selection_failed"):
        out += [f"*The selection of designs stopped: {table['selection_failed']}; it needs a look.*", ""]
    if table["scales"]:
        out += ["### Test BPC at each scale", "",
                *comparison_table([r for s in sorted(table["scales"], key=lambda s: s["params"])
                                   for r in s["rows"]]),
                "", method_paragraph(table["method"], table["scales"])]
    for s in table.get("unfinished_scales", []):
        done = [f"{s['seeds_done']} of {s['seeds_total']} seed runs done"] if "seeds_done" in s else []
        if s.get("runs_to_go"):
            done.append(f"at least {s['runs_to_go']} runs to go")
        done = f" ({'; '.join(done)})" if done else ""
        why = f" It stopped: {s['failed']}; it needs a look." if s.get("failed") else ""
        out.append(f"\n*The {fmt_count(s['params'])} scale is not finished{done}.{why}*")
        if s.get("rows_so_far"):
            out += ["", "The rows with all their seeds so far, compared as at a finished scale "
                    "(the scale's answer waits for the rest):", "", *comparison_table(s["rows_so_far"])]
    for preview in table.get("scale_previews", []):
        out += scale_preview_section(preview)
    out += finished_runs_table(table["scales"] + table.get("unfinished_scales", []))
    if table.get("candidates"):
        out += ["", f"### Candidate designs (validation BPC at {fmt_count(table['selection_params'])} "
                "parameters)", "",
                "| strategy | design | seed 0, best rate of one shared grid | at rate "
                "| other seeds, same rate | mean of the seeds | behind the selected (95% CI) |",
                "|---|---|---|---|---|---|---|"]
        for strategy, entries in table["candidates"].items():
            for e in entries:
                others, mean = seeds_cells(e)
                val = "unstable" if e["val_bpc"] is None else f"{e['val_bpc']:.3f}"
                out.append(f"| {strategy} | {e['design']} | {val} | {e['lr']:g} | {others} "
                           f"| {mean} | {behind_cell(e)} |")
        out.append("\n" + selection_paragraph(table["candidates"]))
    if table.get("checked_designs"):
        out += checked_designs_section(table["checked_designs"])
    if table.get("sweep"):
        out += ["", "### Learning rates (validation BPC at the sweep budget)", "",
                "| params | row | rate: validation BPC | chosen |", "|---:|---|---|---|"]
        for e in table["sweep"]:
            cells = ", ".join(f"{lr:g}:&nbsp;{v:.3f}" for lr, v in zip(e["grid"], e["val_bpc"], strict=True))
            out.append(f"| {fmt_count(e['params'])} | {e['row']} | {cells} | {e['chosen']:g} |")
        out.append(f"\nEach rate is one run (seed 0), so neighbours closer than {TIE_MARGIN} BPC "
                   "could swap places with another seed; the search at the full budget (below) "
                   "tries the rate again.")
    if table.get("convergence"):
        out += ["", "### The full budget: the GRU at B, 2B, ... (validation BPC)", "",
                "| params | rate | rungs: characters → validation BPC | B | converged |",
                "|---:|---:|---|---:|---|"]
        for params, c in table["convergence"].items():
            rungs = ", ".join(f"{fmt_count(ch)}:&nbsp;{v:.3f}" for ch, v in c["rungs"])
            ok = converged_cell(c)
            rate = f"{c['lr']:g}" if c.get("lr") else "—"
            b = "—" if c["chars"] is None else fmt_count(c["chars"])
            out.append(f"| {fmt_count(int(params))} | {rate} | {rungs} | {b} | {ok} |")
        out.append(f"\nB is the first rung that doubling improves by less than "
                   f"{table['method']['converged']} validation BPC; a worse next rung ends "
                   "the ladder too (more characters at the same rate did not help). A ladder "
                   "that reaches its last rung still improving takes that rung as B, marked not "
                   "converged, and its scale's answer says so.")
    if table.get("full_budget_rates"):
        out += ["", "### Learning rates at the full budget (seed 0, validation BPC at B)", "",
                "| params | row | sweep's rate | rate: validation BPC | kept |", "|---:|---|---:|---|---:|"]
        for e in table["full_budget_rates"]:
            cells = ", ".join(f"{lr:g}:&nbsp;{'unstable' if v is None else f'{v:.3f}'}"
                              for lr, v in zip(e["rates"], e["val_bpc"], strict=True))
            kept = "not yet" if e["chosen"] is None else f"{e['chosen']:g}"
            if e.get("seeds_lr") not in (None, e["chosen"]):
                kept += f" (seeds at {e['seeds_lr']:g}: a seed was unstable)"
            out.append(f"| {fmt_count(e['params'])} | {e['row']} | {e['sweep_choice']:g} "
                       f"| {cells or '—'} | {kept} |")
        out.append("\nFrom the sweep's rate down (the GRU's from below any rate its ladder found "
                   "unstable at B or less): a row goes to the next lower rate while that one does "
                   "better at B (or its rate is unstable), and keeps the best.")
    if table.get("unstable"):
        out += ["", "### Unstable runs", "",
                "A rate chosen from the short sweeps can be too high for a full-budget run. A run "
                f"whose validation rose more than {RISE} BPC above its best so far is stopped where "
                "that shows and counts as the worst at its rate (at the full budget its row's "
                "ladder, rate search or seeds went on at a lower rate); runs recorded before that "
                "check existed trained on further. Every such run recorded so far:", "",
                "| params | row | design | rate | planned characters | seed | validation rose to "
                "| best before | at characters | trained characters |",
                "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for u in table["unstable"]:
            rose = "NaN" if u["val_bpc"] is None else f"{u['val_bpc']:.3f}"
            best = "—" if u["best_val_bpc"] is None else f"{u['best_val_bpc']:.3f}"
            trained = fmt_count(u["trained_chars"]) if "trained_chars" in u else "—"
            out.append(f"| {fmt_count(u['params'])} | {u['row']} | {u['design'] or '—'} "
                       f"| {u['lr']:g} | {fmt_count(u['planned_chars'])} | {u['seed']} | {rose} "
                       f"| {best} | {fmt_count(u['chars'])} | {trained} |")
    if table.get("ranking"):
        out += ["", ranking_sentence(table["ranking"])]
    if table.get("rows") and table.get("rows_from"):
        out += ["", "### The shipped models", "", f"From {table['rows_from']}.", ""]
        out += shipped_table(table["rows"])
        if table.get("rows_answer"):
            out += ["", "That study's answer: " + table["rows_answer"]]
    return "\n".join(out) + "\n"


def scale_preview_section(p: dict) -> list[str]:
    """A scale the scale probe trained apart, in its own precision: rows compared as at a scale
    of the study, each strategy's verdict, the rates kept at B; beside the answer, never in it."""
    rows = p.get("rows") or p.get("rows_so_far") or []
    seeds = (f"all {len(p['finished_runs'])} seed runs" if p["complete"] else
             f"{p['seeds_done']} of {p['seeds_total']} seed runs so far" if "seeds_done" in p
             else "no seed runs yet")
    b = p.get("train_chars")
    budget = (f"B = {fmt_count(b)}{'' if p.get('converged') else ', not converged'}" if b
              else "B not known yet")
    where = f" on {rows[0]['device']}" if rows else ""
    out = ["", f"### A preview of the {fmt_count(p['params'])} scale, trained apart in {p['precision']}",
           "", f"The scale probe (`python -m cnngru.evaluation.scale_probe`) trained this scale's "
           f"runs apart from the study's, in {p['precision']}{where} ({seeds}; {budget}), on "
           "the designs the study selected"
           + (" (its sweeps are the selection's fp32 runs: they only choose where each row's "
              "search at B starts)" if p.get("sweeps_from_selection") else "")
           + ". They are no part of the answer above, which takes the study's fp32 runs only, "
           "and no row's runs at B mix the two."]
    if p.get("failed"):
        out.append(f"\nIt stopped: {p['failed']}; it needs a look.")
    if rows:
        if not p["complete"]:
            out += ["", "The rows with all their seeds so far, compared as at a finished scale "
                    "(the scale waits for the rest):"]
        out += ["", *comparison_table(rows), ""]
        out += [f"- `{r['name']}` ({r['design']}) {verdict_phrase(r['delta_vs_gru'], p['params'])}"
                for r in rows if r["name"] in VARIANTS[1:]]
    if p.get("rates"):
        kept = {e["row"]: "not yet" if e["chosen"] is None else f"{e['chosen']:g}" for e in p["rates"]}
        out += ["", "Rates: " + "; ".join(f"{e['row']} {e['sweep_choice']:g} at the sweep, "
                                          f"{kept[e['row']]} at B" for e in p["rates"]) + "."]
    if p.get("ranking"):
        out += ["", ranking_sentence(p["ranking"])]
    return out


def ranking_sentence(r: dict) -> str:
    """Whether the GRU's rates rank alike at the sweep budget and at the full one."""
    same = "the same" if r["same_order"] else "**not** the same"
    return (f"The GRU's rates {', '.join(f'{x:g}' for x in r['rates'])} rank {same} at the sweep "
            "budget (" + ", ".join(f"{v:.3f}" for v in r["sweep_val_bpc"]) + ") and at the full "
            "budget (" + ", ".join("unstable" if v is None else f"{v:.3f}"
                                  for v in r["full_val_bpc"]) + ").")


def method_paragraph(m: dict, scales: list[dict]) -> str:
    """How the main table's figures and intervals were made, and what the intervals miss."""
    n = len(m["seeds"])
    comparisons = sum(1 for s in scales for r in s["rows"] if r["name"] in VARIANTS[1:])
    chance = 1 - 0.95 ** comparisons
    return (f"Each row is the mean over seeds {', '.join(map(str, m['seeds']))}, each trained on "
            "the full budget of its scale with the row's own bracketed learning rate. Intervals: a "
            f"hierarchical paired bootstrap: each of the {m['resamples']:,} resamples draws seed "
            f"indices, then {m['chunk_chars']:,}-character chunks of the test plays, the same "
            "indices for a row and `gru` (seed i of two rows is a pair: both start from one random "
            "stream and read the same text in the same order), with each seed's offset from the "
            f"seeds' mean scaled by √({n}/{n - 1}) so that the draw keeps their variance. The "
            "draws give the standard error, and Student's t gives the width: its degrees of "
            f"freedom (Welch-Satterthwaite) fall towards {n - 1} where seeds differ more than the "
            "test chunks do, because a percentile interval over so few seeds lacks the long tails "
            "and would cover less than 95% (`results/interval-coverage.md` measures the coverage "
            "in studies simulated from the records). Training randomness (first weights, dropout) "
            f"is inside them. Each is 95% on its own: if all {comparisons} differences from `gru` "
            "were truly zero, at least one would still read \"helps\" or \"hurts\" with a "
            f"chance of up to about {chance:.0%} (less, as they share the GRU's runs), so the "
            "answer also counts them together: p-values from the same t, adjusted by Holm's "
            "step-down, which holds at 5% the chance that any difference truly zero reads "
            "\"helps\" or \"hurts\".")


def finished_runs_table(scales: list[dict]) -> list[str]:
    """Every full-budget seed run recorded so far, one a line: the figures behind a finished
    scale's means, and an unfinished scale's progress before it has any."""
    runs = [(s["params"], s.get("complete", False), r)
            for s in sorted(scales, key=lambda s: s["params"]) for r in s.get("finished_runs", ())]
    if not runs:
        return []
    out = ["", "### Seed runs", "",
           "| params | row | design | rate | seed | validation BPC | test BPC |",
           "|---:|---|---|---:|---:|---:|---:|"]
    for params, _, r in runs:
        out.append(f"| {fmt_count(params)} | {r['row']} | {r['design'] or '—'} | {r['lr']:g} "
                   f"| {r['seed']} | {r['val_bpc']:.3f} | {r['test_bpc']:.3f} |")
    out.append("\nEach line is one full-budget run, as its record in `results/runs/` gives it.")
    if any(complete for _, complete, _ in runs):
        out[-1] += " A finished scale's rows in the main table are the means of these runs."
    if not all(complete for _, complete, _ in runs):
        out[-1] += (" At a scale not finished, a row's mean, its interval and its difference from "
                    "`gru` come once it and the GRU have all their seeds: a row part-way would be "
                    "compared on other seeds than the GRU's.")
    return out


def shipped_table(rows: list[dict]) -> list[str]:
    """The shipped models' rows: test BPC, difference, generation speed, sample figures."""
    out = ["| model | params | train chars | test BPC (95% CI) | vs gru (95% CI) | gen chars/s "
           "| real words |", "|---|---:|---:|---|---|---:|---:|"]
    for r in rows:
        d = r.get("delta_vs_gru") or ({"mean": r["diff_vs_gru"], "lo": r["diff_ci"][0],
                                       "hi": r["diff_ci"][1]} if r.get("diff_vs_gru") is not None else None)
        vs = "—" if d is None else _difference(d)
        speed = f"{r['gen_chars_per_s']:,.0f}" if r.get("gen_chars_per_s") else "—"
        words = f"{r['real_word_rate']:.1%}" if r.get("real_word_rate") is not None else "—"
        out.append(f"| {r['name']} | {fmt_count(r['params'])} | {fmt_count(r['train_chars'])} "
                   f"| {r['test_bpc']:.3f}&nbsp;{_interval(*r['test_bpc_ci'])} | {vs} | {speed} "
                   f"| {words} |")
    return out


def comparison_table(rows: list[dict]) -> list[str]:
    """The main table's lines: each row's test BPC over its seeds and its difference from gru."""
    out = ["| strategy | design | params | rate | test BPC (95% CI) | vs gru (95% CI) |",
           "|---|---|---:|---:|---|---|"]
    for r in rows:
        d = r.get("delta_vs_gru")
        vs = "—" if d is None else _difference(d)
        rate = f"{r['lr']:g}" if "lr" in r else "—"  # the seeds' rate: unstable rates moved down
        out.append(f"| {r['name']} | {r['design'] or '—'} | {fmt_count(r['params'])} | {rate} "
                   f"| {r['test_bpc']:.3f}&nbsp;{_interval(*r['test_bpc_ci'])} | {vs} |")
    return out


def checked_designs_section(checks: list[dict]) -> list[str]:
    """Each checked design that lost the selection, at the full budget beside the selected one:
    whether the selection's short budget may have decided against it."""
    out = ["", "### Designs that lost the selection, at the full budget (seed 0)", "",
           "| strategy | design | params | characters | rate | validation BPC | test BPC |",
           "|---|---|---:|---:|---:|---:|---:|"]
    said = []
    for c in checks:
        for design, val, test, unstable in (
                (c["design"], c["val_bpc"], c["test_bpc"], c["unstable"]),
                (f"{c['selected_design']} (selected)", c["selected_val_bpc"],
                 c["selected_test_bpc"], False)):
            if unstable:
                figures = "unstable | —"
            elif val is None:
                figures = "not&nbsp;yet | not&nbsp;yet"
            else:
                figures = f"{val:.3f} | {test:.3f}"
            out.append(f"| {c['strategy']} | {design} | {fmt_count(c['params'])} "
                       f"| {fmt_count(c['chars'])} | {c['lr']:g} | {figures} |")
        said += [checked_verdict(c)] if c["unstable"] or c["val_bpc"] is not None else []
    ratio = checks[0]["chars"] / checks[0]["selection_chars"]
    out.append(f"\nThe selection trains each candidate on {fmt_count(checks[0]['selection_chars'])} "
               f"characters, {ratio:g} times fewer than the full budget, so a design whose case "
               "rests on long training (a long attention memory, say) could lose the selection "
               "for that reason alone. Each such design trains once more at the full budget and "
               "the rate the selected design kept there, beside the selected design's run at "
               "that rate (one seed each: the candidates' own seeds above show how far a seed "
               "can move a figure). "
               + ("At the full budget, " + "; ".join(said) + "." if said else "Not run yet."))
    return out


def checked_verdict(c: dict) -> str:
    """What one checked design's run at the full budget says, hedged as one seed must be."""
    if c["unstable"]:
        return (f"{c['design']} turned unstable at rate {c['lr']:g} (the selected design's; no "
                "lower rate is tried)")
    gap, selected = c["val_bpc"] - c["selected_val_bpc"], c["selected_design"]
    if round(gap, 3) > 0:
        return f"{c['design']} is behind {selected} by {gap:.3f} validation BPC"
    where = (f"level with {selected}" if round(gap, 3) == 0
             else f"ahead of {selected} by {-gap:.3f} validation BPC")
    return (f"{c['design']} is {where} on one seed: the short budget may have decided against "
            "it, and its seeds at the full budget would tell")


def seeds_cells(entry: dict) -> tuple[str, str]:
    """A candidate's other seeds at its best rate, and the mean of all its seeds (bold where it
    is selected): "—" where it has none (unstable at every rate), "not yet" while seeds are
    missing."""
    seeds = entry.get("seeds_val_bpc")
    if seeds is None:
        return "—", "—"
    shown = ["unstable" if k in entry["seeds_unstable"] else "not&nbsp;yet" if v is None
             else f"{v:.3f}" for k, v in zip(entry["seed_numbers"], seeds, strict=True)][1:]
    if set(shown) == {"not&nbsp;yet"}:
        shown = ["not&nbsp;yet"]
    mean = entry.get("mean_val_bpc")
    if mean is None:
        return ",&nbsp;".join(shown), "unstable" if entry["seeds_unstable"] else "not&nbsp;yet"
    return ",&nbsp;".join(shown), f"**{mean:.3f}**" if entry["selected"] else f"{mean:.3f}"


def behind_cell(entry: dict) -> str:
    """How far a candidate's mean trails the selected design's, with its interval; the selected
    design itself says so."""
    if entry["selected"]:
        return "**selected**"
    d = entry.get("vs_selected")
    return "" if d is None else _difference(d)


def selection_paragraph(candidates: dict[str, list[dict]]) -> str:
    """How the designs were selected, and which of the designs that lost are behind the
    selected one beyond training randomness and which within it."""
    numbers = next(e["seed_numbers"] for es in candidates.values() for e in es
                   if "seed_numbers" in e)
    n = len(numbers)
    others = ("seeds " if n > 2 else "seed ") + " and ".join(map(str, numbers[1:]))
    out = [f"Seed 0 trains each candidate at every rate of the grid; {others} then train at "
           f"its best rate; each strategy keeps the design whose {n} seeds have the best mean "
           "(seed 0 alone is biased low, its rate picked on it)."]
    behind = {s: [e for e in es if "vs_selected" in e] for s, es in candidates.items()}
    if any(behind.values()):
        out.append("The last column is each other design's mean minus the selected one's, with a "
                   "95% interval from the two designs' seeds (Welch's t: each design's own "
                   "spread, degrees of freedom by Welch-Satterthwaite; a little generous to the "
                   "selected design, the lowest of several noisy means).")
        clear, ties = [], {}
        for s, es in behind.items():
            if within := [e["design"] for e in es if e["vs_selected"]["lo"] <= 0]:
                ties[s] = within
            elif es:  # designs with an unstable seed have no mean, and no interval
                unstable = any(not e["selected"] and "vs_selected" not in e for e in candidates[s])
                clear.append(f"{s} (of the designs whose seeds were all stable)" if unstable else s)
        if clear:
            out.append(f"For {', '.join(clear)} the selected design is ahead of every other one "
                       "beyond training randomness.")
        if ties:
            out.append("Within training randomness of the selected design (the interval holds "
                       "zero: training randomness could reverse the means that decided): "
                       + "; ".join(f"{', '.join(ds)} for {s}" for s, ds in ties.items()) + ".")
    moved = {s: next(e["design"] for e in es if e["seed0_best"])
             for s, es in candidates.items() if any(e["selected"] and not e["seed0_best"] for e in es)}
    if moved:
        out.append("Seed 0 alone would have picked "
                   + ", ".join(f"{d} for {s}" for s, d in moved.items()) + ".")
    undecided = [s for s, es in candidates.items() if not any(e["selected"] for e in es)]
    waiting = [s for s in undecided if any(v is None and k not in e["seeds_unstable"]
                                           for e in candidates[s] if "seeds_val_bpc" in e
                                           for k, v in zip(e["seed_numbers"], e["seeds_val_bpc"],
                                                           strict=True))]
    if waiting:
        out.append(f"For {', '.join(waiting)} the seeds are not all in yet: no design is "
                   "selected, and every scale waits for it.")
    if stuck := [s for s in undecided if s not in waiting]:
        out.append(f"For {', '.join(stuck)} every candidate had an unstable seed: no design is "
                   "selected, and the study waits for a person to look.")
    return " ".join(out)
