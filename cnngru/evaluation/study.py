"""The study behind the answer, as decisions made from run records.

Every decision is a pure function of the records of finished runs, so the study can stop at any
point and go on later, on another machine, and a plan of what remains can be printed:

  1. selection   every candidate design of every strategy at ``selection_params``, seed 0, on
                 one learning-rate grid shared by all of them, grown until each candidate's best
                 rate has a worse neighbour on each side; then every candidate's other seeds at
                 that rate; each strategy keeps the design whose seeds have the best mean;
  2. sweeps      at every scale, each row (the selected designs, and the transformer at the
                 reference scale) gets its own grid, grown the same way, at the sweep budget;
  3. budget      the GRU at its rate, at B, 2B, 4B ... until doubling improves validation BPC
                 by less than ``converged`` (or makes it worse): B is the lower one;
  4. rates       each row's rate at B: seed 0 at the sweep's choice and at the next lower rate,
                 going down while the lower one does better (B is at least twice a sweep's
                 length, 32 times at 100k and 300k, and a longer run can want a lower rate);
  5. seeds       every row, every seed, at B and its rate; at the reference scale the GRU also
                 runs its neighbouring rates at B, to check the sweep's ranking there; at the
                 selection scale each of ``checked_designs`` that lost the selection trains
                 once at B and its strategy's rate, to check that the selection's short budget
                 did not decide against it.

A rate chosen from short sweep runs can be too high for the long ones: a run of stages 3 to 5 that
turns unstable (``stability``) counts as infinitely bad in stage 4 and moves its row (the whole
ladder, or all the row's seeds) to the next lower rate; the unstable runs are reported.

Each run is a ``TrainConfig``; it is done when ``run_records`` holds its record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

from ..models import VARIANTS, candidates
from ..training import TrainConfig
from ..training.cpu_recipe import cpu_recipe, warmup_for
from .lr_bracket import best_rate, rates_to_add
from .stability import NoStableRate, is_unstable, lower_rate

BASELINE = "gru"  # the row every difference is measured from
REFERENCE = "transformer"  # the row from outside the question, at the reference scale only


@dataclass(frozen=True)
class Scale:
    params: int
    sweep_chars: int  # each learning-rate sweep run
    full_chars: int  # the first rung of the convergence ladder


@dataclass(frozen=True)
class StudyBudget:
    scales: tuple[Scale, ...]
    selection_params: int  # where the designs are chosen (one of the scales)
    reference_params: int  # where the transformer runs and the sweep's ranking is checked
    grid: tuple[float, ...]  # the learning rates every sweep starts from
    seeds: tuple[int, ...] = (0, 1, 2)
    # candidates trained once more, if they lose the selection, at the selection scale's full
    # budget beside the selected design: (strategy, design) pairs whose case may rest on long
    # training, which the selection's sweep budget does not give
    checked_designs: tuple[tuple[str, str], ...] = ()
    seq_len: int = 128
    eval_every: int = 50  # steps between validations (the curves)
    eval_chars: int = 100_000  # characters per periodic validation (the records use all)
    converged: float = 0.01  # validation BPC between rungs B and 2B
    rungs: int = 5  # B, 2B, 4B, 8B, 16B at most (times the first rung)
    test_chars: int | None = None  # None: the whole test split
    # the refiner (not a language model: its own task and recipe, see cnngru/refiner/train.py),
    # trained once the shipped models are, and measured with them
    refiner: dict = field(default_factory=lambda: dict(
        params=800_000, max_chars=400_000_000, batch_size=256, seq_len=256, lr=2e-3,
        eval_every=200, eval_chars=65536))
    refiner_heldout_chars: int = 40_000

    def scale(self, params: int) -> Scale:
        return next(s for s in self.scales if s.params == params)


# Budgets in whole steps of the CPU recipe (128 streams of 128 characters). They are written out
# rather than derived from ``cpu_recipe``: a run's record is named by its characters, so a
# change to the recipe must not silently rename, and retrain, the whole study.
STEP = 128 * 128
CPU = StudyBudget(
    scales=(Scale(100_000, 300 * STEP, 600 * STEP), Scale(300_000, 300 * STEP, 600 * STEP),
            Scale(1_000_000, 600 * STEP, 1200 * STEP)),
    selection_params=300_000, reference_params=1_000_000, grid=(5e-3, 1e-2, 2e-2),
    checked_designs=(("hybrid", "cnn-memory256"),))  # attention pays after long training?
SMOKE_STEP = 8 * 32
SMOKE = StudyBudget(
    scales=(Scale(40_000, 4 * SMOKE_STEP, 6 * SMOKE_STEP), Scale(60_000, 4 * SMOKE_STEP, 6 * SMOKE_STEP),
            Scale(90_000, 4 * SMOKE_STEP, 6 * SMOKE_STEP)),
    selection_params=60_000, reference_params=90_000, grid=(5e-3, 1e-2), seq_len=32,
    checked_designs=(("hybrid", "cnn-memory256"),),
    eval_every=3, eval_chars=4_000, rungs=2,
    refiner=dict(params=100_000, max_chars=8 * 16 * 64, batch_size=16, seq_len=64, lr=2e-3,
                 eval_every=4, eval_chars=4096), refiner_heldout_chars=4_000)


class ScaleDecisions(TypedDict, total=False):
    """What ``Study.walk`` has decided at one scale so far (``decided["scales"][params]``); a
    key appears once its stage has decided it."""

    rows: list[Row]  # the compared rows: each strategy's selected design (+ the reference)
    ladder_runs: list[TrainConfig]  # needed runs the ladder waits on: the GRU's sweep, its rungs
    sweeps: dict[Row, dict[float, float]]  # stage 2: each swept row's grid, rate -> val BPC
    lrs: dict[Row, float]  # each row's best rate at the sweep budget
    ladder: dict  # stage 3 so far: {"chars": B or None, "rungs": [[chars, val]], "converged",
    #                                "lr": the ladder's rate, "unstable": its unstable rungs}
    budget: dict  # the same dict as "ladder", set only once B is known
    rates: dict[Row, dict]  # stage 4: {"tried": {lr: val at B}, "lr": kept or None, "seeds_lr"}
    seeds: dict[Row, list[TrainConfig]]  # stage 5: each row's seed runs at B, at "seeds_lr",
    #                                      for the rows whose rate is chosen so far
    ranking: list[TrainConfig]  # reference scale: the GRU's sweep rate and neighbours at B
    checks: dict[Row, TrainConfig]  # selection scale: each checked design that lost, at B and
    #                                 its strategy's kept rate, seed 0
    unstable: list[TrainConfig]  # every unstable run met at this scale (stages 3 to 5)
    failed: str  # why this scale stopped (no stable rate): a person must look


@dataclass(frozen=True)
class Row:
    """A row of the comparison: a strategy in one design (the transformer has none)."""

    variant: str
    design: str | None = None

    @property
    def name(self) -> str:
        return self.variant


class Study:
    """Walks the stages over the records: which runs are needed next, and what was decided.

    ``record_of(config)`` returns a finished run's record (``Records.read``), or None. With
    ``assume=True`` a stage that is not finished is taken to end as if nothing more were needed
    (its grid's best rate, B at the first rung), so that the later stages' runs can be counted
    for a plan. With ``to_top`` as well, an unfinished ladder climbs to its last rung instead:
    the plan's most.

    ``predicted(config)``, for a plan, stands in for a run not recorded yet (e.g. the same run
    trained in bf16 on a GPU): the stages decide on it, and the run is still counted as needed.
    """

    def __init__(self, budget: StudyBudget, corpus: str,
                 record_of: Callable[[TrainConfig], dict | None], to_top: bool = False,
                 predicted: Callable[[TrainConfig], dict | None] | None = None):
        self.budget, self.corpus, self.record_of = budget, corpus, record_of
        self.to_top, self.predicted = to_top, predicted
        self._stood_in: list[TrainConfig] = []  # predicted runs the stages decided on

    # ---- runs -----------------------------------------------------------------------------
    def config(self, row: Row, params: int, lr: float, chars: int, seed: int = 0) -> TrainConfig:
        """A run of the study: the CPU recipe's batch for the scale's full budget, warmup for
        this run's length; only the rate, the length and the seed vary within a scale."""
        b = self.budget
        batch = cpu_recipe(self.budget.scale(params).full_chars).batch_size
        steps = max(1, chars // (batch * b.seq_len))
        # as JSON holds them (lists, not tuples): a run resumed from its snapshot compares the
        # config read back from JSON with this one
        design = candidates(row.variant)[row.design] if row.design else {}
        overrides = json.loads(json.dumps(design))
        return TrainConfig(variant=row.variant, design=row.design, model=overrides,
                           corpus=self.corpus, params=params, batch_size=batch, seq_len=b.seq_len,
                           max_chars=chars, lr=lr, warmup_steps=warmup_for(steps), seed=seed,
                           eval_every=b.eval_every, eval_chars=b.eval_chars)

    def val(self, config: TrainConfig) -> float | None:
        """A run's validation BPC: None before it is recorded, infinite if it was unstable."""
        record = self._record(config)
        if record is None:
            return None
        return float("inf") if is_unstable(record) else record["val_bpc"]

    def unstable(self, config: TrainConfig) -> bool:
        return is_unstable(self._record(config))

    def _record(self, config: TrainConfig) -> dict | None:
        record = self.record_of(config)
        if record is None and self.predicted is not None:
            record = self.predicted(config)
            if record is not None:
                self._stood_in.append(config)
        return record

    # ---- the stages -------------------------------------------------------------------------
    def _grown(self, runs_for: Callable[[Callable[[object], list[float]]], dict], assume: bool,
               shared: bool) -> tuple[list[TrainConfig], dict | None]:
        """Grow learning-rate grids until each best rate is bracketed.

        ``runs_for(grid_of)`` maps each key (a design, or a row) to ``{lr: config}`` over the
        rates ``grid_of(key)``, which start as the budget's grid. With ``shared`` one grid serves
        every key and grows for all of them together (the selection's: one grid for every
        candidate); else each key's grid grows on its own. Returns the runs still missing and
        the scores ``{key: {lr: validation BPC}}``: None while runs are missing, unless
        ``assume`` (``_assumed``).
        """
        start = sorted(self.budget.grid)
        grown: dict = {}  # the grids that grew, by key (shared: one, under None)

        def grid_of(key) -> list[float]:
            return grown.get(None if shared else key, start)

        while True:
            table = runs_for(grid_of)
            missing = [c for runs in table.values() for c in runs.values() if self.val(c) is None]
            if missing:
                return missing, (self._assumed(table) if assume else None)
            scores = {k: {lr: self.val(c) for lr, c in runs.items()} for k, runs in table.items()}
            adds = {k: self._grid_growth(k, s, shared) for k, s in scores.items()}
            if not any(adds.values()):
                return [], scores
            if shared:
                grown[None] = sorted(set(grid_of(None)) | {lr for a in adds.values() for lr in a})
            else:
                grown.update({k: sorted(set(scores[k]) | set(adds[k])) for k in table})

    def _grid_growth(self, key, scores: dict[float, float], shared: bool) -> list[float]:
        """The rates ``key``'s grid needs next. A grid unstable at every rate grows down, at most
        to the floor (``lower_rate``): past it, a candidate on the shared grid simply loses (it
        adds nothing more), and a row stops its scale (``NoStableRate``)."""
        if not any(map(math.isfinite, scores.values())):
            try:
                lower_rate(min(scores), sorted(self.budget.grid))
            except NoStableRate:
                if shared:
                    return []
                raise NoStableRate(f"{key}: every rate of its grid down to {min(scores):g} was "
                                   "unstable") from None
        return rates_to_add(scores)

    def _assumed(self, table: dict) -> dict:
        """Scores for a plan: the runs with records as they are; of the others, the grid's middle
        as if it wins and the rest as if they lose (so a recorded score never loses to a guess
        made up for an end of the grid)."""
        out = {}
        for k, runs in table.items():
            lrs = sorted(runs)
            middle = lrs[len(lrs) // 2]
            out[k] = {lr: (self.val(c) if self.val(c) is not None else
                           -math.inf if lr == middle else math.inf) for lr, c in runs.items()}
        return out

    def selection(self, assume: bool = False) -> tuple[list[TrainConfig], dict | None]:
        """Stage 1: every candidate with seed 0 on the shared grid at the selection scale, then
        its other seeds at its best rate there; each strategy keeps the design whose seeds have
        the best mean. (Leads between candidates are often within one seed's noise, and seed
        0's best score is biased low, as its rate was picked on it.)

        Returns the runs still missing and, once the grid is complete, ``{"grid", "scores":
        {strategy: {design: {lr: seed 0's val}}}, "leader": {strategy: seed 0's best design},
        "seeds": {strategy: {design: [val of each seed] or None}}, "seed_numbers", "means",
        "selected"}``. A seed's val is None while its run is not recorded and infinite if it
        was unstable; a candidate unstable at every rate of the grid gets None (no seeds are
        trained for it). ``means``: per strategy, each design's mean once its seeds are all in
        and stable. ``selected``: per strategy, the design with the best mean once every
        candidate's seeds are in (None before, and where every candidate had an unstable seed,
        which ``failed`` then says; with ``assume``, ``_stand_in`` guesses)."""
        b = self.budget
        scale = b.scale(b.selection_params)

        def runs_for(grid_of):
            return {(s, d): {lr: self.config(Row(s, d), scale.params, lr, scale.sweep_chars)
                             for lr in grid_of((s, d))}
                    for s in VARIANTS for d in candidates(s)}

        missing, scores = self._grown(runs_for, assume, shared=True)
        if scores is None:
            return missing, None
        grid = sorted(next(iter(scores.values())))  # shared: every candidate's
        by_strategy = {s: {d: scores[(s, d)] for d in candidates(s)} for s in VARIANTS}
        leader = {s: min(designs, key=lambda d: min(designs[d].values()))
                  for s, designs in by_strategy.items()}
        for s, d in leader.items():
            if min(by_strategy[s][d].values()) == math.inf:  # (a plan's guesses are -inf)
                raise NoStableRate(f"{s}: every candidate was unstable at every rate of the grid")
        others = [k for k in b.seeds if k != 0]
        more, seeds = self._other_seeds(by_strategy, others)
        missing += more
        means, selected, failed = {}, {}, []
        for strategy, designs in by_strategy.items():
            checked = [v for v in seeds[strategy].values() if v is not None]
            stable = {d: v for d, v in seeds[strategy].items()
                      if v is not None and all(x is not None and x < math.inf for x in v)}
            means[strategy] = m = {d: sum(v) / len(v) for d, v in stable.items()}
            if not all(x is not None for v in checked for x in v):
                selected[strategy] = self._stand_in(designs, seeds[strategy]) if assume else None
            elif not m:  # a person must look at the candidates: no scale starts
                failed.append(f"{strategy}: every candidate had an unstable seed at its best rate")
                selected[strategy] = None
            else:
                selected[strategy] = min(m, key=m.get)
        out = {"grid": grid, "scores": by_strategy, "leader": leader, "seeds": seeds,
               "seed_numbers": [0, *others], "means": means, "selected": selected}
        if failed:
            out["failed"] = "; ".join(failed)
        return missing, out

    def _other_seeds(self, by_strategy: dict, others: list[int]) -> tuple[list[TrainConfig], dict]:
        """Each candidate's ``others`` seeds at its seed-0 best rate on the selection's grid:
        the runs missing, and ``{strategy: {design: [val of seed 0, then of each other]}}``
        (None for a candidate unstable at every rate: out of the running)."""
        scale = self.budget.scale(self.budget.selection_params)
        missing, seeds = [], {}
        for strategy, designs in by_strategy.items():
            seeds[strategy] = {}
            for design, grid_scores in designs.items():
                lr = best_rate(grid_scores)
                if grid_scores[lr] == math.inf:
                    seeds[strategy][design] = None
                    continue
                runs = [self.config(Row(strategy, design), scale.params, lr, scale.sweep_chars, k)
                        for k in others]
                vals = [self.val(c) for c in runs]
                missing += [c for c, v in zip(runs, vals, strict=True) if v is None]
                seeds[strategy][design] = [grid_scores[lr], *vals]
        return missing, seeds

    @staticmethod
    def _stand_in(scores: dict[str, dict[float, float]], seeds: dict[str, list | None]) -> str:
        """A plan's guess while a strategy's seeds are missing: seed 0's best among the designs
        with no unstable seed so far (else seed 0's best)."""
        hopeful = [d for d, v in seeds.items() if v is not None and math.inf not in v] or list(scores)
        return min(hopeful, key=lambda d: min(scores[d].values()))

    def rows(self, params: int, selected: dict[str, str]) -> list[Row]:
        rows = [Row(s, selected[s]) for s in VARIANTS]
        if params == self.budget.reference_params:
            rows.append(Row(REFERENCE))
        return rows

    def sweeps(self, params: int, rows: list[Row], assume: bool = False
               ) -> tuple[list[TrainConfig], dict[Row, dict[float, float]] | None]:
        """Stage 2: each row's own grid at this scale's sweep budget."""
        scale = self.budget.scale(params)

        def runs_for(grid_of):
            return {row: {lr: self.config(row, params, lr, scale.sweep_chars) for lr in grid_of(row)}
                    for row in rows}

        return self._grown(runs_for, assume, shared=False)

    def full_budget(self, params: int, gru: Row, lr: float, assume: bool = False,
                    grid: list[float] = ()) -> tuple[list[TrainConfig], dict]:
        """Stage 3: the GRU's convergence ladder; B is the first rung that doubling improves by
        less than ``converged`` (within it, or worse: past B more characters no longer help),
        or the last rung, marked not converged. An unstable rung moves the whole ladder to the
        next lower rate (of ``grid``, the GRU's sweep grid), so B and 2B share one stable rate."""
        b = self.budget
        first = b.scale(params).full_chars

        def ladder_at(rate: float) -> list[TrainConfig]:
            return [self.config(gru, params, rate, first * 2**k) for k in range(b.rungs)]

        def counted(rate: float) -> list[TrainConfig]:  # every recorded rung; a predicted one
            climbed = self._climbed(ladder_at(rate))     # only where a climb would reach it
            return [c for c in ladder_at(rate) if c in climbed or self.record_of(c) is not None]

        lr, _, unstable = self._stable(counted, lr, grid)
        ladder = ladder_at(lr)
        # a plan expects a ladder restarted lower to climb at least as far as the higher rate's
        # stable rungs went (below its first unstable one)
        reached = min((c.max_chars for c in unstable), default=2 * first) // 2
        missing, budget = self._climb(ladder, assume, reached)
        budget.update(lr=lr, unstable=unstable)
        return missing, budget

    def _climbed(self, ladder: list[TrainConfig]) -> list[TrainConfig]:
        """The rungs a climb up ``ladder`` trains: up to the first one not recorded or unstable,
        or to the first that doubling improves by less than ``converged``. (A prediction may
        hold rungs above these, and they must not move the ladder.)"""
        climbed = []
        for config in ladder:
            climbed.append(config)
            val = self.val(config)
            if val is None or val == float("inf"):
                break
            if len(climbed) >= 2 and self.val(climbed[-2]) - val < self.budget.converged:
                break
        return climbed

    def _climb(self, ladder: list[TrainConfig], assume: bool, reached: int
               ) -> tuple[list[TrainConfig], dict]:
        """Up the ladder's rungs as far as the records and ``converged`` say (B is None while
        a rung it needs is missing, unless ``assume``: then B is the last rung recorded, or
        ``reached`` if more, or the last rung with ``to_top``, and the rungs up to 2B are
        counted)."""
        b = self.budget
        first = ladder[0].max_chars
        rungs = []
        for config in ladder:
            val = self.val(config)
            if val is None:
                if not assume:  # what is known so far; no B yet
                    return [config], {"chars": None, "rungs": rungs, "converged": None}
                top = ladder[-1].max_chars
                chars = max(rungs[-1][0] if rungs else first, top if self.to_top else min(reached, top))
                missing = [c for c in ladder if c.max_chars <= 2 * chars and self.val(c) is None]
                return missing, {"chars": chars, "rungs": rungs, "converged": None}
            rungs.append([config.max_chars, val])
            if len(rungs) >= 2 and rungs[-2][1] - rungs[-1][1] < b.converged:
                return [], {"chars": rungs[-2][0], "rungs": rungs, "converged": True}
        return [], {"chars": rungs[-1][0], "rungs": rungs, "converged": False}

    def full_budget_rate(self, params: int, row: Row, lr: float, chars: int, grid: list[float],
                         assume: bool = False) -> tuple[list[TrainConfig], dict]:
        """Stage 4: a row's rate at B. From ``lr`` (the sweep's choice) down ``grid``, seed 0 at
        B at a rate and at the next lower one; while the lower one does better (or the rate is
        unstable), go down. Returns the runs still needed and ``{"tried": {lr: val}, "lr"}``,
        ``lr`` None until decided (with ``assume``: the rate being tried, as if it won), and
        ``seeds_lr`` added by ``at_full_budget`` once the seeds have a rate."""
        tried = {}
        while True:
            if self.val(self.config(row, params, lr, chars)) == math.inf:  # no need to compare
                tried[lr] = math.inf
                lr = lower_rate(lr, grid)
                continue
            lower = lower_rate(lr, grid)
            pair = {r: self.config(row, params, r, chars) for r in (lr, lower)}
            vals = {r: self.val(c) for r, c in pair.items()}
            tried.update({r: v for r, v in vals.items() if v is not None})
            missing = [c for r, c in pair.items() if vals[r] is None]
            if missing:
                return missing, {"tried": tried, "lr": lr if assume else None}
            if vals[lower] >= vals[lr]:
                return [], {"tried": tried, "lr": lr}
            lr = lower

    def at_full_budget(self, params: int, rows: list[Row], lrs: dict[Row, float],
                       grids: dict[Row, list[float]], chars: int, assume: bool = False
                       ) -> tuple[list[TrainConfig], dict[Row, dict],
                                  dict[Row, list[TrainConfig]], list[TrainConfig]]:
        """Stages 4 and 5 at one scale: the runs needed, each row's rate search, the seeds of
        every row whose rate is chosen (a row's seeds start as soon as its own is) and the
        unstable runs met."""
        needed, rates = [], {}
        for row in rows:
            missing, rates[row] = self.full_budget_rate(params, row, lrs[row], chars, grids[row],
                                                        assume)
            needed += missing
        chosen = {row: r["lr"] for row, r in rates.items() if r["lr"] is not None}
        seeds, unstable = self.seed_runs(params, list(chosen), chosen, chars, grids)
        for row, configs in seeds.items():  # lower than chosen where a seed was unstable
            rates[row]["seeds_lr"] = configs[0].lr
        needed += [c for cs in seeds.values() for c in cs]
        shaky = [self.config(row, params, lr, chars) for row, r in rates.items()
                 for lr, val in r["tried"].items() if val == math.inf]  # inf: unstable
        unstable = shaky + [c for c in unstable if c not in shaky]
        return needed, rates, seeds, unstable

    def seed_runs(self, params: int, rows: list[Row], lrs: dict[Row, float], chars: int,
                  grids: dict[Row, list[float]]
                  ) -> tuple[dict[Row, list[TrainConfig]], list[TrainConfig]]:
        """Stage 5: every row's seeds at the full budget, at the highest rate not above its
        chosen one at which none of them is unstable; and the unstable runs met on the way."""
        seeds, unstable = {}, []
        for row in rows:
            _, seeds[row], shaky = self._stable(
                lambda r, row=row: [self.config(row, params, r, chars, seed)
                                    for seed in self.budget.seeds],
                lrs[row], grids[row])
            unstable += shaky
        return seeds, unstable

    def _stable(self, runs_at: Callable[[float], list[TrainConfig]], lr: float, grid
                ) -> tuple[float, list[TrainConfig], list[TrainConfig]]:
        """From ``lr`` down ``grid``: the first rate at which none of ``runs_at(rate)`` is
        unstable, its runs, and the unstable runs of the rates above it."""
        unstable = []
        while shaky := [c for c in runs_at(lr) if self.unstable(c)]:
            unstable += shaky
            lr = lower_rate(lr, list(grid))
        return lr, runs_at(lr), unstable

    def ranking_runs(self, gru: Row, scores: dict[float, float], chars: int) -> list[TrainConfig]:
        """The GRU's chosen rate and its neighbours at the full budget (reference scale)."""
        grid = sorted(scores)
        i = grid.index(best_rate(scores))
        return [self.config(gru, self.budget.reference_params, lr, chars)
                for lr in grid[max(0, i - 1): i + 2]]

    def check_runs(self, params: int, selected: dict[str, str], rates: dict[Row, dict],
                   chars: int) -> dict[Row, TrainConfig]:
        """Each of ``checked_designs`` that lost the selection, seed 0 at the full budget and
        the rate its strategy's selected design kept there (once that is decided). The kept
        rate, not the seeds' (lower where a seed was unstable): it never changes once decided,
        and the selected design's seed 0 has a stable run at it to compare with."""
        out = {}
        for strategy, design in self.budget.checked_designs:
            kept = rates.get(Row(strategy, selected[strategy]), {}).get("lr")
            if design != selected[strategy] and kept is not None:
                out[Row(strategy, design)] = self.config(Row(strategy, design), params, kept, chars)
        return out

    # ---- the whole walk -----------------------------------------------------------------------
    def scale_runs(self, params: int, selected: dict[str, str], here: ScaleDecisions,
                   assume: bool = False) -> list[TrainConfig]:
        """Stages 2 to 5 at one scale: the runs needed next, and what was decided in ``here``
        (``here["ladder_runs"]``: those of them the ladder waits on, the GRU's sweep and rungs).

        Each row's grid grows on its own, and a row goes on to B as soon as its own sweep and
        the GRU's ladder are done: the ladder needs the GRU's sweep alone, and no row waits
        for another's. ``here["seeds"]`` holds the rows whose seeds are known so far."""
        needed = []
        here["rows"] = rows = self.rows(params, selected)
        gru = next(row for row in rows if row.variant == BASELINE)
        scores, ladder_runs, stopped = {}, [], None
        for row in rows:
            try:
                missing, swept = self.sweeps(params, [row], assume)
            except NoStableRate as e:  # the scale stops; the other rows' sweeps stay on show
                stopped = stopped or e
                continue
            needed += missing
            if row == gru:
                ladder_runs = list(missing)
            scores.update(swept or {})
        if stopped:
            here["sweeps"] = scores
            raise stopped
        here["ladder_runs"] = ladder_runs
        if gru not in scores:
            return needed
        missing, budget = self.full_budget(params, gru, best_rate(scores[gru]), assume,
                                           sorted(scores[gru]))
        needed += missing
        here["ladder_runs"] += missing
        here["ladder"], here["unstable"] = budget, list(budget["unstable"])
        here["sweeps"] = scores
        here["lrs"] = lrs = {row: best_rate(s) for row, s in scores.items()}
        grids = {row: sorted(s) for row, s in scores.items()}
        if budget["chars"] is None or (missing and not assume):
            return needed
        here["budget"] = budget
        # a rate the ladder found unstable on a rung up to B is unstable at B too (longer runs
        # are the less stable ones): the GRU's search starts below it
        shaky = [lower_rate(c.lr, grids[gru]) for c in budget["unstable"]
                 if c.max_chars <= budget["chars"]]
        missing, here["rates"], seeds, unstable = self.at_full_budget(
            params, list(scores), {**lrs, gru: min([lrs[gru], *shaky])}, grids, budget["chars"],
            assume)
        needed += missing
        here["unstable"] += [c for c in unstable if c not in here["unstable"]]
        here["seeds"] = seeds
        if params == self.budget.selection_params:
            here["checks"] = self.check_runs(params, selected, here["rates"], budget["chars"])
            needed += list(here["checks"].values())
        if len(seeds) < len(rows):
            return needed
        if params == self.budget.reference_params:
            here["ranking"] = self.ranking_runs(gru, scores[gru], budget["chars"])
            needed += here["ranking"]
        return needed

    def walk(self, assume: bool = False) -> tuple[list[TrainConfig], dict]:
        """The runs needed next (all of them, with ``assume``), scale by scale, and everything
        decided so far."""
        needed, decided = [], {"scales": {}}
        self._stood_in = []
        try:
            missing, selection = self.selection(assume)
        except NoStableRate as e:  # a person must look at the candidates: nothing more runs
            decided.update(selection=None, failed=str(e))
            return needed, decided
        needed += missing
        decided["selection"] = selection
        if selection is not None and "failed" in selection:
            decided["failed"] = selection["failed"]
        if selection is None or None in selection["selected"].values():
            return needed, decided  # every scale's rows wait for the designs
        for scale in self.budget.scales:
            here = decided["scales"][scale.params] = {}
            try:
                needed += self.scale_runs(scale.params, selection["selected"], here, assume)
            except NoStableRate as e:  # a person must look at this scale: nothing more runs
                here["failed"] = str(e)
        needed += self._stood_in  # a prediction decides, but the run itself is still to train
        seen, out = set(), []  # the same run may be wanted by two stages (a ladder rung is seed 0)
        for c in needed:
            key = (c.variant, c.design, c.params, c.lr, c.max_chars, c.seed)
            if key not in seen and self.record_of(c) is None:
                seen.add(key)
                out.append(c)
        return out, decided
