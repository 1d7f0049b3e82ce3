"""Throughput measured, and a time budget turned into recorded characters."""

import json
import time

import pytest
from training_runs import losses, run, stopping_at


def test_a_time_budget_becomes_a_recorded_character_budget_that_repeats_the_run(
        small_corpus, tmp_path):
    """The trainer measures its throughput, trains the characters that fit, ends annealed, and
    records them: the same config with that character budget gives the same loss curve."""
    timed = run(small_corpus, tmp_path / "timed", max_chars=None, max_minutes=0.04, eval_every=50)
    summary = timed.fit()
    recorded = json.loads((tmp_path / "timed" / "config.json").read_text())
    assert recorded["max_chars"] == summary["planned_chars"] == summary["chars"]
    assert summary["chars"] % (8 * 32) == 0 and summary["measured_chars_per_s"] > 0
    assert not summary["time_limited"] and summary["steps"] > 10
    lrs = [r["lr"] for r in map(json.loads, (tmp_path / "timed" / "log.jsonl").open()) if "lr" in r]
    assert lrs[-1] == pytest.approx(3e-3 * 0.1, rel=0.05), "the schedule ran to its end"
    again = run(small_corpus, tmp_path / "again", max_chars=recorded["max_chars"], eval_every=50)
    again.fit()
    assert losses(tmp_path / "again") == losses(tmp_path / "timed")


def test_a_stopped_time_budgeted_run_resumes_with_the_budget_it_measured(small_corpus, tmp_path):
    first = stopping_at(run(small_corpus, tmp_path, max_chars=None, max_minutes=0.04), 5)
    first.fit()
    planned = first.config.max_chars
    resumed = run(small_corpus, tmp_path, max_chars=None, max_minutes=0.04)
    summary = resumed.fit()
    assert summary["chars"] == planned and "measured_chars_per_s" not in summary


def test_the_time_limit_is_a_safety_stop_that_marks_the_run(small_corpus, tmp_path):
    trainer = run(small_corpus, tmp_path, max_chars=None, max_minutes=0.02)
    step = trainer.train_step

    def slow_step():  # the machine got busy after the throughput was measured
        time.sleep(0.2)
        return step()

    trainer.train_step = slow_step
    summary = trainer.fit()
    assert summary["time_limited"] and summary["chars"] < summary["planned_chars"]
    assert summary["time"] >= 0.02 * 60 * 1.25


def test_measuring_leaves_the_run_it_measures_untouched(small_corpus, tmp_path):
    import torch

    trainer = run(small_corpus, tmp_path)
    trainer.train_step()
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    carried = {k: v.clone() for k, v in trainer.task.carried.items()}
    rng = torch.get_rng_state()
    from cnngru.training import throughput

    assert throughput.measure(trainer, seconds=0.2) > 0
    assert all(torch.equal(v, trainer.model.state_dict()[k]) for k, v in weights.items())
    assert all(torch.equal(v, trainer.task.carried[k]) for k, v in carried.items())
    assert torch.equal(rng, torch.get_rng_state())
