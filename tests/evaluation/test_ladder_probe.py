"""The ladder probe: which runs it trains (from the study's records so far) and its table beside
the study's own records of the same runs."""

import json

from test_study import Records, law  # the study tests' hand-made records

from cnngru.evaluation.ladder_probe import probe_runs, report
from cnngru.evaluation.run_records import Records as RunRecords
from cnngru.evaluation.study import CPU, Row, Study


def test_the_probe_takes_the_sweep_with_a_rate_below_and_every_rung_at_the_best_rate():
    first = CPU.scale(1_000_000).full_chars

    def done(c):  # the sweeps, nothing longer
        return c.max_chars <= CPU.scale(c.params).sweep_chars
    study = Study(CPU, "shakespeare", Records(law(best_lr=5e-3), done=done))
    runs = probe_runs(study, 1_000_000, max_chars=4 * first)
    sweep = [c for c in runs if c.max_chars < first]
    rungs = [c for c in runs if c.max_chars >= first]
    assert sorted(c.lr for c in sweep) == [2.5e-3, 5e-3, 1e-2, 2e-2]
    assert [c.max_chars for c in rungs] == [first, 2 * first, 4 * first]  # none past max_chars
    assert {c.lr for c in rungs} == {5e-3} and {c.variant for c in runs} == {"gru"}
    assert {c.lr for c in probe_runs(study, 1_000_000, 4 * first, lr=1e-2) if c.max_chars >= first} \
        == {1e-2}


def test_the_table_shows_each_rungs_gain_the_studys_own_run_and_where_a_run_climbed(tmp_path):
    study = Study(CPU, "shakespeare", Records(law()))
    row = Row("gru", "one-layer")
    first = CPU.scale(300_000).full_chars
    probe = RunRecords(tmp_path / "probe", "c0de", "da7a", "bf16")
    fp32 = RunRecords(tmp_path / "runs", "c0de", "da7a", "fp32")
    train = {"chars_per_s": 500_000, "device": "cuda:0"}
    for k, val in enumerate([2.20, 2.10, 2.095]):
        config = study.config(row, 300_000, 5e-3, first * 2**k)
        probe.write(config, {"val_bpc": val, "test_bpc": val + 0.05, "train": train})
    fp32.write(study.config(row, 300_000, 5e-3, first), {"val_bpc": 2.204, "test_bpc": 2.25,
                                                          "train": train})
    probe.write(study.config(row, 300_000, 5e-3, first * 8),
                {"unstable": {"chars": 3 * first}, "train": train})
    lines = report(tmp_path / "probe", tmp_path / "runs").splitlines()[2:]
    assert len(lines) == 4
    assert "| 2.2000 |  | 2.2040 |" in lines[0]  # the first rung: no gain, the study's run beside
    assert "| 2.1000 | 0.1000 |  |" in lines[1]
    assert "| 2.0950 | 0.0050 |" in lines[2]
    assert "unstable at 29.5M" in lines[3]
    assert json.loads(next((tmp_path / "probe").glob("*.json")).read_text())["precision"] == "bf16"
    stale = RunRecords(tmp_path / "runs", "0ld0", "da7a", "fp32")  # other code: no twin
    stale.write(study.config(row, 300_000, 5e-3, first), {"val_bpc": 2.3, "train": train})
    assert "| 2.2000 |  |  |" in report(tmp_path / "probe", tmp_path / "runs").splitlines()[2]
