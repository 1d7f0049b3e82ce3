"""``cnngru reproduce --smoke``: the whole study on a tiny budget (selection, bracketed sweeps,
the convergence ladder, three seeds at three scales, the write-up), and its reuse of records."""

import json
import shutil
import subprocess
import sys

import pytest

from cnngru.evaluation.lr_bracket import RATIO
from cnngru.evaluation.study import SMOKE
from cnngru.models import CANDIDATES, VARIANTS


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    args = [sys.executable, "-m", "cnngru.cli", "reproduce", "--smoke", "--runs", str(root / "runs"),
            "--results", str(root / "results"), "--checkpoints", str(root / "checkpoints")]
    first = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    again = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    plan = subprocess.run([*args, "--plan"], capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    return root, first.stdout, again.stdout, plan.stdout, results


def test_three_scales_each_with_every_row_on_three_full_budget_seeds(smoke):
    root, _, _, _, results = smoke
    assert [s["params"] for s in results["scales"]] == [s.params for s in SMOKE.scales]
    for scale in results["scales"]:
        names = [r["name"] for r in scale["rows"]]
        expected = [*VARIANTS, "transformer"] if scale["params"] == SMOKE.reference_params else list(VARIANTS)
        assert names == expected
        budget = results["convergence"][str(scale["params"])]["chars"]
        for r in scale["rows"]:
            assert len(r["seeds"]) == 3 and r["test_bpc"] == pytest.approx(sum(r["seeds"]) / 3, abs=0.02)
            assert r["test_bpc_ci"][0] <= r["test_bpc"] <= r["test_bpc_ci"][1]
            for name in r["seed_runs"]:  # every seed is a full-budget run with a record
                record = json.loads((root / "results" / "runs" / f"{name}.json").read_text())
                assert record["config"]["max_chars"] == budget
                assert record["config"]["design"] == r["design"]
            if r["name"] != "gru":
                d = r["delta_vs_gru"]
                assert d["lo"] <= d["mean"] <= d["hi"]
    assert results["unfinished_scales"] == [] and results["runs_remaining"] == 0


def test_every_strategy_has_three_candidates_on_one_bracketed_grid(smoke):
    _, _, _, _, results = smoke
    candidates = results["candidates"]
    assert list(candidates) == list(VARIANTS)
    grids = set()
    for strategy, entries in candidates.items():
        assert [e["design"] for e in entries] == list(CANDIDATES[strategy])
        assert sum(e["selected"] for e in entries) == 1
        best = min(entries, key=lambda e: e["mean_val_bpc"])  # of the seeds at its best rate
        assert best["selected"] and len(best["seeds_val_bpc"]) == 3
        assert sum(e["seed0_best"] for e in entries) == 1
        for e in entries:
            grid = sorted(float(lr) for lr in e["grid"])
            grids.add(tuple(grid))
            assert grid[0] < e["lr"] < grid[-1], "a chosen rate is never an end of its grid"
    assert len(grids) == 1, "one grid shared by every candidate"
    selected = {s: next(e["design"] for e in entries if e["selected"]) for s, entries in candidates.items()}
    for scale in results["scales"]:  # every scale compares the selected designs
        assert {r["name"]: r["design"] for r in scale["rows"] if r["name"] in VARIANTS} == selected


def test_every_sweep_is_bracketed_with_neighbours_at_most_3x_apart(smoke):
    _, _, _, _, results = smoke
    rows = {(e["params"], e["row"]) for e in results["sweep"]}
    assert len(rows) == 4 * 3 + 1  # four strategies at three scales, the transformer at one
    for e in results["sweep"]:
        grid = e["grid"]
        assert grid[0] < e["chosen"] < grid[-1]
        assert all(b / a <= 3 for a, b in zip(grid, grid[1:], strict=False))
        assert e["val_bpc"][grid.index(e["chosen"])] == min(e["val_bpc"])
    assert RATIO <= 3


def test_every_rows_rate_at_the_full_budget_has_a_worse_lower_neighbour_there(smoke):
    _, _, _, _, results = smoke
    chosen = {(e["params"], e["row"]): e for e in results["full_budget_rates"]}
    assert len(chosen) == 4 * 3 + 1
    for scale in results["scales"]:
        for r in scale["rows"]:
            e = chosen[(scale["params"], r["name"])]
            assert e["rates"][0] <= e["sweep_choice"] and r["lr"] <= e["chosen"]
            i = e["rates"].index(e["chosen"])
            assert e["val_bpc"][i] is not None and len(e["rates"]) > i + 1
            lower = e["val_bpc"][i + 1]
            assert lower is None or lower >= e["val_bpc"][i]
            assert all(v is None or v > e["val_bpc"][i] for v in e["val_bpc"][:i])


def test_the_ladder_and_the_ranking_check_are_reported(smoke):
    _, _, _, _, results = smoke
    for c in results["convergence"].values():
        chars = [r[0] for r in c["rungs"]]
        assert chars == sorted(chars) and all(b == 2 * a for a, b in zip(chars, chars[1:], strict=False))
        assert c["converged"] in (True, False) and c["chars"] in chars
    ranking = results["ranking"]
    assert len(ranking["rates"]) == 3 and isinstance(ranking["same_order"], bool)


def test_the_write_up_ships_the_reference_scale_and_draws_the_scaling_figure(smoke):
    root, _, _, _, results = smoke
    assert (root / "results" / "scaling.png").stat().st_size > 10_000
    md = (root / "results" / "results.md").read_text()
    assert results["answer"] in md and "Intervals: a hierarchical paired bootstrap" in md
    assert "## Candidate designs" in md and "The refiner" in md
    assert results["answer"].startswith(("**Yes", "**No", "**Not clearly"))
    for name in (*VARIANTS, "transformer", "refiner"):
        assert (root / "checkpoints" / name / "model.safetensors").is_file()
    assert [r["name"] for r in results["rows"]] == [*VARIANTS, "transformer"]


def test_only_the_shipped_runs_are_kept_beside_the_records_stamped_with_their_code(smoke):
    """Seed 0 of the reference scale at its full budget keeps its best model in results/kept
    (every other run folder goes once recorded); once the scale ships, only the shipped stay."""
    from cnngru.evaluation.run_records import code_version

    root, _, _, _, results = smoke
    assert not list((root / "runs" / "study").glob("*"))
    kept = sorted((root / "results" / "kept").iterdir())
    assert [k.name for k in kept] == sorted(r["seed_runs"][0] for r in results["rows"])
    for folder in kept:
        assert (folder / "best" / "model.safetensors").is_file() and not (folder / "last").exists()
        assert json.loads((folder / "code.json").read_text())["code"] == code_version()


def test_the_write_up_ships_from_the_kept_runs_on_a_machine_without_the_run_folders(smoke, tmp_path):
    """The records and kept runs travel with the repository; the run folders do not. A write-up
    on a copy of the results, beside a runs folder with no run in it (it holds the smoke text,
    which the records name), ships the same models. With one missing, it writes the rest, keeps
    the shipped models and their rows, and says what to do."""
    root = smoke[0]
    assert not list((root / "runs" / "study").glob("*"))
    copy = tmp_path / "elsewhere"
    shutil.copytree(root / "results", copy / "results")
    args = [sys.executable, "-m", "cnngru.cli", "reproduce", "--smoke", "--write-only",
            "--runs", str(root / "runs"), "--results", str(copy / "results"),
            "--checkpoints", str(copy / "checkpoints")]
    shutil.copytree(root / "checkpoints" / "refiner", copy / "checkpoints" / "refiner")  # reused
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in (*VARIANTS, "transformer"):
        ours, theirs = (json.loads((r / name / "checkpoint.json").read_text())["weights_sha256"]
                        for r in (copy / "checkpoints", root / "checkpoints"))
        assert ours == theirs
    rows = json.loads((copy / "results" / "results.json").read_text())["rows"]
    gone = next((copy / "results" / "kept").iterdir())
    shutil.rmtree(gone)
    (copy / "results" / "kept" / ".DS_Store").write_text("")  # a stray file is left alone
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"No kept model in {copy / 'results' / 'kept'} for {gone.name}, so the shipped models stay" in again.stdout
    assert json.loads((copy / "results" / "results.json").read_text())["rows"] == rows


def test_a_run_started_by_other_code_trains_again_from_the_start(tmp_path):
    """A run stopped part-way resumes only under the code and text that started it: a folder
    stamped by other code, or not stamped, loses its snapshot; one stamped by this code keeps it."""
    from cnngru.evaluation.reproduce import STAMP, Reproduction, Where, claim
    from cnngru.training import snapshots
    from cnngru.training.trainer import PAUSED, language_model_run

    where = Where.of(True, tmp_path / "runs", tmp_path / "results", tmp_path / "checkpoints")
    reproduction = Reproduction(SMOKE, where, "shakespeare", "cpu", jobs=1)
    records = reproduction.records
    config = max(reproduction.study.walk(assume=True)[0], key=lambda c: c.max_chars)
    folder = reproduction.folder(config)

    def stopped(stamp):
        claim(folder, records)
        trainer = language_model_run(config, folder, progress=False)
        trainer.prepare()
        assert trainer.run(until_step=1) == PAUSED
        if stamp is None:
            (folder / STAMP).unlink()
        else:
            (folder / STAMP).write_text(json.dumps(stamp))

    ours = {"code": records.code, "data": records.data}
    stopped(ours)
    claim(folder, records)
    assert snapshots.find(folder) is not None  # ours: it resumes
    for other in ({**ours, "code": "0" * 12}, {**ours, "data": "0" * 12}, None):
        stopped(other)
        claim(folder, records)
        assert snapshots.find(folder) is None and list(folder.iterdir()) == [folder / STAMP]
        assert json.loads((folder / STAMP).read_text()) == ours


def test_a_second_run_trains_nothing_and_the_plan_says_nothing_remains(smoke):
    _, first, again, plan, _ = smoke
    assert first.count("val ") > 100
    assert again.splitlines()[0].startswith("0 runs trained")
    assert "the shipped refiner has this recipe: reused" in again
    assert "at least 0 to go" in plan


def test_smoke_writes_only_under_runs_smoke_by_default():
    from pathlib import Path

    from cnngru.evaluation.reproduce import Where
    from cnngru.paths import RESULTS_DIR, SHIPPED

    smoke = Where.of(smoke=True)
    for path in (smoke.runs, smoke.records, smoke.results, smoke.shipped):
        assert path.parts[0] == "runs-smoke"
    real = Where.of(smoke=False)
    assert (real.results, real.records, real.shipped) == (RESULTS_DIR, RESULTS_DIR / "runs", SHIPPED)
    assert real.runs == Path("runs")


def test_runs_stopped_part_way_go_first_then_one_ladder_run_beside_the_rest(tmp_path):
    """A run holding a checkpoint from an earlier sitting resumes before any new one; then, with
    two jobs, one ladder run goes before the scale-by-scale order, and none more while one
    trains. Here the smallest scale's GRU sweep is done, so its first rung can climb while the
    other rows' sweeps wait."""
    from cnngru.evaluation.reproduce import Reproduction, Where
    from cnngru.evaluation.study import Study

    where = Where.of(True, tmp_path / "runs", tmp_path / "results", tmp_path / "checkpoints")
    reproduction = Reproduction(SMOKE, where, "shakespeare", "cpu", jobs=2)
    smallest = SMOKE.scales[0]

    def records(c):  # the selection and the smallest scale's GRU sweep
        sweep = c.max_chars == SMOKE.scale(c.params).sweep_chars
        done = c.params == SMOKE.selection_params or c.params == smallest.params and c.variant == "gru"
        return {"val_bpc": 2.0 + abs(c.lr - 1e-2)} if sweep and done else None
    reproduction.study = Study(SMOKE, "shakespeare", records)
    walked = reproduction.study.walk()[0]
    order = reproduction.next_runs()
    rung = order[0]
    assert (rung.variant, rung.params, rung.max_chars) == ("gru", smallest.params, smallest.full_chars)
    assert walked.index(rung) > 0 and order[1:] == [c for c in walked if c != rung]
    name = reproduction.records.name
    assert reproduction.next_runs({name(rung)}) == walked  # one ladder run at a time
    (reproduction.folder(walked[-1]) / "last").mkdir(parents=True)
    assert reproduction.next_runs()[:2] == [walked[-1], rung]
    reproduction.jobs = 1  # one job: nothing runs beside, so the study's order
    assert reproduction.next_runs() == [walked[-1], *walked[:-1]]


def test_a_run_stopped_part_way_travels_in_the_stash_and_resumes_elsewhere(tmp_path):
    """A sitting that stops stashes its runs stopped part-way in results/in-progress/; a sitting
    on a machine without them (no runs/ folder) puts them back before training, where the
    trainer finds the snapshot and goes on from its step. Runs recorded by this code are not
    stashed; a record made by other code does not count."""
    import shutil

    from cnngru.evaluation.reproduce import STAMP, Reproduction, Where, claim
    from cnngru.training import snapshots
    from cnngru.training.trainer import PAUSED, language_model_run

    where = Where.of(True, tmp_path / "runs", tmp_path / "results", tmp_path / "checkpoints")
    reproduction = Reproduction(SMOKE, where, "shakespeare", "cpu", jobs=1)
    config = max(reproduction.study.walk(assume=True)[0], key=lambda c: c.max_chars)
    stopped, finished = reproduction.folder(config), where.runs / "study" / "recorded-run"
    claim(stopped, reproduction.records)  # as train_and_record does: stamped by this code
    trainer = language_model_run(config, stopped, progress=False)
    trainer.prepare()
    assert config.steps > 2 and trainer.run(until_step=2) == PAUSED
    two_steps = 2 * config.batch_size * config.seq_len
    assert reproduction.trained_so_far(config) == two_steps  # the plan counts what is left
    shutil.copytree(stopped, finished)
    shutil.copytree(stopped, where.runs / "study" / "stale-run")
    other_code = where.runs / "study" / "other-code-run"
    shutil.copytree(stopped, other_code)
    (other_code / STAMP).write_text(json.dumps({"code": "0" * 12, "data": reproduction.records.data}))
    where.records.mkdir(parents=True)
    r = reproduction.records
    ours = {"code": r.code, "scoring": r.scoring, "data": r.data, "precision": r.precision}
    (where.records / "recorded-run.json").write_text(json.dumps(ours))
    (where.records / "stale-run.json").write_text(json.dumps({**ours, "code": "0" * 12}))

    # a stale record is no record; a run started by other code would train again anyway
    assert sorted(reproduction.stash()) == sorted([stopped.name, "stale-run"])
    shutil.rmtree(reproduction.stash_folder / "stale-run")
    shutil.rmtree(where.runs)  # another machine
    assert reproduction.trained_so_far(config) == two_steps  # in the stash
    assert reproduction.unstash() == [stopped.name]
    assert reproduction.unstash() == []  # this machine has it now: its own copy wins
    (stopped / STAMP).write_text(json.dumps({"code": "0" * 12, "data": reproduction.records.data}))
    aside = reproduction.stash_folder.rename(tmp_path / "aside")
    assert reproduction.trained_so_far(config) == 0  # other code's run starts again
    aside.rename(reproduction.stash_folder)
    assert reproduction.unstash() == [stopped.name]  # a copy started by other code does not
    resumed = language_model_run(config, stopped, progress=False)
    resumed.prepare()
    assert snapshots.progress_of(snapshots.find(stopped))["step"] == 2 and resumed.step == 2


def test_the_plan_takes_a_designs_median_throughput_over_its_records_by_this_code(tmp_path):
    """A record's time is wall time, so one that spanned a pause reads slow: the plan's rate is
    the median over the design's records, and records made by other code do not count."""
    from cnngru.evaluation.reproduce import Reproduction, Where

    where = Where.of(True, tmp_path / "runs", tmp_path / "results", tmp_path / "checkpoints")
    reproduction = Reproduction(SMOKE, where, "shakespeare", "cpu", jobs=1)
    config = reproduction.study.walk(assume=True)[0][0]
    r = reproduction.records
    ours = {"code": r.code, "scoring": r.scoring, "data": r.data, "precision": r.precision,
            "config": config.to_dict()}
    where.records.mkdir(parents=True)
    for name, code, rate in [("paused", r.code, 1_000), ("a", r.code, 9_000), ("b", r.code, 10_000),
                             ("old", "0" * 12, 1)]:
        record = {**ours, "code": code, "train": {"chars_per_s": rate}}
        (where.records / f"{name}.json").write_text(json.dumps(record))
    assert reproduction._chars_per_s(config) == 9_000


def test_the_plan_counts_the_selections_runs_apart_from_its_scales(tmp_path):
    from cnngru.evaluation.reproduce import Reproduction, Where

    where = Where.of(True, tmp_path / "runs", tmp_path / "results", tmp_path / "checkpoints")
    reproduction = Reproduction(SMOKE, where, "shakespeare", "cpu", jobs=1)
    configs = reproduction.study.walk(assume=True)[0]
    lines = reproduction._estimate(configs, {(c.variant, c.design, c.params): 1_000.0
                                             for c in configs})
    selecting = SMOKE.scale(SMOKE.selection_params)
    picked = [c for c in configs if (c.params, c.max_chars) == (selecting.params,
                                                                 selecting.sweep_chars)]
    assert len(picked) == sum(len(CANDIDATES[s]) for s in VARIANTS) * (len(SMOKE.grid) + 2)
    counts = {line.split(":")[0].strip(): int(line.split(":")[1].split("runs")[0])
              for line in lines if "runs," in line}
    assert counts[f"{selecting.params // 1000}k selection"] == len(picked)
    assert sum(counts.values()) == len(configs)


def test_a_checked_design_that_lost_the_selection_trains_once_at_the_full_budget(smoke):
    root, _, _, _, results = smoke
    selected = next(e["design"] for e in results["candidates"]["hybrid"] if e["selected"])
    checks = results["checked_designs"]
    if selected == "cnn-memory256":
        assert checks == []
        pytest.skip("cnn-memory256 won the smoke's selection: there is nothing to check")
    [entry] = checks
    assert (entry["design"], entry["params"]) == ("cnn-memory256", SMOKE.selection_params)
    assert entry["chars"] == results["convergence"][str(SMOKE.selection_params)]["chars"]
    record = json.loads((root / "results" / "runs" / f"{entry['run']}.json").read_text())
    assert (record["config"]["design"], record["config"]["seed"]) == ("cnn-memory256", 0)
    assert record["config"]["lr"] == entry["lr"] and entry["selected_val_bpc"] is not None
    md = (root / "results" / "results.md").read_text()
    assert "### Designs that lost the selection, at the full budget (seed 0)" in md


def test_the_scale_probe_retraces_one_scale_of_the_study_in_its_own_records(smoke, tmp_path):
    """On the smoke study's selection, the scale probe trains the reference scale again in its
    own folder (here on the CPU, so in the study's precision) and reaches the same rows."""
    from cnngru.corpus import load_corpus
    from cnngru.evaluation.report import scale_preview_section
    from cnngru.evaluation.run_records import Records, code_version, data_version
    from cnngru.evaluation.scale_probe import probe_scale, probed_study, runs_to_probe
    from cnngru.evaluation.write_up import scale_preview

    root, _, _, _, results = smoke
    corpus = results["method"]["corpus"]  # the smoke's excerpt of the plays
    code, data = code_version(), data_version(load_corpus(corpus))
    fp32 = Records(root / "results" / "runs", code, data, "fp32")
    probe = Records(tmp_path / "probe", code, data, "fp32")
    params = SMOKE.reference_params
    lines = []
    trained = probe_scale(SMOKE, corpus, params, fp32, probe, "cpu", 1, tmp_path / "runs",
                          log=lines.append)
    study_runs = list((root / "results" / "runs").glob(f"*-{params // 1000}k-*.json"))
    # the same walk on the same records, trained the same way: every run of the scale again
    assert trained == len(lines) == len(list((tmp_path / "probe").glob("*.json"))) == len(study_runs)
    assert runs_to_probe(probed_study(SMOKE, corpus, params, fp32, probe), params, probe)[0] == []
    table = "\n".join(scale_preview_section(scale_preview(SMOKE, corpus, params, fp32, probe)))
    assert f"(all {4 * 3 + 3} seed runs" in table
    ours = next(s for s in results["scales"] if s["params"] == params)["rows"]
    for row in ours:  # a CPU run is repeatable: the probe's means are the study's
        assert f"| {row['name']} | {row['design'] or '—'} |" in table
        assert f"| {row['test_bpc']:.3f}&nbsp;" in table
