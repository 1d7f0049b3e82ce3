"""``python -m cnngru.evaluation.scale_probe``: one whole scale of the study, in bf16, on a GPU.

On the CPU the 1M scale's runs take days. On a GPU the study's walk at one scale (each row's
sweep, the GRU's ladder, each row's rate at B, every seed, the ranking check) trains in minutes,
many runs side by side, each starting as soon as the runs it depends on have finished. The
designs are the study's selection (its fp32 records, which at the selection scale are that
scale's sweeps too); every other run at the probed scale is the probe's own, in bf16, so no row's
runs at B mix precisions. The runs go beside the ladder probe's (``results/ladder-probe``: the
runs the GRU's ladder needs are shared), never into the study's answer: ``cnngru reproduce``
shows them as a preview in the results, and a plan takes them as predictions of the fp32 runs.

    python -m cnngru.evaluation.scale_probe --params 1000000 --jobs 12
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path

from ..paths import RESULTS_DIR
from ..training import TrainConfig
from .report import scale_preview_section
from .reproduce import run_line, threads_per_job, train_side_by_side
from .run_records import PROBE_FOLDER, Records, code_version, data_version, precision_of
from .study import BASELINE, CPU, Study, StudyBudget

PROBE_DIR = RESULTS_DIR / PROBE_FOLDER


def selection_run(budget: StudyBudget, config: TrainConfig) -> bool:
    """Whether ``config`` is one of the selection's runs: sweep-long, at the selection scale
    (where they are that scale's sweeps too: they only choose where each row's search at B
    starts)."""
    return (config.params == budget.selection_params
            and config.max_chars <= budget.scale(config.params).sweep_chars)


def study_run(budget: StudyBudget, params: int, config: TrainConfig) -> bool:
    """Whether the study's fp32 record of ``config`` counts rather than the probe's: off the
    probed scale, and for the selection's runs."""
    return config.params != params or selection_run(budget, config)


def probe_reader(budget: StudyBudget, params: int, fp32: Records, probe: Records
                 ) -> Callable[[TrainConfig], dict | None]:
    """Each run's record as the probed scale reads it: the study's or the probe's."""
    return lambda c: fp32.read(c) if study_run(budget, params, c) else probe.read(c)


def probed_study(budget: StudyBudget, corpus: str, params: int, fp32: Records, probe: Records
                 ) -> Study:
    """The study as it stands once every run at ``params`` ends as the probe's run did.

    The probe's runs stand in as predictions (so a rung it trained above where the ladder's
    climb stops is not counted, as in a plan); the study's runs (``study_run``) decide the
    rest. No other fp32 run at ``params`` is read, so no row's runs at B mix the two."""
    def recorded(c: TrainConfig) -> dict | None:
        return fp32.read(c) if study_run(budget, params, c) else None

    def predicted(c: TrainConfig) -> dict | None:
        return None if study_run(budget, params, c) else probe.read(c)

    return Study(budget, corpus, recorded, predicted=predicted)


def runs_to_probe(study: Study, params: int, probe: Records
                  ) -> tuple[list[TrainConfig], list[TrainConfig], dict]:
    """The runs at ``params`` the walk needs next that are the probe's to train and that it has
    not trained; the selection's runs it waits on, which are the study's to train; and what
    the walk decided."""
    needed, decided = study.walk()
    ours = [c for c in needed if not study_run(study.budget, params, c) and probe.read(c) is None]
    return ours, [c for c in needed if selection_run(study.budget, c)], decided


def probe_scale(budget: StudyBudget, corpus: str, params: int, fp32: Records, probe: Records,
                device: str, jobs: int, runs: Path, log=print) -> int:
    """Train every run the walk at ``params`` needs, ``jobs`` at a time; returns how many."""
    if params not in {s.params for s in budget.scales}:
        raise SystemExit(f"The study has no {params:,}-parameter scale.")
    threads = threads_per_job(jobs)

    def next_runs(in_flight: Collection[str]) -> list[TrainConfig]:
        needed, waiting, decided = runs_to_probe(probed_study(budget, corpus, params, fp32, probe),
                                                 params, probe)
        if not needed and not in_flight:  # done, unless it waits on the study's own runs
            if decided.get("failed"):
                raise SystemExit(f"The study's selection stopped: {decided['failed']}.")
            if waiting:
                raise SystemExit(f"The study's selection needs {len(waiting)} more fp32 runs "
                                 "before this scale can go on: `cnngru reproduce` trains them.")
        return needed

    def work(config: TrainConfig) -> tuple:
        return (replace(config, device=device), runs / probe.name(config), probe, budget.test_chars,
                threads, None)

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
    if not args.device.startswith("cuda"):
        p.error("the probe trains in bf16 on a GPU (--device cuda): on the CPU the study's own "
                "runs are the ones to train (cnngru reproduce)")
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    if args.records.resolve() == (RESULTS_DIR / "runs").resolve():
        p.error("the probe's records go apart from the study's (results/runs)")
    corpus = "shakespeare"
    code, data = code_version(), data_version(load_corpus(corpus))
    fp32 = Records(RESULTS_DIR / "runs", code, data, "fp32")
    probe = Records(args.records, code, data, precision_of(args.device))
    trained = probe_scale(CPU, corpus, args.params, fp32, probe, args.device, args.jobs, args.runs)
    preview = scale_preview(CPU, corpus, args.params, fp32, probe)
    print(f"{trained} runs trained; the scale:\n" + "\n".join(scale_preview_section(preview))
          + "\n\n(`cnngru reproduce --write-only` puts it in results.md and the README)")


if __name__ == "__main__":
    main()
