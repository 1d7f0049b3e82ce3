"""``python -m cnngru.evaluation.scale_probe``: one whole scale of the study, in bf16, on a GPU.

On the CPU the 1M scale's runs take days. On a GPU the study's walk at one scale (each row's
sweep, the GRU's ladder, each row's rate at B, every seed, the ranking check) trains in minutes,
many runs side by side, each starting as soon as the runs it depends on have finished. The
designs are the study's selection (its fp32 records); every run at the probed scale is the
probe's own, in bf16, so no row mixes precisions. The runs go beside the ladder probe's
(``results/ladder-probe``: the same runs the GRU's ladder needs are shared), never into the
study's answer, and a plan takes them as predictions of the fp32 runs still to train.

    python -m cnngru.evaluation.scale_probe --params 1000000 --jobs 12
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from ..paths import RESULTS_DIR
from ..training import TrainConfig
from .report import scale_preview_section
from .reproduce import run_line, train_side_by_side
from .run_records import Records, code_version, data_version, precision_of
from .study import BASELINE, CPU, Study, StudyBudget

PROBE_DIR = RESULTS_DIR / "ladder-probe"


def probed_study(budget: StudyBudget, corpus: str, params: int, fp32: Records, probe: Records
                 ) -> Study:
    """The study as it stands once every run at ``params`` ends as the probe's run did.

    The probe's runs stand in as predictions (so a rung it trained above where the ladder's
    climb stops is not counted, as in a plan), the fp32 records decide everything else: the
    selection of designs, whose runs at the selection scale are also that scale's sweeps (the
    same runs: they only choose where each row's search at B starts). No other fp32 run at
    ``params`` is read, so that no row's runs at B mix them with the probe's."""
    def study_run(c: TrainConfig) -> bool:
        return c.params != params or selection_run(budget, c)

    return Study(budget, corpus, lambda c: fp32.read(c) if study_run(c) else None,
                 predicted=lambda c: None if study_run(c) else probe.read(c))


def selection_run(budget: StudyBudget, config: TrainConfig) -> bool:
    """Whether ``config`` is one of the selection's runs (sweep-long, at the selection scale)."""
    return (config.params == budget.selection_params
            and config.max_chars <= budget.scale(config.params).sweep_chars)


def runs_to_probe(study: Study, params: int, probe: Records) -> tuple[list[TrainConfig], dict]:
    """The runs at ``params`` the walk needs next that the probe has not trained, and what the
    walk decided."""
    needed, decided = study.walk()
    return [c for c in needed if c.params == params and probe.read(c) is None], decided


def probe_scale(budget: StudyBudget, corpus: str, params: int, fp32: Records, probe: Records,
                device: str, jobs: int, runs: Path, log=print) -> int:
    """Train every run the walk at ``params`` needs, ``jobs`` at a time; returns how many."""
    if params not in {s.params for s in budget.scales}:
        raise SystemExit(f"The study has no {params:,}-parameter scale.")
    threads = max(1, (os.cpu_count() or 1) // jobs)

    def next_runs(in_flight: Collection[str]) -> list[TrainConfig]:
        needed, decided = runs_to_probe(probed_study(budget, corpus, params, fp32, probe),
                                        params, probe)
        if not needed and not in_flight and params not in decided["scales"]:
            raise SystemExit(f"The study's designs are not selected yet: "
                             f"{decided.get('failed') or 'its selection runs are not all in'}.")
        return needed

    def work(config: TrainConfig) -> tuple:
        return (replace(config, device=device), runs / probe.name(config), probe, budget.test_chars,
                threads, False)

    return train_side_by_side(next_runs, probe.name, work, jobs, lambda r: log(run_line(r)))


def probed_scales(probe: Records) -> list[int]:
    """The scales the probe has trained rows at (not only the GRU's ladder, which the ladder
    probe trains): those the results preview."""
    return sorted({r["config"]["params"] for r in probe.all() if r["config"]["variant"] != BASELINE})


def main(argv: list[str] | None = None) -> None:
    from ..corpus import load_corpus
    from .write_up import scale_preview  # (the write-up reads this module's study)

    p = argparse.ArgumentParser(prog="python -m cnngru.evaluation.scale_probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", type=int, default=1_000_000)
    p.add_argument("--jobs", type=int, default=12, help="runs trained side by side")
    p.add_argument("--records", type=Path, default=PROBE_DIR, help="where the probe's records go")
    p.add_argument("--runs", type=Path, default=Path("runs/probe"), help="checkpoints meanwhile")
    p.add_argument("--device", default="cuda")
    args = p.parse_args(argv)
    corpus = "shakespeare"
    code, data = code_version(), data_version(load_corpus(corpus))
    fp32 = Records(RESULTS_DIR / "runs", code, data, "fp32")
    probe = Records(args.records, code, data, precision_of(args.device))
    trained = probe_scale(CPU, corpus, args.params, fp32, probe, args.device, args.jobs, args.runs)
    preview = scale_preview(CPU, corpus, args.params, fp32, probe)
    print(f"{trained} runs trained; the scale:\n" + "\n".join(scale_preview_section(preview)))


if __name__ == "__main__":
    main()
