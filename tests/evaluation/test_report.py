"""cnngru.evaluation.report on hand-made study tables: the verdicts, the answer, the tables."""


import pytest

from cnngru.evaluation.report import scale_answer, study_markdown, verdict


def delta(mean, lo, hi, p=None):
    """A difference from the GRU; its p-value, unless given, agrees with its interval."""
    return {"mean": mean, "lo": lo, "hi": hi, "p": p if p is not None else 0.001 if lo > 0 or hi < 0 else 0.5}


def scale(params, pre, post, hybrid, transformer=None):
    """A finished scale: gru and the three strategies, each a (mean, lo, hi) difference."""
    def row(name, d=None, design="x"):
        r = {"name": name, "design": design, "params": params, "lr": 0.01, "test_bpc": 2.0,
             "test_bpc_ci": [1.98, 2.02], "seeds": [2.0, 2.01, 1.99]}
        if d is not None:
            r["delta_vs_gru"] = delta(*d)
        return r
    rows = [row("gru"), row("cnn-pre", pre), row("cnn-post", post), row("hybrid", hybrid)]
    if transformer:
        rows.append(row("transformer", transformer, design=None))
    return {"params": params, "complete": True, "rows": rows}


def table(*scales, unfinished=()):
    return {"scales": list(scales), "unfinished_scales": [{"params": p} for p in unfinished],
            "runs_remaining": 7, "method": {"seeds": [0, 1, 2], "resamples": 2000,
                                            "chunk_chars": 2000, "converged": 0.01}}


TIE, BETTER, WORSE = (0.0, -0.02, 0.02), (-0.05, -0.07, -0.03), (0.04, 0.02, 0.06)


@pytest.mark.parametrize("d, word", [(BETTER, "helps"), (WORSE, "hurts"), (TIE, "ties"),
                                     ((-0.02, -0.04, 0.0), "ties"), ((0.02, 0.0, 0.04), "ties")])
def test_an_interval_that_touches_zero_is_a_tie(d, word):
    assert verdict(delta(*d)) == word


def test_each_strategy_gets_a_verdict_at_each_scale():
    text = scale_answer(table(scale(100_000, TIE, BETTER, WORSE), scale(300_000, WORSE, TIE, TIE)))
    lines = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("- `")}
    assert "ties at 100k (+0.000 BPC" in lines["cnn-pre"] and "hurts at 300k" in lines["cnn-pre"]
    assert "helps at 100k (-0.050 BPC, 95% CI -0.070 to -0.030)" in lines["cnn-post"]
    assert "hurts at 100k" in lines["hybrid"] and "ties at 300k" in lines["hybrid"]
    assert text.startswith("**Yes, in places:** `cnn-post` at 100k beat the GRU baseline")
    partial = scale_answer(table(scale(100_000, TIE, BETTER, WORSE), unfinished=[300_000]))
    assert partial.startswith("**Yes, in places so far:** `cnn-post` at 100k")


def test_a_bound_that_misses_zero_by_a_hair_shows_it_with_a_fourth_digit():
    text = scale_answer(table(scale(100_000, TIE, BETTER, (0.019, -0.00025, 0.034))))
    assert "ties at 100k (+0.019 BPC, 95% CI -0.0003 to +0.034)" in text
    md = study_markdown({**table(scale(100_000, TIE, BETTER, (0.019, -0.00025, 0.034))), "answer": "x"})
    assert "+0.019&nbsp;(-0.0003, +0.034)" in md and "(+0.000" not in md


def test_no_strategy_helping_at_any_scale_of_a_finished_study_is_a_plain_no():
    text = scale_answer(table(scale(100_000, TIE, WORSE, TIE), scale(300_000, TIE, TIE, TIE)))
    assert text.startswith("**No, not at these scales:**") and "Not finished yet" not in text


def test_no_strategy_helping_anywhere_is_no_and_unfinished_scales_are_named():
    text = scale_answer(table(scale(100_000, TIE, WORSE, TIE), unfinished=[1_000_000]))
    assert text.startswith("**No, not at the scales finished so far:**") and "at 100k parameters" in text
    assert "Not finished yet: the 1.00M scale(s)" in text


def test_nothing_finished_says_so_with_every_run_to_go_and_those_known_now():
    text = scale_answer({**table(), "runs_to_go": 30})
    assert text.startswith("**Not answered yet:**") and "at least 30 runs to go, 7 of them known now" in text


@pytest.mark.parametrize("d, side", [(BETTER, "better than"), (WORSE, "worse than"), (TIE, "level with")])
def test_the_transformer_reference_gets_its_own_line(d, side):
    text = scale_answer(table(scale(1_000_000, TIE, TIE, TIE, transformer=d)))
    assert f"The transformer reference at 1.00M is {side} the GRU" in text
    assert "transformer" not in text.split("\n\n")[0], "the headline is about the CNN strategies"


def test_the_main_table_has_one_line_per_row_and_no_cell_breaks_inside_a_number():
    t = table(scale(100_000, TIE, BETTER, WORSE))
    t["answer"] = scale_answer(t)
    md = study_markdown(t)
    lines = [line for line in md.split("## Test BPC at each scale")[1].splitlines() if line.startswith("|")]
    assert len(lines) == 2 + 4
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [c[0] for c in cells] == ["gru", "cnn-pre", "cnn-post", "hybrid"]
    assert cells[0][5] == "—" and cells[2][5] == "-0.050&nbsp;(-0.070, -0.030)"
    assert cells[1][4] == "2.000&nbsp;(1.980, 2.020)" and cells[1][3] == "0.01"
    assert "Intervals: a hierarchical paired bootstrap" in md and t["answer"] in md


def test_the_selection_paragraph_names_the_designs_within_training_randomness_of_the_selected():
    from cnngru.evaluation.report import selection_paragraph

    candidates = {"gru": [candidate("one", [2.30, 2.32, 2.28], selected=True, seed0_best=True),
                          candidate("two", [2.40, 2.42, 2.38], behind=(0.10, 0.05, 0.15))],
                  "hybrid": [candidate("a", [2.31, 2.33, 2.35], selected=True),
                             candidate("b", [2.30, 2.36, 2.36], seed0_best=True,
                                       behind=(0.01, -0.05, 0.07)),
                             candidate("c", [2.50, 2.52, 2.54], behind=(0.19, 0.14, 0.24))]}
    text = selection_paragraph(candidates)
    assert "with a 95% interval from the two designs' seeds (Welch's t" in text
    assert "For gru the selected design is ahead of every other one beyond training randomness." in text
    assert "could reverse the means that decided): b for hybrid." in text
    assert "Seed 0 alone would have picked b for hybrid." in text
    candidates["hybrid"][1]["vs_selected"]["lo"] = 0.001
    text = selection_paragraph(candidates)
    assert "For gru, hybrid the selected design is ahead" in text and "holds zero" not in text
    candidates["gru"].append(candidate("three", [2.30, 2.31, 2.29], unstable=[2]))  # no interval
    assert ("For gru (of the designs whose seeds were all stable), hybrid the selected design is "
            "ahead") in selection_paragraph(candidates)


def test_unstable_runs_and_the_ladders_rate_are_listed_and_an_unstable_rank_is_named():
    t = table(scale(100_000, TIE, TIE, TIE))
    t["convergence"] = {"100000": {"chars": 39_321_600, "rungs": [[19_660_800, 2.5], [39_321_600, 2.4], [78_643_200, 2.395]],
                                   "converged": True, "lr": 0.01, "unstable": ["run-a"]}}
    t["unstable"] = [{"params": 100_000, "row": "gru", "design": "one-layer", "lr": 0.02,
                      "planned_chars": 78_643_200, "seed": 0, "run": "run-a", "chars": 23_756_800,
                      "val_bpc": 8.086, "best_val_bpc": 2.398},
                     {"params": 100_000, "row": "cnn-pre", "design": "depthwise4", "lr": 0.02,
                      "planned_chars": 78_643_200, "seed": 1, "run": "run-b", "chars": 9_011_200,
                      "val_bpc": None, "best_val_bpc": 2.5, "trained_chars": 50_900_000}]
    t["ranking"] = {"rates": [0.005, 0.01, 0.02], "sweep_val_bpc": [2.5, 2.4, 2.45],
                    "full_val_bpc": [2.2, 2.1, None], "unstable": [0.02], "same_order": True}
    t["answer"] = scale_answer(t)
    md = study_markdown(t)
    assert "| 100k | 0.01 | 19.66M:&nbsp;2.500" in md
    assert "### Unstable runs" in md
    assert "| 100k | gru | one-layer | 0.02 | 78.64M | 0 | 8.086 | 2.398 | 23.76M | — |" in md
    assert "| 1 | NaN | 2.500 | 9.01M | 50.90M |" in md  # recorded before the check existed
    assert "(2.200, 2.100, unstable)" in md


def test_the_rates_tried_at_the_full_budget_are_listed_highest_first_with_the_one_kept():
    t = table(unfinished=(100_000,))
    t["full_budget_rates"] = [
        {"params": 100_000, "row": "gru", "design": "one-layer", "sweep_choice": 0.02,
         "chosen": 0.01, "rates": [0.02, 0.01, 0.005], "val_bpc": [None, 2.218, 2.231]},
        {"params": 100_000, "row": "hybrid", "design": "x", "sweep_choice": 0.02,
         "chosen": None, "rates": [], "val_bpc": []}]
    t["answer"] = scale_answer(t)
    md = study_markdown(t)
    assert "| 100k | gru | 0.02 | 0.02:&nbsp;unstable, 0.01:&nbsp;2.218, 0.005:&nbsp;2.231 | 0.01 |" in md
    assert "| 100k | hybrid | 0.02 | — | not yet |" in md


def test_a_scale_whose_budget_did_not_converge_says_so_in_the_answer_and_the_table():
    t = table(scale(100_000, TIE, TIE, TIE), scale(300_000, TIE, TIE, TIE))
    t["convergence"] = {
        "100000": {"chars": 39_321_600, "rungs": [[19_660_800, 2.5], [39_321_600, 2.4],
                                                  [78_643_200, 2.43]], "converged": True, "lr": 0.01},
        "300000": {"chars": 78_643_200, "rungs": [[39_321_600, 2.2], [78_643_200, 2.167]],
                   "converged": False, "lr": 0.005}}
    t["answer"] = text = scale_answer(t)
    assert ("The budget did not converge at 300k: the GRU's last doubling of characters still "
            "gained 0.033 validation BPC there (the convergence rule asks for under 0.01), so that "
            "scale compares the strategies at 78.64M characters, short of convergence.") in text
    assert "100k:" not in text and "converge at 100k" not in text  # converged: 2B was worse
    md = study_markdown(t)
    assert "| 100k | 0.01 | 19.66M:&nbsp;2.500, 39.32M:&nbsp;2.400, 78.64M:&nbsp;2.430 | 39.32M | yes (2B worse by 0.030) |" in md
    assert "| 78.64M | no (last rung; doubling gained 0.033) |" in md
    t["convergence"]["100000"] = {"chars": 39_321_600, "rungs": [[19_660_800, 2.45], [39_321_600, 2.4]],
                                  "converged": False, "lr": 0.01}
    both = scale_answer(t)
    assert "did not converge at 100k and 300k" in both and "gained 0.050 and 0.033 validation BPC there" in both
    assert "those scales compare the strategies at 39.32M and 78.64M characters" in both


def test_the_method_says_how_three_seeds_set_the_width_and_names_the_limit_of_many_intervals():
    md = study_markdown({**table(scale(100_000, TIE, TIE, TIE), scale(300_000, TIE, TIE, TIE)),
                         "answer": "x"})
    assert "the same indices for a row and `gru` (seed i of two rows is a pair" in md
    assert "each seed's offset from the seeds' mean scaled by √(3/2)" in md
    assert "Student's t gives the width" in md and "fall towards 2 where seeds differ more" in md
    assert "`results/interval-coverage.md` measures the coverage" in md
    assert "if all 6 differences from `gru` were truly zero" in md and "chance of up to about 26%" in md
    assert "hierarchical paired bootstrap" not in study_markdown({**table(), "answer": "x"})


def test_the_sweep_table_says_one_seed_decides_each_rate():
    t = {**table(), "answer": "x", "sweep": [{"params": 100_000, "row": "gru", "grid": [0.005, 0.01, 0.02],
                                             "val_bpc": [2.6, 2.5, 2.52], "chosen": 0.01}]}
    md = study_markdown(t)
    assert "| 100k | gru | 0.005:&nbsp;2.600, 0.01:&nbsp;2.500, 0.02:&nbsp;2.520 | 0.01 |" in md
    assert "Each rate is one run (seed 0), so neighbours closer than 0.05 BPC" in md


def test_an_unfinished_scale_says_how_far_it_got_and_how_much_is_left():
    t = {**table(), "answer": "x"}
    t["unfinished_scales"] = [{"params": 100_000, "seeds_done": 4, "seeds_total": 12, "runs_to_go": 8},
                              {"params": 300_000, "runs_to_go": 15}, {"params": 1_000_000}]
    md = study_markdown(t)
    assert "*The 100k scale is not finished (4 of 12 seed runs done; at least 8 runs to go).*" in md
    assert "*The 300k scale is not finished (at least 15 runs to go).*" in md
    assert "*The 1.00M scale is not finished.*" in md


def seed_run(row, seed, val, test, design="x"):
    return {"row": row, "design": design, "lr": 0.01, "seed": seed, "val_bpc": val,
            "test_bpc": test, "run": f"{row}-s{seed}"}


def test_an_unfinished_scale_lists_its_finished_seed_runs_one_a_line():
    t = {**table(), "answer": "x"}
    t["unfinished_scales"] = [
        {"params": 100_000, "seeds_done": 2, "seeds_total": 12, "finished_runs": [
            seed_run("gru", 1, 2.1931, 2.2603, "one-layer"),
            seed_run("cnn-pre", 0, 2.186, 2.25, "depthwise4")]},
        {"params": 300_000}]
    md = study_markdown(t)
    assert "### Seed runs" in md
    assert "| 100k | gru | one-layer | 0.01 | 1 | 2.193 | 2.260 |" in md
    assert "| 100k | cnn-pre | depthwise4 | 0.01 | 0 | 2.186 | 2.250 |" in md
    assert md.index("### Seed runs") > md.index("*The 300k scale is not finished")
    assert "come once it and the GRU have all their seeds" in md and "are the means of these" not in md


def test_a_finished_scale_keeps_its_seed_runs_in_sight_beside_an_unfinished_ones():
    done = scale(100_000, TIE, BETTER, WORSE)
    done["finished_runs"] = [seed_run("gru", s, 2.19 + s / 100, 2.25 + s / 100) for s in range(3)]
    t = {**table(done), "answer": "x"}
    t["unfinished_scales"] = [{"params": 300_000, "finished_runs": [seed_run("gru", 0, 2.02, 2.1)]}]
    md = study_markdown(t)
    lines = [line for line in md[md.index("### Seed runs"):].splitlines() if line.startswith("| ")]
    assert lines[1:] == ["| 100k | gru | x | 0.01 | 0 | 2.190 | 2.250 |",
                         "| 100k | gru | x | 0.01 | 1 | 2.200 | 2.260 |",
                         "| 100k | gru | x | 0.01 | 2 | 2.210 | 2.270 |",
                         "| 300k | gru | x | 0.01 | 0 | 2.020 | 2.100 |"]
    assert "are the means of these runs" in md and "come once it and the GRU" in md
    only_done = study_markdown({**table(done), "answer": "x"})
    assert "are the means of these runs" in only_done and "come once it and" not in only_done


def test_an_unfinished_scales_rows_so_far_are_compared_in_the_answer_and_a_table_of_their_own():
    partial = scale(100_000, TIE, BETTER, WORSE)
    rows = [r for r in partial["rows"] if r["name"] != "cnn-pre"]  # cnn-pre still trains
    t = {**table(unfinished=[300_000]), "runs_to_go": 9}
    t["unfinished_scales"].insert(0, {"params": 100_000, "seeds_done": 9, "seeds_total": 12,
                                      "rows_so_far": rows})
    text = scale_answer(t)
    assert text.startswith("**Not answered yet:**")
    assert ("So far, at scales not finished (rows with all their seeds, each against the GRU's): "
            "`cnn-post` (x) helps at 100k (-0.050 BPC, 95% CI -0.070 to -0.030); `hybrid` (x) "
            "hurts at 100k (+0.040 BPC, 95% CI +0.020 to +0.060).") in text
    assert text.index("+0.060).") < text.index("excludes zero; otherwise it ties.")
    t["convergence"] = {"100000": {"converged": False, "chars": 157_286_400,
                                   "rungs": [[78_643_200, 2.218], [157_286_400, 2.192]]}}
    assert scale_answer(t).endswith("The budget did not converge at 100k: the GRU's last doubling "
                                    "of characters still gained 0.026 validation BPC there (the "
                                    "convergence rule asks for under 0.01), so that scale compares "
                                    "the strategies at 157.29M characters, short of convergence.")
    del t["convergence"]
    md = study_markdown({**t, "answer": text})
    table_at = md.index("*The 100k scale is not finished (9 of 12 seed runs done).*")
    lines = [line for line in md[table_at:md.index("*The 300k scale")].splitlines()
             if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in lines[1:]] == ["| gru", "| cnn-post", "| hybrid"]
    assert lines[2].endswith("| -0.050&nbsp;(-0.070, -0.030) |")
    done = scale_answer({**table(scale(300_000, TIE, TIE, TIE)), "unfinished_scales": [
        {"params": 1_000_000, "rows_so_far": rows}]})
    assert done.startswith("**No, not at the scales finished so far:**")
    assert "`cnn-post` (x) helps at 1.00M" in done.split("So far, at scales not finished")[1]


def test_no_seed_run_finished_means_no_seed_runs_table():
    t = {**table(unfinished=[100_000, 300_000]), "answer": "x"}
    assert "Seed runs" not in study_markdown(t)


def candidate(design, seeds, selected=False, seed0_best=False, unstable=(), behind=None):
    """A candidate entry as ``write_up.candidate_entries`` makes it; ``behind``: its (mean, lo, hi)
    behind the selected design."""
    done = None not in seeds and not unstable
    entry = {"design": design, "val_bpc": seeds[0], "lr": 0.01, "selected": selected,
             "seed0_best": seed0_best, "seed_numbers": [0, 1, 2], "seeds_val_bpc": seeds,
             "seeds_unstable": list(unstable),
             "mean_val_bpc": sum(seeds) / len(seeds) if done else None}
    if behind:
        entry["vs_selected"] = delta(*behind)
    return entry


def test_the_candidates_table_shows_each_designs_seeds_and_the_selection_on_their_mean():
    t = {**table(), "answer": "x", "selection_params": 300_000, "candidates": {
        "gru": [candidate("one-layer", [2.36, 2.41, 2.42], seed0_best=True,
                          behind=(0.027, -0.031, 0.085)),
                candidate("two-layers", [2.38, 2.37, 2.36], selected=True)],
        "cnn-post": [candidate("rf15", [2.25, 2.26, 2.27], selected=True, seed0_best=True),
                     candidate("rf63", [2.26, 2.28, 2.29])],
        "hybrid": [candidate("window32", [2.33, None, None], seed0_best=True),
                   candidate("memory256", [2.36, None, None], unstable=[1])],
        "cnn-pre": [candidate("depthwise4", [2.39, None, 2.40], seed0_best=True, unstable=[1]),
                    candidate("ngram", [2.41, 2.42, 2.43], selected=True),
                    {"design": "wide", "val_bpc": None, "lr": 0.01, "selected": False,
                     "seed0_best": False}]}}
    md = study_markdown(t)
    assert ("| gru | one-layer | 2.360 | 0.01 | 2.410,&nbsp;2.420 | 2.397 "
            "| +0.027&nbsp;(-0.031, +0.085) |") in md
    assert "| gru | two-layers | 2.380 | 0.01 | 2.370,&nbsp;2.360 | **2.370** | **selected** |" in md
    assert "| cnn-post | rf63 | 2.260 | 0.01 | 2.280,&nbsp;2.290 | 2.277 |  |" in md  # no interval
    assert "| hybrid | window32 | 2.330 | 0.01 | not&nbsp;yet | not&nbsp;yet |  |" in md
    assert "| hybrid | memory256 | 2.360 | 0.01 | unstable,&nbsp;not&nbsp;yet | unstable |  |" in md
    assert "| cnn-pre | depthwise4 | 2.390 | 0.01 | unstable,&nbsp;2.400 | unstable |  |" in md
    assert "| cnn-pre | wide | unstable | 0.01 | — | — |  |" in md  # no seeds trained for it
    said = next(line for line in md.splitlines() if line.startswith("Seed 0 trains each"))
    assert "seeds 1 and 2 then train at its best rate" in said
    assert "Seed 0 alone would have picked one-layer for gru, depthwise4 for cnn-pre." in said
    assert said.endswith("For hybrid the seeds are not all in yet: no design is selected, and "
                         "every scale waits for it.")
    t["candidates"]["hybrid"] = [candidate("window32", [2.33, None, 2.34], unstable=[1]),
                                 candidate("memory256", [2.36, 2.35, None], unstable=[2])]
    said = next(line for line in study_markdown(t).splitlines() if line.startswith("Seed 0 trains"))
    assert said.endswith("For hybrid every candidate had an unstable seed: no design is "
                         "selected, and the study waits for a person to look.")


def check(design="cnn-memory256", val=None, test=None, selected_val=None, selected_test=None,
          unstable=False):
    """A checked design's entry as ``write_up.check_entries`` makes it, at 300k."""
    return {"strategy": "hybrid", "design": design, "params": 300_000, "lr": 0.01,
            "chars": 157_286_400, "selection_chars": 4_915_200, "val_bpc": val, "test_bpc": test,
            "unstable": unstable, "run": None, "selected_design": "cnn-window32",
            "selected_val_bpc": selected_val, "selected_test_bpc": selected_test}


def test_a_checked_design_is_shown_beside_the_selected_one_at_the_full_budget():
    t = {**table(), "answer": "x", "checked_designs": [check(val=2.05, test=2.10,
                                                             selected_val=2.02, selected_test=2.08)]}
    md = study_markdown(t)
    assert "### Designs that lost the selection, at the full budget (seed 0)" in md
    assert "| hybrid | cnn-memory256 | 300k | 157.29M | 0.01 | 2.050 | 2.100 |" in md
    assert "| hybrid | cnn-window32 (selected) | 300k | 157.29M | 0.01 | 2.020 | 2.080 |" in md
    said = next(line for line in md.splitlines() if line.startswith("The selection trains"))
    assert "on 4.92M characters, 32 times fewer than the full budget" in said
    assert said.endswith("At the full budget, cnn-memory256 is behind cnn-window32 by 0.030 "
                         "validation BPC.")
    t["checked_designs"] = [check(val=2.00, test=2.05, selected_val=2.02, selected_test=2.08)]
    assert ("cnn-memory256 is ahead of cnn-window32 by 0.020 validation BPC on one seed: the "
            "short budget may have decided against it, and its seeds at the full budget would "
            "tell.") in study_markdown(t)
    t["checked_designs"] = [check(val=2.0202, test=2.05, selected_val=2.02, selected_test=2.08)]
    assert "cnn-memory256 is level with cnn-window32 on one seed" in study_markdown(t)
    t["checked_designs"] = [check(unstable=True, selected_val=2.02, selected_test=2.08)]
    md = study_markdown(t)
    assert "| hybrid | cnn-memory256 | 300k | 157.29M | 0.01 | unstable | — |" in md
    assert ("At the full budget, cnn-memory256 turned unstable at rate 0.01 (the selected "
            "design's; no lower rate is tried).") in md
    t["checked_designs"] = [check(selected_val=2.02, selected_test=2.08)]
    md = study_markdown(t)
    assert "| hybrid | cnn-memory256 | 300k | 157.29M | 0.01 | not&nbsp;yet | not&nbsp;yet |" in md
    assert md.split("The selection trains")[1].split("\n")[0].endswith("Not run yet.")
    assert "Designs that lost the selection" not in study_markdown({**t, "checked_designs": []})


def test_the_answer_points_to_a_preview_trained_apart_and_keeps_it_out_of_its_verdicts():
    preview = {"params": 1_000_000, "precision": "bf16", "complete": True, "finished_runs": [],
               **{k: v for k, v in scale(1_000_000, BETTER, BETTER, BETTER).items() if k == "rows"}}
    done = table(scale(100_000, TIE, TIE, TIE), unfinished=[1_000_000])
    with_preview = scale_answer({**done, "scale_previews": [preview]})
    assert with_preview == scale_answer(done) + (
        " A preview of the 1.00M (bf16) scale(s), trained apart on a GPU, follows the main table; "
        "it is no part of this answer.")
    assert with_preview.startswith("**No, not at the scales finished so far:**")  # 1M's "helps" stays out
    nothing = scale_answer({**table(unfinished=[1_000_000]), "scale_previews": [preview]})
    assert nothing.startswith("**Not answered yet:**") and "A preview of the 1.00M (bf16)" in nothing


def test_a_help_that_is_clear_alone_but_not_counted_together_is_not_a_yes():
    """One "helps" at p = 0.02 among 3 comparisons: Holm multiplies it by 3, to 0.06, so the
    verdict stays in its line, and the head says it is not clear counted together."""
    text = scale_answer(table(scale(100_000, (-0.03, -0.05, -0.005, 0.02), TIE, TIE)))
    assert text.startswith("**Not clearly:** `cnn-pre` at 100k beat the GRU baseline on the "
                           "unseen test plays (scales finished: 100k) on its own interval, but "
                           "not once all the comparisons made are counted together (below).")
    assert "- `cnn-pre` (x): helps at 100k (-0.030 BPC" in text
    assert ("Counted together: the 3 comparisons with the GRU at the scales finished so far, "
            "taken as one family with Holm's correction (5% family-wise error; an adjusted p can "
            "only rise as more scales finish): `cnn-pre` helps at 100k with p = 0.020 "
            "(p = 0.060 adjusted): no longer clear.") in text
    partial = scale_answer(table(scale(100_000, (-0.03, -0.05, -0.005, 0.02), TIE, TIE),
                                 unfinished=[300_000]))
    assert partial.startswith("**Not clearly so far:** `cnn-pre` at 100k")


def test_the_head_names_the_helps_that_stay_clear_and_then_those_clear_only_alone():
    text = scale_answer(table(scale(100_000, (-0.05, -0.07, -0.03, 0.0001), (-0.03, -0.05, -0.01, 0.03),
                                    TIE)))
    assert text.startswith("**Yes, in places:** `cnn-pre` at 100k beat the GRU baseline on the "
                           "unseen test plays (scales finished: 100k); `cnn-post` at 100k did "
                           "too on its own interval, but not once all the comparisons made are "
                           "counted together (below).")
    assert "`cnn-pre` helps at 100k with p < 0.001 (p < 0.001 adjusted): still clear" in text
    assert "`cnn-post` helps at 100k with p = 0.030 (p = 0.060 adjusted): no longer clear" in text


def test_a_clear_difference_counted_together_stays_clear_and_ties_are_not_listed():
    text = scale_answer(table(scale(100_000, (-0.05, -0.07, -0.03, 0.001), TIE, WORSE),
                              scale(300_000, TIE, TIE, (0.02, 0.001, 0.04, 0.03))))
    assert text.startswith("**Yes, in places:** `cnn-pre` at 100k beat the GRU baseline on the "
                           "unseen test plays (scales finished: 100k, 300k).")
    together = text.split("Counted together: the 6 comparisons", 1)[1].split("\n")[0]
    assert "`cnn-pre` helps at 100k with p = 0.001 (p = 0.006 adjusted): still clear" in together
    assert "`hybrid` hurts at 100k with p = 0.001 (p = 0.006 adjusted): still clear" in together
    assert "`hybrid` hurts at 300k with p = 0.030 (p = 0.120 adjusted): no longer clear" in together
    assert "cnn-post" not in together  # ties are not listed
    assert "Counted together" not in scale_answer(table(scale(100_000, TIE, TIE, TIE)))
