"""Unstable runs: found on their curves, stopped while training, and moved to a lower rate by the
study (hand-made records), with real tiny runs for the stopping."""

import json
import math

import pytest

from cnngru.evaluation.reproduce import smoke_corpus, train_and_record
from cnngru.evaluation.run_records import Records, code_version
from cnngru.evaluation.stability import RISE, climb, is_unstable, lower_rate
from cnngru.evaluation.study import CPU, SMOKE, Row, Study
from cnngru.training import train


def law(best_lr):
    """Validation BPC of a run: a bowl in log(lr) around ``best_lr``, lower with more characters."""
    return lambda c: 2.0 + 0.1 * math.log2(c.lr / best_lr) ** 2 + 1.0 / math.log2(c.max_chars)


def test_a_curve_that_only_falls_or_wobbles_has_no_climb():
    assert climb([[1, 3.0], [2, 2.5], [3, 2.6], [4, 2.4]]) is None
    assert climb([[1, 2.5], [2, 2.5 + RISE]]) is None  # exactly RISE above: still stable


def test_a_climb_is_where_validation_first_rises_past_the_margin_above_its_best_so_far():
    curve = [[10, 3.0], [20, 2.4], [30, 2.6], [40, 2.7], [50, 7.4], [60, 2.5]]
    assert climb(curve) == {"chars": 40, "val_bpc": 2.7, "best_val_bpc": 2.4}
    assert climb([[10, 3.0], [20, math.nan]]) == {"chars": 20, "val_bpc": None,
                                                  "best_val_bpc": 3.0}


def test_a_record_is_unstable_when_it_was_stopped_so_or_finished_after_a_climb():
    assert is_unstable({"unstable": {"chars": 1}, "curve": []})
    assert is_unstable({"val_bpc": 2.4, "curve": [[1, 2.4], [2, 8.0], [3, 2.5]]})
    assert not is_unstable({"val_bpc": 2.4, "curve": [[1, 2.5], [2, 2.4]]})
    assert not is_unstable(None)


def test_the_next_lower_rate_is_the_grids_else_half():
    assert lower_rate(2e-2, [5e-3, 1e-2, 2e-2, 4e-2]) == 1e-2
    assert lower_rate(5e-3, [5e-3, 1e-2]) == 2.5e-3


class Unstable:
    """Records from ``law``, where runs longer than the sweeps at ``lr >= top`` are unstable."""

    def __init__(self, top: float, sweep_chars: dict[int, int], ladder_only: bool = False):
        self.val, self.top, self.sweep_chars, self.ladder_only = law(best_lr=2e-2), top, sweep_chars, ladder_only

    def __call__(self, config):
        long = config.max_chars > self.sweep_chars[config.params]
        shaky = long and config.lr >= self.top and (config.variant == "gru" or not self.ladder_only)
        if shaky:
            return {"unstable": {"chars": 1, "val_bpc": 9.0, "best_val_bpc": 2.0}, "curve": []}
        return {"val_bpc": self.val(config), "curve": [[1, self.val(config)]]}


def test_rows_whose_full_budget_runs_are_unstable_train_at_the_next_lower_rate():
    sweeps = {s.params: s.sweep_chars for s in CPU.scales}
    study = Study(CPU, "shakespeare", Unstable(top=2e-2, sweep_chars=sweeps))
    needed, decided = study.walk()
    assert needed == []
    for here in decided["scales"].values():
        assert all(lr == 2e-2 for lr in here["lrs"].values())  # what the short sweeps chose
        assert here["budget"]["lr"] == 1e-2  # the ladder came down as a whole
        assert {c.lr for cs in here["seeds"].values() for c in cs} == {1e-2}
        rows = {row.variant for row in here["rows"]}
        assert {c.variant for c in here["unstable"]} == rows
        assert all(c.lr == 2e-2 for c in here["unstable"])


def test_an_unstable_ladder_does_not_move_the_other_rows():
    sweeps = {s.params: s.sweep_chars for s in CPU.scales}
    study = Study(CPU, "shakespeare", Unstable(top=2e-2, sweep_chars=sweeps, ladder_only=True))
    _, decided = study.walk()
    here = decided["scales"][300_000]
    by_row = {row.variant: {c.lr for c in cs} for row, cs in here["seeds"].items()}
    assert by_row["gru"] == {1e-2} and by_row["cnn-pre"] == {2e-2}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("stability")
    corpus = smoke_corpus(root)
    study = Study(SMOKE, corpus, lambda c: None)

    def config(lr):
        return study.config(Row("gru", "one-layer"), 40_000, lr, 60 * 8 * 32)
    return root, config, Records(root / "records", code_version(), "data", "fp32")  # this code's


def test_a_run_that_blows_up_is_stopped_at_the_climb_and_recorded_unstable(tiny):
    root, config, records = tiny
    run = config(1.0)  # far too high: validation climbs from its first checks
    record = train_and_record(run, root / "blows-up", records, None, 1, keep=None)
    assert record["unstable"]["val_bpc"] > record["unstable"]["best_val_bpc"] + RISE
    assert record["train"]["steps"] < run.steps  # stopped, not trained to the end
    assert "test_bpc" not in record and is_unstable(record)
    assert json.loads((root / "records" / f"{records.name(run)}.json").read_text()) == record
    assert not (root / "blows-up").exists()  # nothing kept of it


def test_a_checked_run_trains_exactly_as_an_unchecked_one(tiny):
    """The checks run the trainer a validation at a time: the same losses as one go."""
    root, config, records = tiny
    run = config(2e-3)
    record = train_and_record(run, root / "checked", records, None, 1, keep=root / "kept")
    train(config(2e-3), root / "plain", progress=False)

    def losses(folder):
        return [(r["step"], r.get("loss"), r.get("val_bpc"))
                for r in map(json.loads, (folder / "log.jsonl").read_text().splitlines())]
    assert losses(root / "kept") == losses(root / "plain")
    assert not (root / "checked").exists() and (root / "kept" / "best").is_dir()
    assert "unstable" not in record and record["train"]["steps"] == run.steps


def test_a_ladder_that_restarts_lower_reports_its_unstable_rung_before_it_has_a_budget():
    first = CPU.scale(100_000).full_chars
    sweeps = {s.params: s.sweep_chars for s in CPU.scales}
    stable = Unstable(top=1.0, sweep_chars=sweeps)  # nothing unstable...

    def records(c):
        if c.variant == "gru" and c.params == 100_000 and c.max_chars > sweeps[100_000]:
            if c.lr == 2e-2 and c.max_chars == 8 * first:  # ...but the top rung at 2e-2
                return {"unstable": {"chars": 1, "val_bpc": 8.1, "best_val_bpc": 2.4}, "curve": []}
            if c.lr == 1e-2:  # the ladder at the lower rate has not started
                return None
        return stable(c)
    needed, decided = Study(CPU, "shakespeare", records).walk()
    here = decided["scales"][100_000]
    assert "budget" not in here and "seeds" not in here
    assert here["ladder"]["chars"] is None and here["ladder"]["lr"] == 1e-2
    assert [(c.lr, c.max_chars) for c in here["unstable"]] == [(2e-2, 8 * first)]
    assert any(c.params == 100_000 and c.lr == 1e-2 and c.max_chars == first for c in needed)


def test_the_study_log_names_an_unstable_run_even_one_that_went_to_nan():
    from cnngru.evaluation.reproduce import run_line

    train = {"chars": 9_011_200, "time": 612.4}
    line = run_line({"name": "r", "train": train,
                     "unstable": {"chars": 9_011_200, "val_bpc": None, "best_val_bpc": 2.3954}})
    assert line == "  r: unstable, stopped: validation NaN at 9,011,200 chars, best 2.395 " \
                   "(9,011,200 chars in 612 s)"
    assert run_line({"name": "r", "train": train, "val_bpc": 2.1, "test_bpc": 2.2}) == \
        "  r: val 2.1000, test 2.2000 (9,011,200 chars in 612 s)"


def test_the_write_up_lists_every_unstable_record_of_this_code_even_outside_the_walk(tmp_path):
    """A run recorded unstable at a budget the study has since left still shows; a stable run,
    or one of other code, does not."""
    from cnngru.evaluation.write_up import unstable_entries

    study = Study(CPU, "shakespeare", lambda c: None)
    row = Row("cnn-pre", "depthwise4")
    shaky, calm = (study.config(row, 300_000, lr, 78_643_200) for lr in (2e-2, 1e-2))
    rise = {"chars": 9_011_200, "val_bpc": 4.884, "best_val_bpc": 2.395}
    ours, other = (Records(tmp_path, code, "data", "fp32") for code in ("code", "older"))  # one folder
    ours.write(shaky, {"unstable": rise, "curve": [[1, 2.395], [2, 4.884]],
                       "train": {"chars": 9_011_200}})
    ours.write(calm, {"val_bpc": 2.3, "curve": [[1, 2.4], [2, 2.3]], "train": {"chars": 78_643_200}})
    other.write(study.config(row, 100_000, 2e-2, 78_643_200), {"unstable": rise, "curve": []})
    # recorded before runs were stopped at the climb: it trained on to its end
    ours.write(study.config(row, 300_000, 2e-2, 78_643_200, seed=1),
               {"val_bpc": 2.9, "curve": [[1, 2.395], [9_011_200, 4.884], [78_643_200, 2.9]],
                "train": {"chars": 78_643_200}})
    stopped, trained_on = unstable_entries(Records(tmp_path, "code", "data", "fp32"))
    assert stopped | {"run": None} == {"params": 300_000, "row": "cnn-pre", "design": "depthwise4",
                                       "lr": 2e-2, "planned_chars": 78_643_200, "seed": 0,
                                       "run": None, **rise, "trained_chars": 9_011_200}
    assert trained_on["seed"] == 1 and trained_on["chars"] == 9_011_200
    assert trained_on["trained_chars"] == 78_643_200


def test_a_study_where_every_long_run_is_unstable_stops_each_scale_at_the_floor():
    """Rates go down at most FLOOR times below the grid's lowest; past that the scale stops,
    says why, and asks for nothing more (it does not halve the rate forever)."""
    sweeps = {s.params: s.sweep_chars for s in CPU.scales}
    needed, decided = Study(CPU, "shakespeare", Unstable(top=0.0, sweep_chars=sweeps)).walk()
    assert needed == []
    for here in decided["scales"].values():
        assert "every rate" in here["failed"] and "seeds" not in here


def test_seeds_moved_below_the_kept_rate_are_reported_with_their_rate():
    """Seed 1 of cnn-pre is unstable at the rate its seed 0 won at: all its seeds train lower,
    and the rate table says so."""
    from cnngru.evaluation.report import study_markdown
    from cnngru.evaluation.write_up import full_budget_rate_entries

    sweeps = {s.params: s.sweep_chars for s in CPU.scales}
    stable = Unstable(top=1.0, sweep_chars=sweeps)

    def records(c):
        if c.variant == "cnn-pre" and c.seed == 1 and c.lr == 2e-2 and c.max_chars > sweeps[c.params]:
            return {"unstable": {"chars": 1, "val_bpc": 9.0, "best_val_bpc": 2.0}, "curve": []}
        return stable(c)
    _, decided = Study(CPU, "shakespeare", records).walk()
    here = decided["scales"][100_000]
    rates = {row.variant: r for row, r in here["rates"].items()}
    assert rates["cnn-pre"]["lr"] == 2e-2 and rates["cnn-pre"]["seeds_lr"] == 1e-2
    assert {c.lr for row, cs in here["seeds"].items() if row.variant == "cnn-pre" for c in cs} == {1e-2}
    entries = full_budget_rate_entries(decided)
    md = study_markdown({"scales": [], "answer": "", "method": {"seeds": [0, 1, 2], "resamples": 1,
                                                                "chunk_chars": 1},
                         "full_budget_rates": entries})
    assert "| 0.02 (seeds at 0.01: a seed was unstable) |" in md


def test_a_plan_past_an_unstable_rate_counts_the_comparison_below_it():
    """The sweep's 1e-2 is unstable at B and nothing lower has run: the plan asks for seed 0 at
    5e-3 and at 2.5e-3 at once, not for seeds at 5e-3 as if it had already won."""
    full = CPU.scale(100_000).full_chars

    def records(c):
        if c.variant == "cnn-pre" and c.params == 100_000 and c.max_chars >= full and c.lr <= 1e-2:
            if c.lr == 1e-2:
                return {"unstable": {"chars": 1, "val_bpc": 9.0, "best_val_bpc": 2.0}, "curve": []}
            return None
        return {"val_bpc": law(best_lr=1e-2)(c), "curve": []}
    plan, _ = Study(CPU, "shakespeare", records).walk(assume=True)
    first, _ = Study(CPU, "shakespeare", records).walk()
    mine = lambda cs: sorted((c.lr, c.seed) for c in cs  # noqa: E731
                             if c.variant == "cnn-pre" and c.params == 100_000)
    assert mine(first) == [(2.5e-3, 0), (5e-3, 0)]
    assert mine(plan) == [(2.5e-3, 0), (5e-3, 0), (5e-3, 1), (5e-3, 2)]


def test_the_grus_rate_search_starts_at_its_ladders_rate():
    """The ladder found 2e-2 unstable on a rung up to B: the search at B does not try it again."""
    sweeps = {s.params: s.sweep_chars for s in CPU.scales}
    study = Study(CPU, "shakespeare", Unstable(top=2e-2, sweep_chars=sweeps, ladder_only=True))
    needed, decided = study.walk()
    assert needed == []
    for here in decided["scales"].values():
        rates = {row.variant: r for row, r in here["rates"].items()}
        assert here["lrs"][here["rows"][0]] == 2e-2 and here["budget"]["lr"] == 1e-2
        assert max(rates["gru"]["tried"]) == 1e-2 and max(rates["cnn-pre"]["tried"]) == 2e-2


def test_a_rate_unstable_only_past_b_is_still_tried_at_b():
    """The ladder's 2B rung was unstable at 2e-2 and the ladder went lower, but B itself was
    stable at 2e-2: the GRU's search at B starts at 2e-2 again."""
    sweeps = {s.params: s.sweep_chars for s in CPU.scales}
    stable = Unstable(top=1.0, sweep_chars=sweeps)
    first = CPU.scale(300_000).full_chars

    def records(c):
        if c.variant == "gru" and c.params == 300_000 and c.max_chars > sweeps[300_000]:
            if c.lr == 2e-2 and c.max_chars >= 4 * first:  # unstable from the third rung up
                return {"unstable": {"chars": 1, "val_bpc": 9.0, "best_val_bpc": 2.0}, "curve": []}
            if c.lr == 1e-2:  # at the lower rate, doubling past 2 * first stops helping
                return {"val_bpc": 2.0 + (0.1 if c.max_chars < 2 * first else 0.0), "curve": []}
        return stable(c)
    _, decided = Study(CPU, "shakespeare", records).walk()
    here = decided["scales"][300_000]
    assert here["budget"]["lr"] == 1e-2 and here["budget"]["chars"] == 2 * first
    gru = {row.variant: r for row, r in here["rates"].items()}["gru"]
    assert max(gru["tried"]) == 2e-2  # stable at B = 2 * first, unstable only at 4 * first


def test_a_plan_expects_a_restarted_ladder_to_climb_as_far_as_the_higher_rate_did():
    """The 4th rung was unstable at 2e-2, and only the first rung has run at 1e-2: the plan
    counts the lower ladder up to that 4th rung, and the seeds at the 3rd (not at the 1st)."""
    first = CPU.scale(100_000).full_chars
    sweeps = {s.params: s.sweep_chars for s in CPU.scales}
    stable = Unstable(top=1.0, sweep_chars=sweeps)

    def records(c):
        if c.variant == "gru" and c.params == 100_000 and c.max_chars > sweeps[100_000]:
            if c.lr == 2e-2:
                return stable(c) if c.max_chars < 8 * first else {
                    "unstable": {"chars": 1, "val_bpc": 9.0, "best_val_bpc": 2.0}, "curve": []}
            if c.lr == 1e-2:
                return stable(c) if c.max_chars == first else None
        return stable(c) if c.max_chars <= sweeps[c.params] else None
    plan, _ = Study(CPU, "shakespeare", records).walk(assume=True)
    ladder = sorted(c.max_chars for c in plan if c.variant == "gru" and c.params == 100_000
                    and c.lr == 1e-2 and c.seed == 0)
    assert ladder == [2 * first, 4 * first, 8 * first]
    assert {c.max_chars for c in plan if c.params == 100_000 and c.seed == 2} == {4 * first}


def test_a_worker_whose_code_changed_since_the_study_began_refuses_to_train(tiny):
    """The study's workers import the files as they are when each starts: a run must not be
    recorded as the version the study began with if the code changed meanwhile."""
    root, config, _ = tiny
    records = Records(root / "records", "0" * 12, "data", "fp32")
    with pytest.raises(RuntimeError, match="the code changed while the study ran"):
        train_and_record(config(2e-3), root / "changed", records, None, 1, keep=None)
    assert not (root / "changed").exists()
