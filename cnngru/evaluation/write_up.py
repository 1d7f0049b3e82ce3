"""The study's results from its records: ``results.json``, ``results.md`` and the README block,
written whatever stage the study has reached (an unfinished scale says so), and ``scaling.png``
once a scale is finished.

``results.json`` holds:
    candidates  per strategy: every design's validation BPC per rate on the shared grid (seed 0)
                and whether it led there; each design's seeds at its best rate and their mean;
                the selected one (the best mean), and each other one's mean minus the selected
                one's with a Welch 95% interval (``vs_selected``)
    sweep       per scale and row: the grid, each rate's validation BPC, the chosen rate
    convergence per scale: the GRU's validation BPC at B, 2B, ... and the budget B chosen
    full_budget_rates  per scale and row: seed 0's validation BPC at B for each rate tried
                (None: unstable), the rate kept (None while the search goes on) and the seeds'
                rate (lower where a seed was unstable at the kept one)
    scales      per finished scale: each row's mean test BPC over seeds, the seeds, and its
                difference from ``gru`` with a hierarchical paired bootstrap interval,
                and each seed run's figures (``finished_runs``)
    unfinished_scales  per scale not finished: how many seed runs are done and to go, each
                finished seed run's figures (``finished_runs``) and, once the GRU has all its
                seeds, the rows that have all theirs, compared as above (``rows_so_far``)
    ranking     the GRU's rates at the sweep budget and at the full one (reference scale)
    scale_previews  per scale the scale probe trained apart (bf16 on a GPU): its rows compared
                as a scale's are, its rates at B and ranking check; never part of the answer
    checked_designs  each checked design that lost the selection, seed 0 at the selection
                scale's full budget, beside the selected design's run at the same rate
    rows        the reference scale's rows (the shipped models), which the demo reads
    curves      validation curves: seed 0 of each row at the largest finished scale, else the
                shipped models' (``curves_from`` says which)
    answer      the question answered in words, per strategy and scale
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from ..models import VARIANTS
from ..paths import RESULTS_DIR
from .intervals import RESAMPLES, hierarchical_bpc, hierarchical_paired_difference, welch_difference
from .ladder_probe import write_report
from .lr_bracket import best_rate
from .readme_blocks import write_block
from .report import fmt_count, scale_answer, study_markdown
from .scale_probe import probe_reader, probed_scales, probed_study
from .scaling_figure import plot_scaling
from .scoring import CHUNK, chunk_sums
from .stability import climb, is_unstable
from .study import BASELINE, Row, Study

SCALING_ALT = "test BPC against parameters per strategy, and the difference from the GRU with its interval"


def readme_links(md: str) -> str:
    """``results.md`` as the README shows it: its images sit beside it, in ``results/``."""
    return md.replace("](scaling.png)", "](results/scaling.png)")


def chunk_counts(test_chars: int) -> np.ndarray:
    return chunk_sums(np.zeros(test_chars))[1]


def describe_scale(study, params: int, decided: dict) -> dict:
    """A scale's entry: complete once every row has all its seeds recorded."""
    here = decided["scales"].get(params, {})
    entry = {"params": params, "complete": False}
    if "failed" in here:
        entry["failed"] = here["failed"]
    if "budget" in here:
        entry["train_chars"] = here["budget"]["chars"]
    seeds = here.get("seeds")
    if not seeds:
        return entry
    records = {row: [study.record_of(c) for c in configs] for row, configs in seeds.items()}
    entry["finished_runs"] = [{"row": row.name, "design": row.design, "lr": c.lr, "seed": c.seed,
                               "val_bpc": r["val_bpc"], "test_bpc": r["test_bpc"], "run": r["name"]}
                              for row, rs in records.items()
                              for c, r in zip(seeds[row], rs, strict=True) if r is not None]
    done = {row: rs for row, rs in records.items() if all(r is not None for r in rs)}
    base = next((row for row in done if row.variant == BASELINE), None)
    if len(done) < len(here["rows"]):
        entry["seeds_done"] = len(entry["finished_runs"])
        entry["seeds_total"] = len(here["rows"]) * len(study.budget.seeds)
        if base is not None and len(done) > 1:  # rows paired with all the GRU's seeds
            entry["rows_so_far"] = compared_rows(done, base)
        return entry
    entry.update(complete=True, rows=compared_rows(records, base),
                 test_chars=int(chunk_counts(records[base][0]["test_chars"]).sum()))
    return entry


def compared_rows(records: dict, base) -> list[dict]:
    """Each row's mean test BPC over its seeds with an interval, and its difference from
    ``base`` (the GRU) with a hierarchical paired interval: ``records`` holds every seed's
    record of every row given."""
    counts = chunk_counts(records[base][0]["test_chars"])
    sums = {row: np.array([r["test_chunk_nats"] for r in rs]) for row, rs in records.items()}
    rows = []
    for row, rs in records.items():
        bpc = hierarchical_bpc(sums[row], counts)
        out = {"name": row.name, "design": row.design,
               "params": int(np.mean([r["train"]["params"] for r in rs])),
               "lr": rs[0]["config"]["lr"], "train_chars": rs[0]["train"]["chars"],
               "val_bpc": float(np.mean([r["val_bpc"] for r in rs])),
               "test_bpc": bpc.mean, "test_bpc_ci": [bpc.lo, bpc.hi],
               "seeds": [r["test_bpc"] for r in rs], "seed_runs": [r["name"] for r in rs],
               "train_time_s": float(np.mean([r["train"]["time"] for r in rs])),
               "device": rs[0]["train"]["device"], "precision": rs[0]["precision"]}
        if row != base:
            d = hierarchical_paired_difference(sums[row], sums[base], counts)
            out["delta_vs_gru"] = {"mean": d.mean, "lo": d.lo, "hi": d.hi, "p": d.p, "df": d.df}
        rows.append(out)
    return rows


def sweep_entries(decided: dict) -> list[dict]:
    out = []
    for params, here in decided["scales"].items():
        for row, scores in (here.get("sweeps") or {}).items():
            grid = sorted(scores)
            out.append({"params": params, "row": row.name, "design": row.design, "grid": grid,
                        "val_bpc": [scores[lr] for lr in grid], "chosen": best_rate(scores)})
    return out


def full_budget_rate_entries(decided: dict) -> list[dict]:
    """Each row's rates tried at the full budget, highest first, and the one it kept."""
    out = []
    for params, here in decided["scales"].items():
        for row, rates in (here.get("rates") or {}).items():
            tried = sorted(rates["tried"].items(), reverse=True)
            out.append({"params": params, "row": row.name, "design": row.design,
                        "sweep_choice": here["lrs"][row], "chosen": rates["lr"],
                        "seeds_lr": rates.get("seeds_lr"),
                        "rates": [lr for lr, _ in tried],
                        "val_bpc": [v if math.isfinite(v) else None for _, v in tried]})
    return out


def finite(v: float | None) -> float | None:
    """A validation BPC as JSON can hold it: None for an unstable run's infinity."""
    return v if v is not None and math.isfinite(v) else None


def candidate_entries(selection: dict | None) -> dict:
    """Each strategy's candidates: seed 0's grid (None: unstable) and best rate; every seed's
    validation BPC at that rate (``seeds_val_bpc``, None where not recorded yet or unstable,
    and the unstable ones in ``seeds_unstable``; no seeds at all for a candidate unstable at
    every rate); their mean once all are in and stable; whether seed 0 alone led
    (``seed0_best``) and whether it is selected (its strategy's best mean); once one is, each
    other candidate's mean minus the selected one's, with a 95% interval from both designs'
    seeds (``vs_selected``)."""
    if selection is None:
        return {}
    out = {}
    for strategy, designs in selection["scores"].items():
        out[strategy] = []
        for d, scores in designs.items():
            entry = {"design": d, "val_bpc": finite(min(scores.values())), "lr": best_rate(scores),
                     "grid": {f"{lr:g}": finite(v) for lr, v in sorted(scores.items())},
                     "seed0_best": d == selection["leader"][strategy],
                     "selected": d == selection["selected"][strategy]}
            vals = selection["seeds"][strategy][d]
            if vals is not None:
                numbers = selection["seed_numbers"]
                entry["seed_numbers"] = numbers
                entry["seeds_val_bpc"] = [finite(v) for v in vals]
                entry["seeds_unstable"] = [k for k, v in zip(numbers, vals, strict=True)
                                           if v == math.inf]
                entry["mean_val_bpc"] = selection["means"][strategy].get(d)
            out[strategy].append(entry)
        chosen = next((e for e in out[strategy] if e["selected"]), None)
        for e in out[strategy]:
            if (chosen and e is not chosen and e.get("mean_val_bpc") is not None
                    and len(e["seeds_val_bpc"]) > 1):  # a spread needs two seeds
                mean, lo, hi = welch_difference(e["seeds_val_bpc"], chosen["seeds_val_bpc"])
                e["vs_selected"] = {"mean": mean, "lo": lo, "hi": hi}
    return out


def ranking_entry(study, decided: dict) -> dict | None:
    """The GRU's rates around the chosen one, ranked at the sweep budget and at the full one."""
    here = decided["scales"].get(study.budget.reference_params, {})
    runs = here.get("ranking")
    if not runs or any(study.record_of(c) is None for c in runs):
        return None
    sweep = next(s for row, s in here["sweeps"].items() if row.variant == BASELINE)
    rates = [c.lr for c in runs]
    full = {c.lr: study.val(c) for c in runs}  # infinite: unstable at the full budget
    by = lambda scores: sorted(rates, key=lambda lr: scores[lr])  # noqa: E731
    return {"rates": rates, "sweep_val_bpc": [sweep[lr] for lr in rates],
            "full_val_bpc": [full[lr] if full[lr] < float("inf") else None for lr in rates],
            "unstable": [lr for lr in rates if full[lr] == float("inf")],
            "same_order": by(sweep) == by(full)}


def check_entries(study, decided: dict) -> list[dict]:
    """Each checked design that lost the selection, at the full budget, beside the selected
    design's seed 0 at the same rate and budget (its rate search's run): validation and test
    BPC, None while a run is not recorded (and the checked one's None too if it was unstable)."""
    here = decided["scales"].get(study.budget.selection_params, {})
    selected = decided["selection"]["selected"] if decided.get("selection") else {}
    out = []
    for row, config in (here.get("checks") or {}).items():
        mine = study.record_of(config)
        theirs = study.record_of(study.config(Row(row.variant, selected[row.variant]),
                                              config.params, config.lr, config.max_chars))
        stable = mine is not None and not is_unstable(mine)
        theirs = theirs if theirs is not None and not is_unstable(theirs) else None
        out.append({"strategy": row.variant, "design": row.design, "params": config.params,
                    "lr": config.lr, "chars": config.max_chars,
                    "selection_chars": study.budget.scale(config.params).sweep_chars,
                    "val_bpc": mine["val_bpc"] if stable else None,
                    "test_bpc": mine["test_bpc"] if stable else None,
                    "unstable": mine is not None and not stable,
                    "run": mine["name"] if mine else None,
                    "selected_design": selected[row.variant],
                    "selected_val_bpc": theirs["val_bpc"] if theirs else None,
                    "selected_test_bpc": theirs["test_bpc"] if theirs else None})
    return out


def scale_preview(budget, corpus: str, params: int, fp32, probe) -> dict:
    """A scale as the scale probe trained it, apart from the study: ``describe_scale``'s entry
    with the probe's runs alone at that scale, its precision, the rates it kept at B and the
    ranking check (``scale_probe``)."""
    _, decided = probed_study(budget, corpus, params, fp32, probe).walk()
    reading = Study(budget, corpus, probe_reader(budget, params, fp32, probe))
    here = decided["scales"].get(params, {})
    return {**describe_scale(reading, params, decided), "precision": probe.precision,
            "sweeps_from_selection": params == budget.selection_params,
            "converged": here.get("budget", {}).get("converged"),
            "rates": [e for e in full_budget_rate_entries(decided) if e["params"] == params],
            "ranking": ranking_entry(reading, decided) if params == budget.reference_params else None}


def unstable_entries(records) -> list[dict]:
    """Every recorded run stopped (or finished) unstable, wherever the study has got to (a
    ladder that grew can leave runs at the old budget outside its decisions): where each one's
    validation climbed."""
    out = []
    for record in records.all():
        if is_unstable(record):
            c = record["config"]
            rise = record.get("unstable") or climb(record["curve"])
            out.append({"params": c["params"], "row": c["variant"], "design": c["design"],
                        "lr": c["lr"], "planned_chars": c["max_chars"], "seed": c["seed"],
                        "run": record["name"], **rise, "trained_chars": record["train"]["chars"]})
    return sorted(out, key=lambda u: (u["params"], u["row"], -u["lr"], u["planned_chars"], u["seed"]))


def results_of(reproduction) -> dict:
    """Everything the records decided, as ``results.json``'s sections."""
    study = reproduction.study
    remaining, decided = study.walk()
    b = study.budget
    scales = [describe_scale(study, s.params, decided) for s in b.scales]
    at_least, assumed = study.walk(assume=True)  # every run still to train, as far as known
    checks = [c for here in assumed["scales"].values() for c in here.get("checks", {}).values()]
    for s in scales:  # a scale's answer waits for its rows' runs, not for a check
        if not s["complete"]:
            s["runs_to_go"] = sum(c.params == s["params"] and c not in checks for c in at_least)
    probe = reproduction.probe()  # runs trained apart, in bf16 on a GPU (``scale_probe``)
    convergence = {str(p): {**here["ladder"], "unstable": [study.record_of(c)["name"] for c in
                                                             here["ladder"]["unstable"]]}
                   for p, here in decided["scales"].items() if "ladder" in here}
    table = {
        "candidates": candidate_entries(decided["selection"]),
        "selection_failed": decided.get("failed"),
        "selection_params": b.selection_params,
        "sweep": sweep_entries(decided),
        "convergence": convergence,
        "full_budget_rates": full_budget_rate_entries(decided),
        "scales": [s for s in scales if s["complete"]],
        "unfinished_scales": [s for s in scales if not s["complete"]],
        "ranking": ranking_entry(study, decided),
        "checked_designs": check_entries(study, decided),
        "unstable": unstable_entries(reproduction.records),
        "scale_previews": [scale_preview(b, reproduction.corpus, params, reproduction.records, probe)
                           for params in probed_scales(probe)],
        "runs_remaining": len(remaining),
        "runs_to_go": len(at_least),
        "method": {"seeds": list(b.seeds), "chunk_chars": CHUNK, "resamples": RESAMPLES,
                   "interval": "95%: the standard error from a hierarchical paired bootstrap "
                               "(seeds, offsets reflated, then chunks), the width from Student's "
                               "t with Welch-Satterthwaite degrees of freedom",
                   "converged": b.converged, "grid": list(b.grid), "seq_len": b.seq_len,
                   "corpus": reproduction.corpus},
    }
    table["answer"] = scale_answer(table)
    if table["scales"]:  # the largest finished scale's training curves, seed 0 of each row
        last = max(table["scales"], key=lambda s: s["params"])
        seed0 = decided["scales"][last["params"]]["seeds"]
        table["curves"] = {row.name: study.record_of(configs[0])["curve"] for row, configs in seed0.items()}
        table["curves_from"] = f"seed 0 of each row at {fmt_count(last['params'])} parameters"
    return table


def shipped_curves(shipped: Path, names: list[str]) -> dict:
    """The validation curves of the shipped models ``names``, from their training logs."""
    from ..training.snapshots import validations

    return {name: validations(shipped / name) for name in names
            if (shipped / name / "log.jsonl").is_file()}


def unkept(where, reference: dict) -> list[str]:
    """The reference scale's seed-0 runs that have no kept model to ship."""
    return [name for name in (row["seed_runs"][0] for row in reference["rows"])
            if not (where.kept / name / "best").is_dir()]


def ship_and_measure(reproduction, reference: dict) -> list[dict]:
    """Ship each row's seed-0 model of the reference scale from the kept runs, and let go of the
    kept runs that no row ships; add each model's generation figures."""
    from .. import checkpoint
    from ..corpus import load_corpus
    from ..training import ship
    from .measures import generation_speed, sample_stats

    where = reproduction.where
    shipping = [where.kept / row["seed_runs"][0] for row in reference["rows"]]
    for run in where.kept.iterdir():  # recorded, unshipped; not a copy under way (".name.tmp")
        if run.is_dir() and run not in shipping and reproduction.records.holds(run.name):
            shutil.rmtree(run)
    corpus = load_corpus(reproduction.corpus)
    rows = []
    for row, run in zip(reference["rows"], shipping, strict=True):
        ship(run, where.shipped / row["name"])
        bundle = checkpoint.load(where.shipped / row["name"], device="cpu")
        stats = sample_stats(bundle, corpus.words(), samples=4)
        rows.append({**row, "gen_chars_per_s": generation_speed(bundle) if row["name"] in VARIANTS else None,
                     **{k: stats[k] for k in ("real_word_rate", "distinct_2", "distinct_3", "repetition")},
                     "sample_temperature": stats["temperature"]})
    (where.shipped / "words.txt").write_text("\n".join(sorted(corpus.words())) + "\n")
    return rows


def train_or_reuse_refiner_and_measure(reproduction) -> dict:
    """Train the refiner (unless the shipped one has this recipe) and measure it with the
    shipped language models."""
    from .. import checkpoint
    from ..corpus import load_corpus
    from ..refiner.metrics import measure_refiner as measure
    from ..refiner.train import train_refiner

    recipe = {**reproduction.budget.refiner, "corpus": reproduction.corpus}
    dest = reproduction.where.shipped / "refiner"
    try:
        shipped = json.loads((dest / checkpoint.META).read_text())["metadata"]["train_config"]
    except (OSError, KeyError, ValueError):
        shipped = None
    if shipped is None or any(shipped.get(k) != v for k, v in recipe.items()):
        reproduction.log("training the refiner")
        train_refiner(reproduction.where.runs / "refiner", device=reproduction.device, ship=dest,
                      progress=False, **recipe)
    else:
        reproduction.log("the shipped refiner has this recipe: reused")
    corpus = load_corpus(reproduction.corpus)
    lms = {v: checkpoint.load(reproduction.where.shipped / v, device="cpu") for v in VARIANTS}
    return measure(checkpoint.load(dest, device="cpu"), lms, corpus.words(), heldout=corpus.test,
                   heldout_chars=reproduction.budget.refiner_heldout_chars, samples=4)


def write_up(reproduction) -> dict:
    """Write results.json, results.md (and the README block for ``results/``) and scaling.png.

    Once the reference scale is finished, its seed-0 models are shipped first and the refiner
    measured with them (trained first if the shipped one has another recipe); until then the
    shipped models' rows are the previous study's."""
    folder = reproduction.where.results
    folder.mkdir(parents=True, exist_ok=True)
    table = results_of(reproduction)
    previous = {}
    if (folder / "results.json").is_file():
        previous = json.loads((folder / "results.json").read_text())
    reference = next((s for s in table["scales"]
                      if s["params"] == reproduction.budget.reference_params), None)
    missing = [] if reference is None else unkept(reproduction.where, reference)
    if missing:
        reproduction.log(f"No kept model in {reproduction.where.kept} for {', '.join(missing)}, "
                         "so the shipped models stay as they were: these runs were recorded "
                         f"without their models. Delete their records in {reproduction.where.records} "
                         "and run `cnngru reproduce` to train them again.")
    if reference is not None and not missing:
        table["rows"] = ship_and_measure(reproduction, reference)
        table["rows_from"] = (f"this study's {reference['params'] // 1000}k scale, seed 0 of each "
                              "row (the test BPC columns are the means over seeds)")
        table["refiner"] = train_or_reuse_refiner_and_measure(reproduction)
    elif previous.get("rows"):  # the shipped models stay as they are until then
        for key in ("rows", "rows_from", "rows_answer"):
            if key in previous:
                table[key] = previous[key]
    if "refiner" in previous and "refiner" not in table:
        table["refiner"] = previous["refiner"]
    if "curves" not in table and table.get("rows"):  # no scale finished: the shipped models'
        table["curves"] = shipped_curves(reproduction.where.shipped, [r["name"] for r in table["rows"]])
        table["curves_from"] = "the shipped models"
    # strict JSON (no Infinity or NaN), as a browser's JSON.parse reads it
    (folder / "results.json").write_text(json.dumps(table, indent=1, allow_nan=False))
    md = study_markdown(table)
    if table.get("refiner"):
        from ..refiner.metrics import markdown

        md += "\n### The refiner (post-processing CNN)\n\n" + markdown(table["refiner"]) + "\n"
    if plot_scaling(table, folder / "scaling.png"):
        md += f"\n![{SCALING_ALT}](scaling.png)\n"
    (folder / "results.md").write_text(md)
    if folder.resolve() == RESULTS_DIR.resolve():
        write_block("results", readme_links(md))
    write_report(folder)  # the GPU probe's table beside the fp32 runs it predicts
    return table
