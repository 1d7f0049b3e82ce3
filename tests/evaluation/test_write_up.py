"""cnngru.evaluation.write_up on a study of hand-made records: what an unfinished scale reports."""

from test_study import law  # the study tests' made-up law of validation BPC

from cnngru.evaluation.study import CPU, Study
from cnngru.evaluation.write_up import describe_scale


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
