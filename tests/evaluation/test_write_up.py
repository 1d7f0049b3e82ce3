"""cnngru.evaluation.write_up on a study of hand-made records: the seed runs a scale reports."""

import json
import math

import pytest
from test_study import law  # the study tests' made-up law of validation BPC

from cnngru.evaluation.intervals import welch_difference
from cnngru.evaluation.study import CPU, Study
from cnngru.evaluation.write_up import candidate_entries, describe_scale


class Records:
    """Records for every run but the seeds above 0 of the strategies other than the GRU."""

    def __init__(self, val):
        self.val = val

    def __call__(self, config):
        if config.variant != "gru" and config.seed > 0 and config.max_chars >= CPU.scale(config.params).full_chars:
            return None
        v = self.val(config)
        return {"val_bpc": v, "test_bpc": v + 0.05, "name": f"{config.variant}-s{config.seed}"}


def test_an_unfinished_scale_reports_each_finished_seed_run_with_its_rate_and_figures():
    study = Study(CPU, "shakespeare", Records(law()))
    _, decided = study.walk()
    entry = describe_scale(study, 100_000, decided)
    assert not entry["complete"] and (entry["seeds_done"], entry["seeds_total"]) == (6, 12)
    runs = {(r["row"], r["seed"]): r for r in entry["finished_runs"]}
    assert sorted(runs) == [("cnn-post", 0), ("cnn-pre", 0), ("gru", 0), ("gru", 1), ("gru", 2), ("hybrid", 0)]
    gru1 = runs[("gru", 1)]
    assert gru1["run"] == "gru-s1" and gru1["lr"] == 1e-2
    assert gru1["test_bpc"] == gru1["val_bpc"] + 0.05 > 2.0


class FullRecords(Records):
    """A record for every run, with the test figures a finished scale's intervals need."""

    def __call__(self, config):
        v = self.val(config)
        return {"val_bpc": v, "test_bpc": v + 0.05, "name": f"{config.variant}-s{config.seed}",
                "test_chars": 10_000, "test_chunk_nats": [2_000 * (v + 0.05) * math.log(2)] * 5,
                "config": {"lr": config.lr}, "precision": "fp32",
                "train": {"params": config.params, "chars": config.max_chars, "time": 1.0,
                          "device": "cpu"}}


def test_a_finished_scale_keeps_the_seed_runs_behind_its_means():
    study = Study(CPU, "shakespeare", FullRecords(law()))
    _, decided = study.walk()
    entry = describe_scale(study, 100_000, decided)
    assert entry["complete"] and "seeds_done" not in entry
    runs = {(r["row"], r["seed"]): r for r in entry["finished_runs"]}
    assert len(runs) == 12
    for row in entry["rows"]:
        seeds = [runs[(row["name"], s)]["test_bpc"] for s in range(3)]
        assert seeds == row["seeds"] and row["test_bpc"] == pytest.approx(sum(seeds) / 3)


def test_each_candidate_carries_its_seeds_and_their_mean_and_the_best_mean_is_selected():
    """Seed 0 favours one-layer by 0.01; two-layers' other seeds are 0.05 better: the entries
    mark one-layer as seed 0's leader and two-layers as selected."""
    base = law()
    study = Study(CPU, "shakespeare", FullRecords(lambda c: base(c) + (
        (0.01 if c.seed == 0 else -0.05) if c.design == "two-layers" else 0.0)))
    _, decided = study.walk()
    entries = candidate_entries(decided["selection"])["gru"]
    one, two = (next(e for e in entries if e["design"] == d) for d in ("one-layer", "two-layers"))
    assert one["seeds_val_bpc"][0] == one["val_bpc"] and len(one["seeds_val_bpc"]) == 3
    assert one["mean_val_bpc"] == pytest.approx(sum(one["seeds_val_bpc"]) / 3)
    assert one["seed0_best"] and not one["selected"]
    assert two["selected"] and not two["seed0_best"]
    assert sum(e["selected"] for e in entries) == 1
    assert "vs_selected" not in two  # the others are measured against it
    mean, lo, hi = welch_difference(one["seeds_val_bpc"], two["seeds_val_bpc"])
    assert one["vs_selected"] == {"mean": mean, "lo": lo, "hi": hi}
    assert mean == pytest.approx(one["mean_val_bpc"] - two["mean_val_bpc"]) and lo < mean < hi


def test_an_unstable_candidate_is_written_as_json_can_hold_it():
    """No Infinity in results.json: an unstable run's score is None, and a candidate unstable
    at every rate trains no other seeds."""
    unstable = {"val_bpc": 9.0, "unstable": {"chars": 1, "val_bpc": None, "best_val_bpc": None}}
    law_ = law()
    study = Study(CPU, "shakespeare", lambda c: unstable if c.design == "cnn-window32" else {
        "val_bpc": law_(c)})
    _, decided = study.walk()
    entries = candidate_entries(decided["selection"])["hybrid"]
    window32 = next(e for e in entries if e["design"] == "cnn-window32")
    assert window32["val_bpc"] is None and set(window32["grid"].values()) == {None}
    assert "seeds_val_bpc" not in window32
    json.dumps(entries, allow_nan=False)


def test_a_scale_with_a_row_still_sweeping_shows_the_other_rows_seed_runs_and_is_unfinished():
    sweep = CPU.scale(100_000).sweep_chars
    full = FullRecords(law())
    study = Study(CPU, "shakespeare", lambda c: None if (
        c.variant == "cnn-pre" and c.params == 100_000 and c.max_chars == sweep and c.lr == 1e-2
    ) else full(c))
    _, decided = study.walk()
    entry = describe_scale(study, 100_000, decided)
    assert not entry["complete"] and (entry["seeds_done"], entry["seeds_total"]) == (9, 12)
    assert {r["row"] for r in entry["finished_runs"]} == {"gru", "cnn-post", "hybrid"}
    so_far = {r["name"]: r for r in entry["rows_so_far"]}  # paired with all the GRU's seeds
    assert list(so_far) == ["gru", "cnn-post", "hybrid"] and "delta_vs_gru" not in so_far["gru"]
    finished = describe_scale(Study(CPU, "shakespeare", full), 100_000,
                              Study(CPU, "shakespeare", full).walk()[1])
    assert [r for r in finished["rows"] if r["name"] != "cnn-pre"] == entry["rows_so_far"]


def test_a_checked_design_is_written_beside_the_selected_designs_run_at_its_rate_and_budget():
    from cnngru.evaluation.write_up import check_entries

    base = law()
    gap = lambda c: 0.05 if c.design == "cnn-memory256" else 0.0  # noqa: E731
    study = Study(CPU, "shakespeare", FullRecords(lambda c: base(c) + gap(c)))
    _, decided = study.walk()
    [entry] = check_entries(study, decided)
    here = decided["scales"][CPU.selection_params]
    [config] = here["checks"].values()
    mine = study.record_of(config)
    assert entry["design"] == "cnn-memory256" and entry["selected_design"] == "cnn-window32"
    assert (entry["lr"], entry["chars"]) == (config.lr, here["budget"]["chars"])
    assert (entry["val_bpc"], entry["test_bpc"], entry["unstable"]) == (
        mine["val_bpc"], mine["test_bpc"], False)
    assert entry["val_bpc"] - entry["selected_val_bpc"] == pytest.approx(0.05)
    json.dumps(entry, allow_nan=False)
    unrecorded = Study(CPU, "shakespeare", lambda c: None if c == config else study.record_of(c))
    [entry] = check_entries(unrecorded, unrecorded.walk()[1])
    assert entry["val_bpc"] is None and not entry["unstable"] and entry["selected_val_bpc"]
    climbed = {"chars": 1, "val_bpc": None, "best_val_bpc": None}
    shaky = Study(CPU, "shakespeare", lambda c: {**study.record_of(c), "unstable": climbed}
                  if c == config else study.record_of(c))
    [entry] = check_entries(shaky, shaky.walk()[1])
    assert entry["unstable"] and entry["val_bpc"] is None and entry["run"] == mine["name"]
    json.dumps(entry, allow_nan=False)
