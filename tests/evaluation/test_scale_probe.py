"""The scale probe on hand-made records: it trains a whole scale of its own (never leaning on the
study's fp32 runs there), the selection decides its designs, and its table reads its runs."""

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_study import Records, law  # the study tests' hand-made records
from test_write_up import FullRecords

from cnngru.evaluation.report import scale_preview_section
from cnngru.evaluation.scale_probe import probe_scale, probed_study, runs_to_probe
from cnngru.evaluation.study import CPU
from cnngru.evaluation.write_up import scale_preview

PARAMS = 1_000_000
FIRST = CPU.scale(PARAMS).full_chars


class ProbeRecords(FullRecords):
    """Full records as the probe makes them: bf16, on a GPU."""

    def __call__(self, config):
        record = super().__call__(config)
        return {**record, "precision": "bf16", "train": {**record["train"], "device": "cuda"}}


def reader(record_of, precision="bf16"):
    """What the probe reads of a ``Records``: ``read``, and the precision the table names (it
    names no run: these tests train nothing)."""
    return SimpleNamespace(read=record_of, precision=precision,
                           name=lambda config: pytest.fail(f"{config} would be trained"))


def study_with(fp32, probe):
    return probed_study(CPU, "shakespeare", PARAMS, reader(fp32), reader(probe))


def test_the_probe_trains_its_own_sweeps_though_the_study_has_them_and_leaves_other_scales():
    fp32 = Records(law())  # the whole study recorded in fp32
    probe = Records(law(), done=lambda c: False)  # the probe: nothing yet
    needed, _, decided = runs_to_probe(study_with(fp32, probe), PARAMS, reader(probe))
    assert needed and {c.params for c in needed} == {PARAMS}
    assert {c.max_chars for c in needed} == {CPU.scale(PARAMS).sweep_chars}  # every row's sweep
    assert {c.variant for c in needed} == {"gru", "cnn-pre", "cnn-post", "hybrid", "transformer"}
    assert "budget" not in decided["scales"][PARAMS]  # no fp32 rung decides B here


def test_the_probes_own_runs_decide_the_next_ones_and_are_never_asked_for_again():
    fp32 = Records(law())

    def probed(c):  # the sweeps and the ladder, in the probe
        return c.variant == "gru" or c.max_chars < FIRST
    probe = Records(law(), done=probed)
    needed, _, decided = runs_to_probe(study_with(fp32, probe), PARAMS, reader(probe))
    here = decided["scales"][PARAMS]
    assert here["budget"]["chars"] is not None
    assert needed and not any(probed(c) for c in needed)
    assert {c.max_chars for c in needed} == {here["budget"]["chars"]}  # rates at B, seeds
    done, _, _ = runs_to_probe(study_with(fp32, Records(law())), PARAMS, reader(Records(law())))
    assert done == []  # a probe holding every run of the scale asks for nothing


def test_at_the_selection_scale_the_selections_runs_are_the_sweeps_and_the_rest_is_the_probes():
    """The selection's runs are that scale's sweeps: the probe reads them from the study (its
    designs depend on them) and trains the runs at B and beyond."""
    params = CPU.selection_params
    full = CPU.scale(params).full_chars
    probe = Records(law(), done=lambda c: False)
    study = probed_study(CPU, "shakespeare", params, reader(Records(law())), reader(probe))
    needed, waiting, decided = runs_to_probe(study, params, reader(probe))
    assert decided["selection"]["selected"] and "sweeps" in decided["scales"][params]
    assert needed and {(c.params, c.max_chars) for c in needed} == {(params, full)}  # the ladder
    assert waiting == []
    preview = scale_preview(CPU, "shakespeare", params, reader(FullRecords(law())),
                            reader(ProbeRecords(law(chars_floor=3.0))))
    section = "\n".join(scale_preview_section(preview))
    assert "(its sweeps are the selection's fp32 runs" in section
    assert {round(r["test_bpc"]) for r in preview["rows"]} == {3}  # the probe's runs at B
    assert preview["ranking"] is None  # the ranking check is the reference scale's, not this one's


def test_the_probe_trains_none_of_the_selections_runs_and_says_it_waits_for_them():
    """Before the study's selection is in, the probe trains nothing (a bf16 run of the selection
    would never count) and stops with a message saying what to run first."""
    def no_selection(c):
        return c.params != CPU.selection_params
    fp32, probe = Records(law(), done=no_selection), Records(law(), done=lambda c: False)
    for params in (CPU.selection_params, PARAMS):
        needed, waiting, _ = runs_to_probe(
            probed_study(CPU, "shakespeare", params, reader(fp32), reader(probe)), params, reader(probe))
        assert needed == [] and waiting
        with pytest.raises(SystemExit, match=r"selection needs \d+ more fp32 runs"):
            probe_scale(CPU, "shakespeare", params, reader(fp32), reader(probe), "cuda", 1, Path("unused"))


def test_an_unstable_rung_the_probe_trained_above_where_the_ladder_stops_does_not_move_it():
    """The ladder probe trains every rung at once: one far above B that went unstable must not
    send the probed scale's ladder to a lower rate (it counts as a prediction, as in a plan)."""
    def val(config):  # converged between the second and third rungs
        if config.max_chars >= FIRST:
            halvings = math.log2(config.max_chars / FIRST)
            return 2.0 - 0.05 * min(halvings, 1) - 0.001 * max(halvings - 1, 0)
        return law(best_lr=5e-3)(config)

    class Probe(Records):
        def __call__(self, config):
            if config.variant == "gru" and config.max_chars == 16 * FIRST:
                return {"val_bpc": None, "unstable": {"chars": 4 * FIRST}}
            return super().__call__(config)
    _, _, decided = runs_to_probe(study_with(Records(val), Probe(val)), PARAMS, reader(Probe(val)))
    ladder = decided["scales"][PARAMS]["budget"]
    assert ladder["lr"] == 5e-3 and ladder["unstable"] == [] and ladder["chars"] == 2 * FIRST


def test_the_preview_compares_the_probes_runs_and_says_it_is_no_part_of_the_answer():
    probe = ProbeRecords(law(design_gap={"depthwise4-ngram": -0.05}))  # cnn-pre better in bf16

    class Selected(FullRecords):  # the study's selection picks depthwise4-ngram for cnn-pre
        def __call__(self, config):
            record = super().__call__(config)
            if config.params == CPU.selection_params and config.design == "depthwise4-ngram":
                record.update(val_bpc=record["val_bpc"] - 1)
            return record
    preview = scale_preview(CPU, "shakespeare", PARAMS, reader(Selected(law())), reader(probe))
    assert preview["complete"] and preview["precision"] == "bf16"
    table = "\n".join(scale_preview_section(preview))
    assert "### A preview of the 1.00M scale, trained apart in bf16" in table
    assert "in bf16 on cuda (all 15 seed runs; B = 19.66M), on the designs the study selected. They" in table
    assert {r["precision"] for r in preview["rows"]} == {"bf16"}  # every row's runs, the probe's
    assert "They are no part of the answer above" in table
    assert "| cnn-pre | depthwise4-ngram |" in table
    assert "- `cnn-pre` (depthwise4-ngram) helps at 1.00M (-0.050 BPC" in table
    assert "- `cnn-post`" in table and "ties at 1.00M" in table
    assert "| transformer |" in table and "- `transformer`" not in table  # a reference, no verdict
    assert "Rates: gru 0.01 at the sweep, 0.01 at B;" in table
    assert "The GRU's rates 0.005, 0.01, 0.02 rank the same" in table


def test_the_command_on_a_probe_holding_every_run_trains_nothing_and_prints_the_preview(
        tmp_path, capsys):
    """``python -m cnngru.evaluation.scale_probe`` on the committed probe's records, with any
    run still missing there made up from a recorded one (so nothing trains, and no GPU is
    needed): the whole command's path, the walk over the real records included."""
    import json
    import shutil

    from cnngru.corpus import load_corpus
    from cnngru.evaluation.run_records import Records as RunRecords
    from cnngru.evaluation.run_records import code_version, data_version
    from cnngru.evaluation.scale_probe import PROBE_DIR, main
    from cnngru.paths import RESULTS_DIR

    shutil.copytree(PROBE_DIR, tmp_path / "probe")
    code, data = code_version(), data_version(load_corpus("shakespeare"))
    fp32 = RunRecords(RESULTS_DIR / "runs", code, data, "fp32")
    probe = RunRecords(tmp_path / "probe", code, data, "bf16")
    some = json.loads(next((tmp_path / "probe").glob("transformer-1000k-*-39321600-s0-*.json")).read_text())
    figures = {k: v for k, v in some.items() if k in ("val_bpc", "test_bpc", "test_chars",
                                                      "test_chunk_nats", "train", "curve")}
    for _ in range(10):  # a made-up run can decide that more are needed
        missing, _, _ = runs_to_probe(probed_study(CPU, "shakespeare", PARAMS, fp32, probe), PARAMS, probe)
        for config in missing:
            probe.write(config, figures)
        if not missing:
            break
    assert not missing
    main(["--records", str(tmp_path / "probe"), "--device", "cuda", "--jobs", "1"])
    out = capsys.readouterr().out
    assert out.startswith("0 runs trained; the scale:")
    assert "### A preview of the 1.00M scale, trained apart in bf16" in out and "(all 15 seed runs" in out


@pytest.mark.parametrize("args, message", [
    (["--device", "cpu"], "the probe trains in bf16 on a GPU"),
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--records", "results/runs"], "the probe's records go apart from the study's"),
])
def test_the_command_refuses_what_would_mix_or_waste_runs(args, message, capsys, monkeypatch):
    from cnngru.evaluation.scale_probe import main
    from cnngru.paths import RESULTS_DIR

    monkeypatch.chdir(RESULTS_DIR.parent)  # "results/runs" as a user at the repository's root types it
    with pytest.raises(SystemExit):
        main(args)
    assert message in capsys.readouterr().err
