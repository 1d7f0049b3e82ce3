"""The shipped checkpoints are the trained ones the results describe, and the README shows
exactly what the commands measured."""

import json
from pathlib import Path

import pytest

import cnngru
from cnngru.evaluation.readme_blocks import read_block
from cnngru.evaluation.write_up import readme_links
from cnngru.models import CANDIDATES, VARIANTS, count_params

ROOT = Path(__file__).resolve().parent.parent
RESULTS = json.loads((ROOT / "results" / "results.json").read_text())
ROWS = {r["name"]: r for r in RESULTS["rows"]}


@pytest.mark.parametrize("name", [*VARIANTS, "transformer"])
def test_shipped_checkpoint_is_fully_trained_and_matches_the_results(name):
    bundle = cnngru.load(name, device="cpu")
    meta, row = bundle.metadata, ROWS[name]
    assert meta["run"]["chars"] >= 20_000_000, "a shipped model sees at least 20M characters"
    assert meta["val_bpc"] <= 2.5, "a few minutes of training sit near 2.6 BPC; unigram 4.5"
    assert meta["run"]["chars"] == row["train_chars"]
    assert meta["val_bpc"] == pytest.approx(row["val_bpc"], abs=1e-5)
    assert count_params(bundle.model) == row["params"]
    assert meta["train_config"]["lr"] == row["lr"]
    size = sum(p.stat().st_size for p in (ROOT / "checkpoints" / name).iterdir())
    assert size < 10_000_000


def test_rows_share_one_budget_and_one_amount_of_data():
    main = [ROWS[n] for n in (*VARIANTS, "transformer")]
    params = [r["params"] for r in main]
    assert max(params) / min(params) <= 1.05
    assert len({r["train_chars"] for r in main}) == 1


def test_intervals_hold_their_estimates():
    for r in RESULTS["rows"]:
        lo, hi = r["test_bpc_ci"]
        assert lo <= r["test_bpc"] <= hi
        if r["diff_vs_gru"] is not None:
            assert r["diff_ci"][0] <= r["diff_vs_gru"] <= r["diff_ci"][1]


def test_readme_shows_the_results_file():
    md = (ROOT / "results" / "results.md").read_text()
    assert read_block("results") == readme_links(md).strip("\n")
    assert RESULTS["answer"] in md


def test_the_scaling_figure_is_shown_exactly_when_a_scale_is_finished():
    """A figure from an earlier answer must not outlive it (the write-up removes it)."""
    drawn = (ROOT / "results" / "scaling.png").is_file()
    assert drawn == bool(RESULTS["scales"])
    assert ("](results/scaling.png)" in read_block("results")) == drawn


def test_readme_shows_the_benchmark_file():
    md = (ROOT / "results" / "bench-cpu.md").read_text().strip("\n")
    assert read_block("bench").startswith(md)


def test_shipped_word_list_is_the_training_words(corpus):
    words = (ROOT / "checkpoints" / "words.txt").read_text().split()
    assert set(words) == corpus.words()


@pytest.mark.parametrize("name", VARIANTS)
def test_each_shipped_checkpoint_is_its_strategys_shipped_design(name):
    from dataclasses import asdict

    from cnngru.models import SHIPPED, design_overrides, make_config

    config = cnngru.load(name, device="cpu").model.config
    expected = make_config(name, config.vocab_size, hidden=config.hidden, **design_overrides(name))
    assert asdict(config) == asdict(expected), f"{name} ships {SHIPPED[name]}"


def test_the_shipped_designs_are_the_studys_selection_once_its_models_are_shipped():
    from cnngru.models import SHIPPED

    if RESULTS.get("rows_from", "").startswith("this study"):
        selected = {s: next(e["design"] for e in entries if e["selected"])
                    for s, entries in RESULTS["candidates"].items()}
        assert selected == SHIPPED
    else:  # the previous study's models: today's first designs
        assert all(design == next(iter(CANDIDATES[s])) for s, design in SHIPPED.items())


def test_readme_shows_the_ladder_probe_beside_the_study_runs_it_predicts():
    from cnngru.evaluation.ladder_probe import report

    md = (ROOT / "results" / "ladder-probe.md").read_text().strip("\n")
    assert read_block("ladder-probe") == md == report(ROOT / "results" / "ladder-probe")
    assert "| 300k | 0.005 | 78.6M |" in md and md.count("|") > 100


def test_until_a_scale_is_finished_the_curves_are_the_shipped_models_own_logs():
    from cnngru.evaluation.write_up import shipped_curves
    from cnngru.paths import SHIPPED
    from cnngru.training.snapshots import validations

    names = [*VARIANTS, "transformer"]
    curves = shipped_curves(SHIPPED, names)
    assert list(curves) == names
    assert all(curves[v] == validations(SHIPPED / v) and len(curves[v]) > 3 for v in names)
    if not RESULTS["scales"]:  # what the Results tab draws now
        assert RESULTS["curves_from"] == "the shipped models"
        assert RESULTS["curves"] == {v: curves[v] for v in RESULTS["curves"]}


def test_a_scale_the_probe_trained_is_previewed_beside_the_answer_never_in_it():
    previews = RESULTS["scale_previews"]
    assert [p["params"] for p in previews] == [1_000_000] and previews[0]["precision"] == "bf16"
    runs = [r["run"] for p in previews for r in p["finished_runs"]]
    assert runs and all("-bf16-" in name for name in runs)
    assert all(name not in json.dumps(RESULTS["scales"] + RESULTS["unfinished_scales"]) for name in runs)
    assert "### A preview of the 1.00M scale, trained apart in bf16" in (ROOT / "results" / "results.md").read_text()
