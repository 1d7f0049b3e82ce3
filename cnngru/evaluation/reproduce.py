"""``cnngru reproduce``: the study (``study.py``) trained, recorded and written up, in sittings.

Each finished run leaves a record in ``results/runs/`` (``run_records.py``) and is never trained
again by the same code on the same text; stop the command at any time (Ctrl-C, or kill it) and
run it again, here or on another machine with the records, to go on. ``--plan`` prints what
remains and how long it should take here. ``--smoke`` runs the whole study on a tiny budget in
``runs-smoke/`` and never touches ``results/``.

To time a benchmark while the study runs, pause it and go on afterwards:
``kill -STOP -<pid>`` ... ``kill -CONT -<pid>`` (the process group: the command and its workers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from multiprocessing import get_context
from pathlib import Path

from ..paths import RESULTS_DIR, SHIPPED
from ..training import TrainConfig
from ..training.snapshots import validations
from .run_records import PROBE_FOLDER, Records, code_version, data_version, precision_of
from .stability import climb
from .study import CPU, SMOKE, Study, StudyBudget


@dataclass
class Where:
    """Where a reproduction keeps its work: runs (checkpoints while training), records, results
    and the shipped checkpoints."""

    runs: Path
    records: Path
    results: Path
    shipped: Path

    @property
    def kept(self) -> Path:
        """The finished runs a shipped model may come from (best model and log each), beside the
        records, so that they travel with the repository as the records do: the reference scale
        can finish, and ship them, on another machine."""
        return self.results / "kept"

    @classmethod
    def of(cls, smoke: bool, runs=None, results=None, checkpoints=None) -> Where:
        root = Path("runs-smoke" if smoke else "runs")
        results = Path(results or (root / "results" if smoke else RESULTS_DIR))
        return cls(runs=Path(runs or root), records=results / "runs", results=results,
                   shipped=Path(checkpoints or (root / "checkpoints" if smoke else SHIPPED)))


def evaluate_run(folder: Path, corpus, test_chars: int | None) -> dict:
    """A finished run's figures: its best checkpoint scored (``scoring``: validation and test
    BPC, the test losses per chunk for the intervals), the curve and the run's summary."""
    from .scoring import score_run

    summary = json.loads((folder / "summary.json").read_text())
    return {
        **score_run(folder / "best", corpus, test_chars),
        "curve": validations(folder),
        "train": {k: summary[k] for k in ("params", "steps", "chars", "time", "chars_per_s", "device")},
        **machine_and_time(),
    }


def train_and_record(config: TrainConfig, folder: Path, records: Records, test_chars: int | None,
                     threads: int, keep: Path | None) -> dict:
    """Train (or resume) one run in ``folder``, record it, and copy its best model and log to
    ``keep`` if given; the folder goes. The run is checked at every validation, and stopped and
    recorded as unstable once its curve climbs (``stability``): the study then trains that row at
    a lower rate."""
    import torch

    from ..corpus import load_corpus
    from ..training.trainer import INTERRUPTED, PAUSED, STOPPED_EARLY, language_model_run

    torch.set_num_threads(threads)
    record = records.read(config)
    if record is not None:  # recorded meanwhile (its folder outlived it if stopped just then)
        shutil.rmtree(folder, ignore_errors=True)
        return record
    claim(folder, records)
    corpus = load_corpus(config.corpus)
    trainer = language_model_run(config, folder, progress=False, corpus=corpus)
    trainer.prepare()
    while True:
        outcome = trainer.run(until_step=trainer.step + config.eval_every)
        if outcome == INTERRUPTED:  # saved where it stopped: the same command resumes it
            print(f"\nstopped at step {trainer.step}; resume with the same command ({folder})",
                  flush=True)
            raise KeyboardInterrupt
        rise = climb(validations(folder))
        if rise is not None:
            record = json.loads(records.write(config, unstable_figures(trainer, folder, rise)).read_text())
            break
        if outcome != PAUSED:
            trainer.finish(outcome == STOPPED_EARLY)
            if keep is not None:  # before the record: a recorded run is never trained again
                keep_run(folder, keep)
            record = json.loads(records.write(config, evaluate_run(
                folder, corpus, test_chars)).read_text())
            break
    shutil.rmtree(folder, ignore_errors=True)
    return record


def keep_run(folder: Path, dest: Path) -> None:
    """Copy a finished run's best model, log and stamps to ``dest`` in one rename: what shipping
    reads (``trainer.ship``), without the last snapshot and its optimizer state, which weigh
    several times more."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged = dest.parent / f".{dest.name}.tmp"
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(folder, staged, ignore=shutil.ignore_patterns("last*", ".saving-*"))
    shutil.rmtree(dest, ignore_errors=True)
    staged.rename(dest)


STAMP = "code.json"  # in a run folder: the code and data versions that started the run


def stamp_of(folder: Path) -> dict | None:
    """The code and data versions that started the run in ``folder`` (None: no stamp)."""
    try:
        return json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return None


def stamp_for(records: Records) -> dict:
    """The stamp of a run started now: the code and data versions its record will carry."""
    return {"code": records.code, "data": records.data}


def claim(folder: Path, records: Records) -> None:
    """Let a run folder be resumed only by the code that started it on the same text.

    A run's folder and stash are named without the code version, so a run stopped part-way and
    resumed after a change to the models or the trainer would otherwise be finished by the new
    code and recorded as its run. A folder without this code's stamp starts again from nothing.
    """
    if code_version() != records.code:  # a worker imports the files as they are now
        raise RuntimeError("the code changed while the study ran: start the study again")
    if folder.exists() and (theirs := stamp_of(folder)) != stamp_for(records):
        print(f"{folder.name}: started by other code or text ({theirs or 'no stamp'}, now "
              f"{stamp_for(records)}); it trains again from the start", flush=True)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP).write_text(json.dumps(stamp_for(records)))


def unstable_figures(trainer, folder: Path, rise: dict) -> dict:
    """What a record keeps of a run stopped as unstable: where it climbed, its curve, how far it
    got (no test figures: it has no model worth measuring)."""
    from ..models import count_params

    return {
        "unstable": rise,
        "curve": validations(folder),
        "train": {"params": count_params(trainer.model),
                  "steps": trainer.step, "chars": trainer.chars, "time": round(trainer.elapsed, 1),
                  "chars_per_s": round(trainer.chars / max(trainer.elapsed, 1e-9)),
                  "device": str(trainer.device)},
        **machine_and_time(),
    }


def machine_and_time() -> dict:
    """Where a run was trained and when it was recorded."""
    import torch

    return {"machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                        "threads": torch.get_num_threads(), "torch": torch.__version__},
            "finished": datetime.now(UTC).isoformat(timespec="seconds")}


def run_line(record: dict) -> str:
    """A finished run in one line of the study's log."""
    t = record["train"]
    took = f"({t['chars']:,} chars in {t['time']:.0f} s)"
    if "unstable" in record:
        u = {k: "NaN" if v is None else v for k, v in record["unstable"].items()}
        return (f"  {record['name']}: unstable, stopped: validation {u['val_bpc']:.4} at "
                f"{u['chars']:,} chars, best {u['best_val_bpc']:.4} {took}")
    return f"  {record['name']}: val {record['val_bpc']:.4f}, test {record['test_bpc']:.4f} {took}"


def threads_per_job(jobs: int) -> int:
    """The cores shared among runs trained side by side: each gets its share, at least one."""
    return max(1, (os.cpu_count() or 1) // jobs)


def train_side_by_side(next_runs: Callable[[Collection[str]], list[TrainConfig]],
                       name: Callable[[TrainConfig], str], work: Callable[[TrainConfig], tuple],
                       jobs: int, done: Callable[[dict], None]) -> int:
    """Train ``train_and_record(*work(config))`` for each run ``next_runs(in_flight)`` asks for,
    ``jobs`` at a time, asking again as each finishes (a finished run can decide the next ones),
    until it asks for none; ``done`` gets each record. Returns how many were trained."""
    trained = 0
    if jobs == 1:
        while needed := next_runs(()):
            done(train_and_record(*work(needed[0])))
            trained += 1
        return trained
    in_flight = {}
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        while True:
            for config in next_runs(in_flight):
                if len(in_flight) < jobs and name(config) not in in_flight:
                    in_flight[name(config)] = pool.submit(train_and_record, *work(config))
            if not in_flight:
                return trained
            finished, _ = wait(in_flight.values(), return_when=FIRST_COMPLETED)
            for key, future in list(in_flight.items()):
                if future in finished:
                    del in_flight[key]
                    done(future.result())
                    trained += 1


class Reproduction:
    def __init__(self, budget: StudyBudget, where: Where, corpus: str, device: str, jobs: int,
                 log=print):
        from ..corpus import load_corpus

        self.budget, self.where, self.corpus, self.device, self.jobs = budget, where, corpus, device, jobs
        self.log = log
        self.records = Records(where.records, code_version(), data_version(load_corpus(corpus)),
                               precision_of(device))
        self.study = Study(budget, corpus, self.records.read)

    def folder(self, config: TrainConfig) -> Path:
        return self.where.runs / "study" / self.records.name(config)

    def keep(self, config: TrainConfig) -> bool:
        """Checkpoints are kept only where a shipped model may come from: seed 0 of the
        reference scale at a full budget."""
        b = self.budget
        return (config.params == b.reference_params and config.seed == 0
                and config.max_chars >= b.scale(b.reference_params).full_chars)

    # ---- runs stopped part-way travel with the repository ---------------------------------
    @property
    def stash_folder(self) -> Path:
        return self.where.results / "in-progress"

    def stash(self) -> list[str]:
        """Copy the runs stopped part-way (their snapshots, best model and log) to
        ``results/in-progress/``, so that a sitting on another machine resumes them instead of
        starting again; stashes of runs recorded since, or started by other code, go. Returns
        the runs stashed."""
        from ..training import snapshots

        shutil.rmtree(self.stash_folder, ignore_errors=True)
        stashed = []
        for run in sorted((self.where.runs / "study").glob("*")):
            if (snapshots.find(run) and not self.records.holds(run.name)
                    and stamp_of(run) == stamp_for(self.records)):
                shutil.copytree(run, self.stash_folder / run.name)
                stashed.append(run.name)
        return stashed

    def unstash(self) -> list[str]:
        """Put each stashed run where training looks for it, unless this machine has it already
        (its own copy is at least as far along: the stash is made from it) from the same code.
        Returns those put."""
        put = []
        for run in sorted(self.stash_folder.glob("*")) if self.stash_folder.is_dir() else ():
            local = self.where.runs / "study" / run.name
            if self.records.holds(run.name) or stamp_of(run) != stamp_for(self.records):
                continue
            if local.exists() and stamp_of(local) == stamp_for(self.records):
                continue
            shutil.rmtree(local, ignore_errors=True)
            shutil.copytree(run, local)
            put.append(run.name)
        return put

    def train(self) -> int:
        """Train every run the study needs, ``jobs`` at a time, until none is left; return how
        many were trained. Runs stashed by an earlier sitting resume from where they stopped."""
        for name in self.unstash():
            self.log(f"  {name}: resumes from results/in-progress")
        return train_side_by_side(self.next_runs, self.records.name,
                                  self._work, self.jobs, self._done)

    def next_runs(self, in_flight: Collection[str] = ()) -> list[TrainConfig]:
        """The runs the study needs, in the order to start them beside ``in_flight`` (names).

        Runs stopped part-way come first (what they trained is not left waiting). Then, while
        fewer than ``jobs - 1`` ladder runs train, a ladder's next run: a ladder climbs one rung
        at a time, its scale waits for it, and it is the study's longest chain, so it climbs
        beside the rest instead of after it. Then the study's order, scale by scale, so that a
        scale's answer comes as soon as it can.
        """
        needed, decided = self.study.walk()
        name = self.records.name
        ladder = [name(c) for here in decided["scales"].values() for c in here.get("ladder_runs", ())]
        climbing = sum(n in in_flight for n in ladder)
        promoted = [n for n in ladder if n not in in_flight][:max(0, self.jobs - 1 - climbing)]
        return sorted(needed, key=lambda c: (not (self.folder(c) / "last").is_dir(),
                                             name(c) not in promoted))

    def _work(self, config: TrainConfig) -> tuple:
        """``train_and_record``'s arguments for a run: the cores are shared among the jobs."""
        threads = threads_per_job(self.jobs)
        return (replace(config, device=self.device), self.folder(config), self.records,
                self.budget.test_chars, threads,
                self.where.kept / self.records.name(config) if self.keep(config) else None)

    def _done(self, record: dict) -> None:
        self.log(run_line(record))

    # ---- the plan -----------------------------------------------------------------------------
    def plan(self) -> list[str]:
        """What remains (at least: a grid that must grow or a ladder that must climb adds runs)
        and how long it should take here, from the records' or measured throughput; then the
        same if every unfinished ladder climbs to its last rung (B unknown: the range)."""
        done = len(self.records.all()) if self.where.records.is_dir() else 0
        throughputs: dict[tuple, float] = {}
        least = self.study.walk(assume=True)[0]
        lines = [f"{done} runs recorded by this code in {self.where.records}; at least {len(least)} to go:",
                 *self._estimate(least, throughputs)]
        probe = self.probe()
        if probe.folder.is_dir():
            likely = Study(self.study.budget, self.study.corpus, self.study.record_of,
                           predicted=probe.read).walk(assume=True)[0]
            lines += [f"if the study's runs end as the same runs trained in bf16 on a GPU did "
                      f"({probe.folder}), at least {len(likely)} to go:",
                      *self._estimate(likely, throughputs)]
        most = Study(self.study.budget, self.study.corpus, self.study.record_of,
                     to_top=True).walk(assume=True)[0]
        if len(most) != len(least):
            lines += [f"if every unfinished ladder climbs to its last rung "
                      f"({2 ** (self.budget.rungs - 1)}x its first), at least {len(most)} to go:",
                      *self._estimate(most, throughputs)]
        measured = sorted(f"{' '.join(filter(None, (v, d)))} at {p // 1000}k"
                          for v, d, p in throughputs if not self._recorded_throughputs(v, d, p))
        if measured:
            lines.append(f"(measured now, with no record to go by: {', '.join(measured)}; "
                         f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, "
                         "and anything else running makes these read slow)")
        return lines

    def probe(self) -> Records:
        """The GPU probes' records (``ladder_probe``, ``scale_probe``): runs of this study trained
        in bf16 on a GPU, which a plan may take as predictions of the fp32 runs and the results
        show as previews."""
        r = self.records
        return Records(self.where.results / PROBE_FOLDER, r.code, r.data, "bf16")

    def _estimate(self, configs: list[TrainConfig], throughputs: dict[tuple, float]) -> list[str]:
        """Runs, characters left (less what runs stopped part-way have trained) and hours per
        scale, and in all (``throughputs``: characters/s by design and size, cached)."""
        lines, total = [], 0.0
        b = self.budget
        selecting = b.scale(b.selection_params)  # its sweep-length runs: the selection's
        by_scale: dict[tuple[int, bool], list] = {}
        for c in configs:
            stage = c.params == selecting.params and c.max_chars == selecting.sweep_chars
            by_scale.setdefault((c.params, not stage), []).append(c)
        for (params, scale), runs in sorted(by_scale.items(), key=lambda k: k[0][::-1]):
            seconds, chars = 0.0, 0
            for c in runs:
                key = (c.variant, c.design, c.params)
                if key not in throughputs:
                    throughputs[key] = self._chars_per_s(c)
                left = c.max_chars - self.trained_so_far(c)
                seconds += left / throughputs[key]
                chars += left
            seconds /= self.jobs
            total += seconds
            what = "parameters:" if scale else "selection:"
            lines.append(f"  {params // 1000:>5}k {what:<11} {len(runs):>3} runs, "
                         f"{chars / 1e6:,.0f}M characters, about {seconds / 3600:.1f} h")
        lines.append(f"  in all about {total / 3600:.1f} h here with {self.jobs} job(s) "
                     f"on {os.cpu_count()} cores, with nothing else running")
        return lines

    def trained_so_far(self, config: TrainConfig) -> int:
        """Characters a run stopped part-way by this code has trained (here or in the stash):
        it resumes from its snapshot."""
        from ..training import snapshots

        done = 0
        for folder in (self.folder(config), self.stash_folder / self.records.name(config)):
            if stamp_of(folder) == stamp_for(self.records) and (last := snapshots.find(folder)):
                done = max(done, snapshots.progress_of(last)["chars"])
        return done

    @cached_property
    def _throughputs(self) -> dict[tuple, list[float]]:
        """The characters/s of each record, by (variant, design, parameters)."""
        found: dict[tuple, list[float]] = {}
        for r in self.records.all():
            c = r["config"]
            found.setdefault((c["variant"], c["design"], c["params"]), []).append(r["train"]["chars_per_s"])
        return found

    def _recorded_throughputs(self, variant: str, design: str | None, params: int) -> list[float]:
        return self._throughputs.get((variant, design, params), [])

    def _chars_per_s(self, config: TrainConfig) -> float:
        """Characters/s of this design at this size: the median over its records, else measured.

        The median, because a record's time is wall time: one that trained across a pause, or
        beside a test run, reads slow, and which record came first says nothing."""
        if recorded := self._recorded_throughputs(config.variant, config.design, config.params):
            return statistics.median(recorded)
        import torch

        from ..corpus import load_corpus
        from ..training.throughput import measure, trainer_for

        threads = threads_per_job(self.jobs)
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            trainer = trainer_for(config.variant, config.params, load_corpus(config.corpus),
                                  config.batch_size, config.seq_len, config.model)
            return measure(trainer, seconds=1.0)
        finally:
            torch.set_num_threads(previous)


SMOKE_CHARS = 120_000


def smoke_corpus(folder: Path) -> str:
    """The smoke study's corpus: the first plays' opening characters, as a text file (split
    0.9 / 0.05 / 0.05), so that every run and its evaluation take a moment."""
    from ..corpus import load_corpus

    path = folder / "shakespeare-excerpt.txt"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(load_corpus("shakespeare").train[:SMOKE_CHARS])
    return str(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="cnngru reproduce", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="the same study on a tiny budget, "
                   "in runs-smoke/")
    p.add_argument("--plan", action="store_true", help="print what remains and stop")
    p.add_argument("--device", default="cpu")
    p.add_argument("--jobs", type=int, default=1, help="runs trained side by side")
    p.add_argument("--runs", default=None, help="checkpoints while training (default runs/)")
    p.add_argument("--results", default=None, help="default results/ (smoke: runs-smoke/results)")
    p.add_argument("--checkpoints", default=None, help="where the shipped models go "
                   "(default checkpoints/; smoke: runs-smoke/checkpoints)")
    p.add_argument("--corpus", default="shakespeare")
    p.add_argument("--train-only", action="store_true", help="train and record, write nothing else")
    p.add_argument("--write-only", action="store_true", help="write the results from the records "
                   "there are, training no language model (e.g. while another sitting trains; "
                   "once the 1M scale is done its models ship, and the refiner trains if the "
                   "shipped one has another recipe)")
    p.add_argument("--stash", action="store_true", help="once the study has stopped: copy the "
                   "runs stopped part-way to results/in-progress/ (commit it: a sitting on any "
                   "machine resumes them) and stop")
    args = p.parse_args(argv)
    where = Where.of(args.smoke, args.runs, args.results, args.checkpoints)
    corpus = smoke_corpus(where.runs) if args.smoke and args.corpus == "shakespeare" else args.corpus
    reproduction = Reproduction(SMOKE if args.smoke else CPU, where, corpus, args.device, args.jobs)
    if args.plan:
        print("\n".join(reproduction.plan()))
        return
    if args.stash:
        stashed = reproduction.stash()
        print(f"{len(stashed)} runs stopped part-way stashed in {reproduction.stash_folder}:",
              *stashed, sep="\n  ")
        return
    if not args.write_only:
        start = time.time()
        trained = reproduction.train()
        print(f"{trained} runs trained in {time.time() - start:.0f} s; every run has a record")
    if not args.train_only:
        from .write_up import write_up

        write_up(reproduction)
