"""``cnngru reproduce``: the whole results table from one command, resumable in pieces.

Stages, every row (the four variants and the transformer reference) treated alike:
  1. learning-rate sweep at a reduced budget, chosen on validation BPC;
  2. three seeds at the reduced budget with the chosen rate (the seed study);
  3. the full run with the chosen rate; the transformer also at the baseline's wall time;
  4. the full runs are shipped to ``checkpoints/`` and evaluated on the test plays;
  5. ``results/results.json`` and ``results/results.md`` (and the curves) are written.
Each run's folder is named by a hash of its configuration and reused when it holds a finished
run, so stopping and re-running the command continues where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .. import checkpoint
from ..corpus import load_corpus
from ..likelihood import bits_per_char
from ..models import VARIANTS
from ..paths import RESULTS_DIR, SHIPPED
from ..training import TrainConfig, recipe_key, ship, train
from .intervals import bootstrap_bpc, chunk_sums, paired_difference
from .measures import TEST_STREAMS, generation_speed, sample_stats, test_nll
from .readme_blocks import write_block
from .report import BASELINE, answer, markdown_table, plot_curves

ROWS = (*VARIANTS, "transformer")


@dataclass
class Budget:
    """How much training each stage gets. ``--smoke`` shrinks everything to run in a minute."""

    params: int = 1_000_000
    full_chars: int = 1280 * 16384  # 20.97M characters: 1,280 steps of 128 x 128
    sweep_chars: int = 192 * 16384  # 3.1M characters per sweep and seed run
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    seeds: tuple[int, ...] = (0, 1, 2)
    batch_size: int = 128
    seq_len: int = 128
    eval_every: int = 64
    eval_chars: int = 200_000
    test_chars: int | None = None  # None: the whole test split
    samples: int = 8  # seeded samples per row for the sample statistics
    # the refiner (not a language model: its own task and recipe, see cnngru/refiner/train.py)
    refiner: dict = field(default_factory=lambda: dict(
        params=800_000, max_chars=400_000_000, batch_size=256, seq_len=256, lr=2e-3,
        eval_every=200, eval_chars=65536))
    refiner_heldout_chars: int = 40_000


SMOKE = Budget(params=250_000, full_chars=12 * 16 * 64, sweep_chars=4 * 16 * 64, lrs=(1e-3, 3e-3),
               batch_size=16, seq_len=64, eval_every=4, eval_chars=5_000, test_chars=20_000,
               samples=2, refiner=dict(params=100_000, max_chars=8 * 16 * 64, batch_size=16,
                                       seq_len=64, lr=2e-3, eval_every=4, eval_chars=4096),
               refiner_heldout_chars=4_000)


def run_config(budget: Budget, row: str, lr: float, chars: int, seed: int, corpus: str) -> TrainConfig:
    return TrainConfig(variant=row, corpus=corpus, params=budget.params, batch_size=budget.batch_size,
                       seq_len=budget.seq_len, max_chars=chars, lr=lr, seed=seed,
                       eval_every=budget.eval_every, eval_chars=budget.eval_chars)


def run_dir(runs: Path, config: TrainConfig) -> Path:
    """A run's folder: named by its recipe (everything that defines its result)."""
    return runs / f"{config.variant}-lr{config.lr:g}-{config.max_chars}-s{config.seed}-{recipe_key(config)}"


def _train_one(args: tuple[TrainConfig, str, int]) -> dict:
    config, out, threads = args
    import torch

    torch.set_num_threads(threads)
    return train(config, out, progress=False)


@dataclass
class Plan:
    """What the training stages decided, handed to the evaluation: every run by its role."""

    sweep: dict[str, dict[float, dict]]  # row -> learning rate -> the sweep run's summary
    chosen_lr: dict[str, float]  # row -> the rate with the best validation BPC
    seeds: dict[str, list[TrainConfig]]  # row -> its seed runs at the reduced budget
    full: dict[str, TrainConfig]  # row -> its full run (the shipped checkpoint)
    equal_time: TrainConfig  # the transformer at the baseline's wall time


@dataclass
class Entry:
    """A row to evaluate: its checkpoint, the run that made it, and its seed runs (if any)."""

    name: str
    variant: str
    config: TrainConfig
    folder: Path
    seed_configs: list[TrainConfig]


class Reproduction:
    def __init__(self, budget: Budget, runs: Path, results: Path, shipped: Path, corpus: str,
                 device: str, jobs: int, train_only: bool = False, log=print):
        self.budget, self.runs, self.results, self.shipped = budget, runs, results, shipped
        self.train_only = train_only
        self.corpus, self.device, self.jobs, self.log = corpus, device, jobs, log

    def train_all(self, configs: list[TrainConfig]) -> list[dict]:
        """Train what is not finished yet (in parallel with ``jobs`` > 1); return every summary."""
        todo = [c for c in configs if not (run_dir(self.runs, c) / "summary.json").is_file()]
        self.log(f"  {len(configs) - len(todo)} of {len(configs)} runs reused, {len(todo)} to train")
        work = [(replace(c, device=self.device), str(run_dir(self.runs, c)),
                 max(1, (os.cpu_count() or 1) // self.jobs)) for c in todo]
        if self.jobs > 1 and len(work) > 1:
            with ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn")) as pool:
                for config, summary in zip(todo, pool.map(_train_one, work), strict=True):
                    self.log(f"  done {run_dir(self.runs, config).name}: val {summary['val_bpc']}")
        else:
            for w in work:
                summary = _train_one(w)
                self.log(f"  done {Path(w[1]).name}: val {summary['val_bpc']}")
        return [self.summary(c) for c in configs]

    def summary(self, config: TrainConfig) -> dict:
        return json.loads((run_dir(self.runs, config) / "summary.json").read_text())

    def train_stages(self) -> Plan:
        """Stages 1-3: the sweep, the seed study and full runs, the transformer at equal time."""
        b = self.budget
        cfg = lambda row, lr, chars, seed=0: run_config(b, row, lr, chars, seed, self.corpus)  # noqa: E731
        self.log("1/5 learning-rate sweep")
        sweep = {row: dict(zip(b.lrs, self.train_all([cfg(row, lr, b.sweep_chars) for lr in b.lrs]),
                               strict=True)) for row in ROWS}
        chosen = {row: min(b.lrs, key=lambda lr: sweep[row][lr]["best_val_bpc"]) for row in ROWS}
        self.log(f"   chosen: {chosen}")
        self.log("2/5 seed study and full runs")
        seeds = {row: [cfg(row, chosen[row], b.sweep_chars, s) for s in b.seeds] for row in ROWS}
        full = {row: cfg(row, chosen[row], b.full_chars) for row in ROWS}
        self.train_all([c for cs in seeds.values() for c in cs] + list(full.values()))
        self.log("3/5 the transformer at the baseline's wall time")
        base, ref = self.summary(full[BASELINE]), self.summary(full["transformer"])
        steps = max(1, round(base["time"] * ref["chars_per_s"] / (b.batch_size * b.seq_len)))
        equal_time = cfg("transformer", chosen["transformer"], steps * b.batch_size * b.seq_len)
        self.train_all([equal_time])
        return Plan(sweep, chosen, seeds, full, equal_time)

    def run(self) -> dict:
        start = time.time()
        plan = self.train_stages()
        if self.train_only:
            return {}
        self.log("4/5 shipping the full runs and evaluating on the test plays")
        corpus = load_corpus(self.corpus)
        for row in ROWS:
            ship(run_dir(self.runs, plan.full[row]), self.shipped / row)
        (self.shipped / "words.txt").write_text("\n".join(sorted(corpus.words())) + "\n")
        table = self.evaluate(corpus, plan)
        table["refiner"] = self.refiner(corpus)
        self.log("5/5 writing results")
        table["reproduction_time_s"] = round(time.time() - start, 1)
        self.write(table)
        return table

    def refiner(self, corpus) -> dict:
        """Train (unless the shipped refiner has exactly this recipe) and measure the refiner."""
        from ..refiner.metrics import measure_refiner
        from ..refiner.train import train_refiner

        dest = self.shipped / "refiner"
        recipe = {**self.budget.refiner, "corpus": self.corpus}
        shipped = _train_config(dest)
        if shipped is None or any(shipped.get(k) != v for k, v in recipe.items()):
            self.log("   training the refiner")
            key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
            train_refiner(self.runs / f"refiner-{key}", device=self.device, ship=dest,
                          progress=False, **recipe)
        else:
            self.log("   the shipped refiner has this recipe: reused")
        lms = {row: checkpoint.load(self.shipped / row, device="cpu") for row in VARIANTS}
        return measure_refiner(checkpoint.load(dest, device="cpu"), lms, corpus.words(),
                               heldout=corpus.test, heldout_chars=self.budget.refiner_heldout_chars,
                               samples=self.budget.samples)

    def evaluate(self, corpus, plan: Plan) -> dict:
        """Every row on the same test text: BPC, intervals, paired differences, samples, speed."""
        entries = [Entry(row, row, plan.full[row], self.shipped / row, plan.seeds[row]) for row in ROWS]
        entries.append(Entry("transformer (equal time)", "transformer", plan.equal_time,
                             run_dir(self.runs, plan.equal_time) / "best", []))
        test = corpus.test[: self.budget.test_chars] if self.budget.test_chars else corpus.test
        sums, t0 = {}, time.time()
        for e in entries:
            sums[e.name], counts = chunk_sums(test_nll(checkpoint.load(e.folder, device="cpu"), test))
            if e.name == ROWS[-1]:
                eval_time = time.time() - t0  # the five main rows, as the target counts them
        rows = [self.describe(e, sums, counts, test, corpus.words()) for e in entries]
        return {
            "rows": rows, "curves": {e.name: self.curve(e.config) for e in entries},
            "answer": answer(rows),
            "sweep": {row: {f"{lr:g}": s["best_val_bpc"] for lr, s in plan.sweep[row].items()}
                      for row in ROWS},
            "chosen_lr": plan.chosen_lr, "budget": asdict(self.budget), "corpus": corpus.name,
            "test_chars": int(counts.sum()), "test_eval_time_s": round(eval_time, 1),
            "test_streams": TEST_STREAMS,
            "bootstrap": {"chunk_chars": 2000, "resamples": 2000, "interval": "95% percentile"},
        }

    def describe(self, e: Entry, sums: dict, counts: np.ndarray, test: str, words) -> dict:
        """One row of the table."""
        bundle = checkpoint.load(e.folder, device="cpu")
        summary = self.summary(e.config)
        lo, hi = bootstrap_bpc(sums[e.name], counts)
        diff = paired_difference(sums[e.name], sums[BASELINE], counts) if e.name != BASELINE else None
        seeds = None
        if e.seed_configs:
            values = [bits_per_char(test_nll(checkpoint.load(run_dir(self.runs, c) / "best",
                                                             device="cpu"), test))
                      for c in e.seed_configs]
            seeds = {"values": values, "mean": float(np.mean(values)),
                     "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
        stats = sample_stats(bundle, words, samples=self.budget.samples)
        return {
            "name": e.name, "variant": e.variant, "params": summary["params"],
            "train_chars": summary["chars"], "train_time_s": summary["time"],
            "train_chars_per_s": summary["chars_per_s"], "device": summary["device"],
            "lr": e.config.lr, "val_bpc": summary["best_val_bpc"],
            "test_bpc": float(sums[e.name].sum() / counts.sum() / math.log(2)),
            "test_bpc_ci": [lo, hi], "diff_vs_gru": diff[0] if diff else None,
            "diff_ci": [diff[1], diff[2]] if diff else None, "seeds": seeds,
            "gen_chars_per_s": generation_speed(bundle) if e.variant in VARIANTS else None,
            **{k: stats[k] for k in ("real_word_rate", "distinct_2", "distinct_3", "repetition")},
            "sample_temperature": stats["temperature"],
        }

    def curve(self, config: TrainConfig) -> list[list[float]]:
        """Validation BPC against training characters, from the run's log."""
        log = (run_dir(self.runs, config) / "log.jsonl").read_text().splitlines()
        return [[r["chars"], r["val_bpc"]] for r in map(json.loads, log) if "val_bpc" in r]

    def write(self, table: dict) -> None:
        self.results.mkdir(parents=True, exist_ok=True)
        (self.results / "results.json").write_text(json.dumps(table, indent=1))
        md = markdown_table(table)
        if table.get("refiner"):
            from ..refiner.metrics import markdown

            md += "\n## The refiner (post-processing CNN)\n\n" + markdown(table["refiner"]) + "\n"
        (self.results / "results.md").write_text(md)
        if self.results.resolve() == RESULTS_DIR.resolve():
            write_block("results", md)
        plot_curves(table["curves"], self.results / "curves.png")


def _train_config(folder: Path) -> dict | None:
    try:
        return json.loads((folder / checkpoint.META).read_text())["metadata"]["train_config"]
    except (OSError, KeyError, ValueError):
        return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="cnngru reproduce", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="the same pipeline on a tiny budget")
    p.add_argument("--device", default="cpu")
    p.add_argument("--jobs", type=int, default=1, help="training runs in parallel")
    p.add_argument("--runs", default=None, help="where runs are kept (default runs/ or runs-smoke/)")
    p.add_argument("--results", default=None, help="default results/ (smoke: runs-smoke/results)")
    p.add_argument("--checkpoints", default=None, help="where full runs are shipped "
                   "(default checkpoints/; smoke: runs-smoke/checkpoints)")
    p.add_argument("--corpus", default="shakespeare")
    p.add_argument("--train-only", action="store_true",
                   help="stop after training (e.g. train on a GPU machine, evaluate elsewhere)")
    args = p.parse_args(argv)
    root = Path("runs-smoke" if args.smoke else "runs")
    runs = Path(args.runs) if args.runs else root
    results = Path(args.results or (root / "results" if args.smoke else RESULTS_DIR))
    shipped = Path(args.checkpoints or (root / "checkpoints" if args.smoke else SHIPPED))
    table = Reproduction(SMOKE if args.smoke else Budget(), runs, results, shipped, args.corpus,
                         args.device, args.jobs, args.train_only).run()
    if table:
        print(markdown_table(table))
