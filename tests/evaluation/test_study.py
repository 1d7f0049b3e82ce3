"""The study's decisions on hand-made records: a validation BPC per run from a made-up law."""

import json
import math

import pytest

from cnngru.evaluation.stability import FLOOR, NoStableRate
from cnngru.evaluation.study import CPU, Row, Study
from cnngru.models import CANDIDATES, VARIANTS
from cnngru.training.config import TrainConfig, recipe


def law(best_lr=1e-2, design_gap=None, chars_floor=2.0):
    """Validation BPC of a run: a bowl in log(lr) around ``best_lr``, lower with more characters."""
    design_gap = design_gap or {}

    def val(config):
        bowl = 0.1 * math.log2(config.lr / best_lr) ** 2
        length = 1.0 / math.log2(config.max_chars)
        return chars_floor + bowl + length + design_gap.get(config.design, 0.0) + 0.001 * config.seed
    return val


class Records:
    """Records that exist for the runs in ``done`` (all of them when ``done`` is None)."""

    def __init__(self, val, done=None):
        self.val, self.done = val, done

    def __call__(self, config):
        if self.done is not None and not self.done(config):
            return None
        return {"val_bpc": self.val(config)}


def test_a_fresh_study_needs_every_candidate_on_the_shared_grid_first():
    study = Study(CPU, "shakespeare", Records(law(), done=lambda c: False))
    needed, decided = study.walk()
    assert decided["selection"] is None
    assert {(c.variant, c.design) for c in needed} == {(s, d) for s in VARIANTS for d in CANDIDATES[s]}
    assert {c.lr for c in needed} == set(CPU.grid) and {c.params for c in needed} == {300_000}
    as_json = lambda d: json.loads(json.dumps(d))  # noqa: E731
    assert all(c.batch_size == 128 and c.model == as_json(CANDIDATES[c.variant][c.design])
               for c in needed)


def test_the_shared_grid_grows_for_every_candidate_when_one_best_rate_is_at_an_end():
    study = Study(CPU, "shakespeare", Records(law(best_lr=2e-2)))  # the top of (5e-3, 1e-2, 2e-2)
    _, selection = study.selection()
    assert selection["grid"] == [5e-3, 1e-2, 2e-2, 4e-2]
    assert all(sorted(scores) == selection["grid"] for designs in selection["scores"].values()
               for scores in designs.values())


def test_each_strategy_keeps_its_best_design():
    gaps = {"two-layers": -0.05, "depthwise4": -0.02, "cnn-memory256": -0.1}
    _, selection = Study(CPU, "shakespeare", Records(law(design_gap=gaps))).selection()
    assert selection["selected"] == {"gru": "two-layers", "cnn-pre": "depthwise4",
                                     "cnn-post": "dilated-rf15", "hybrid": "cnn-memory256"}


def test_every_candidates_other_seeds_come_before_any_scale():
    """Seeds 1 and 2 of every candidate, at its seed 0's best rate on the shared grid, come
    right after the grid; no scale starts before the designs are selected on them."""
    selection = CPU.scale(CPU.selection_params)
    study = Study(CPU, "shakespeare", Records(law(best_lr=2e-2), done=lambda c: c.seed == 0 and (
        c.params == selection.params and c.max_chars == selection.sweep_chars)))
    needed, decided = study.walk()
    assert sorted((c.variant, c.design, c.seed) for c in needed) == sorted(
        (s, d, k) for s in VARIANTS for d in CANDIDATES[s] for k in (1, 2))
    assert {(c.params, c.max_chars, c.lr) for c in needed} == {
        (CPU.selection_params, CPU.scale(CPU.selection_params).sweep_chars, 2e-2)}
    assert set(decided["selection"]["selected"].values()) == {None}
    assert decided["scales"] == {}
    planned, decided = study.walk(assume=True)  # a plan: seed 0's leaders stand in
    assert decided["selection"]["selected"] == decided["selection"]["leader"]
    assert any(c.params != CPU.selection_params for c in planned)


def test_the_design_with_the_best_mean_over_the_seeds_is_selected_and_every_scale_uses_it():
    """Seed 0 favours one-layer, seeds 1 and 2 two-layers by more: two-layers is selected,
    and every scale's GRU row is two-layers."""
    base = law()

    def val(config):
        flip = {"one-layer": 0.0, "two-layers": 0.02 if config.seed == 0 else -0.05}
        return base(config) + flip.get(config.design, 0.1)
    _, decided = Study(CPU, "shakespeare", Records(val)).walk()
    selection = decided["selection"]
    assert selection["selected"]["gru"] == "two-layers" and selection["leader"]["gru"] == "one-layer"
    assert selection["seeds"]["gru"]["one-layer"] == [pytest.approx(val(Study(CPU, "x", None).config(
        Row("gru", "one-layer"), 300_000, 1e-2, CPU.scale(300_000).sweep_chars, k))) for k in range(3)]
    assert selection["means"]["gru"]["two-layers"] == pytest.approx(
        sum(selection["seeds"]["gru"]["two-layers"]) / 3)
    assert all(here["rows"][0] == Row("gru", "two-layers") for here in decided["scales"].values())


def test_a_candidate_with_an_unstable_seed_loses_and_a_strategy_whose_every_design_has_one_stops():
    """An unstable seed makes a mean infinite: such a design is not selected, and a strategy
    whose every design has one stops the study for a person to look at."""
    unstable = {"val_bpc": 9.0, "unstable": {"chars": 1, "val_bpc": None, "best_val_bpc": None}}

    def records(shaky):
        def record(c):
            if c.seed == 1 and (c.variant, c.design) in shaky:
                return unstable
            return {"val_bpc": law(design_gap={"one-layer": -0.1, "dropout-0.25": 0.05})(c)}
        return record
    _, decided = Study(CPU, "shakespeare", records({("gru", "one-layer")})).walk()
    assert decided["selection"]["selected"]["gru"] == "two-layers"
    assert decided["selection"]["leader"]["gru"] == "one-layer"
    assert decided["selection"]["seeds"]["gru"]["one-layer"][1] == math.inf
    everyone = {("gru", d) for d in CANDIDATES["gru"]}
    needed, decided = Study(CPU, "shakespeare", records(everyone)).walk()
    assert needed == [] and decided["scales"] == {}
    assert decided["selection"]["selected"]["gru"] is None  # the candidates stay to be looked at
    assert decided["failed"] == "gru: every candidate had an unstable seed at its best rate"


def test_a_plan_stands_in_seed_0s_best_design_that_has_no_unstable_seed_yet():
    unstable = {"val_bpc": 9.0, "unstable": {"chars": 1, "val_bpc": None, "best_val_bpc": None}}
    gaps = law(design_gap={"one-layer": -0.1, "two-layers": -0.05})

    def record(c):
        if c.seed == 2:
            return None  # not trained yet
        if c.seed == 1 and c.design == "one-layer":
            return unstable
        return {"val_bpc": gaps(c)}
    _, decided = Study(CPU, "shakespeare", record).walk(assume=True)
    assert decided["selection"]["leader"]["gru"] == "one-layer"
    assert decided["selection"]["selected"]["gru"] == "two-layers"
    assert all(here["rows"][0] == Row("gru", "two-layers") for here in decided["scales"].values())


def test_the_ladder_stops_at_the_first_rung_within_the_tolerance():
    study = Study(CPU, "shakespeare", Records(law()))
    _, budget = study.full_budget(100_000, Row("gru", "one-layer"), 1e-2)
    chars = [r[0] for r in budget["rungs"]]
    vals = [r[1] for r in budget["rungs"]]
    assert chars[1] == 2 * chars[0]
    first_close = next(i for i in range(len(vals) - 1) if abs(vals[i] - vals[i + 1]) < 0.01)
    assert budget["chars"] == chars[first_close] and budget["converged"] is True


def test_a_rung_worse_than_the_one_before_ends_the_ladder_there():
    """Past some budget more characters at the same rate make the GRU worse: doubling no longer
    helps, and B is the rung before, not the worse one."""
    def val(config):  # better up to 4x the first rung, then far worse
        return 2.5 - 0.1 * min(math.log2(config.max_chars / first), 2) + (
            0.14 if config.max_chars > 4 * first else 0.0)
    first = CPU.scale(100_000).full_chars
    _, budget = Study(CPU, "shakespeare", Records(val)).full_budget(
        100_000, Row("gru", "one-layer"), 1e-2)
    assert [c for c, _ in budget["rungs"]] == [first, 2 * first, 4 * first, 8 * first]
    assert budget["chars"] == 4 * first and budget["converged"] is True


def test_a_finished_study_needs_nothing_and_the_reference_scale_has_the_transformer_and_ranking():
    study = Study(CPU, "shakespeare", Records(law()))
    needed, decided = study.walk()
    assert needed == []
    reference = decided["scales"][CPU.reference_params]
    assert [r.variant for r in reference["rows"]] == [*VARIANTS, "transformer"]
    assert [c.lr for c in reference["ranking"]] == [5e-3, 1e-2, 2e-2]
    for here in decided["scales"].values():
        assert all(len(cs) == 3 for cs in here["seeds"].values())
        assert all(c.max_chars == here["budget"]["chars"] for cs in here["seeds"].values() for c in cs)


def test_a_checked_design_that_lost_trains_once_at_the_selection_scales_full_budget():
    """cnn-memory256 loses the selection at the sweep budget. Once the selected hybrid keeps its
    rate at B at the selection scale, seed 0 of cnn-memory256 trains there at that rate and B,
    and at no other scale; before that it is not asked for, and a winner is never checked."""
    val = law(design_gap={"cnn-memory256": 0.05})
    needed, decided = Study(CPU, "shakespeare", Records(val)).walk()
    assert needed == []
    here = decided["scales"][CPU.selection_params]
    hybrid = next(row for row in here["rows"] if row.variant == "hybrid")
    [(row, check)] = here["checks"].items()
    assert row == Row("hybrid", "cnn-memory256") != hybrid
    assert (check.lr, check.max_chars, check.seed) == (here["rates"][hybrid]["lr"],
                                                      here["budget"]["chars"], 0)
    assert all("checks" not in h for p, h in decided["scales"].items() if p != CPU.selection_params)
    needed, _ = Study(CPU, "shakespeare", Records(val, done=lambda c: c != check)).walk()
    assert needed == [check]
    full = CPU.scale(CPU.selection_params).full_chars
    undecided = lambda c: (c.design == hybrid.design and c.params == CPU.selection_params  # noqa: E731
                           and c.max_chars >= full and c.lr == 5e-3 and c.seed == 0)
    needed, decided = Study(CPU, "shakespeare", Records(val, done=lambda c: not undecided(c))).walk()
    assert decided["scales"][CPU.selection_params]["checks"] == {}
    assert not any(c.design == "cnn-memory256" and c.max_chars >= full for c in needed)
    fresh = Study(CPU, "shakespeare", Records(val, done=lambda c: False))
    assumed, decided = fresh.walk(assume=True)  # a plan counts the check once, at B
    here = decided["scales"][CPU.selection_params]
    [planned] = here["checks"].values()
    assert planned in assumed and (planned.design, planned.seed) == ("cnn-memory256", 0)
    assert planned.max_chars == here["budget"]["chars"]
    winner = law(design_gap={"cnn-window32": 0.05, "cnn-window256": 0.05})
    _, decided = Study(CPU, "shakespeare", Records(winner)).walk()
    assert decided["selection"]["selected"]["hybrid"] == "cnn-memory256"
    assert decided["scales"][CPU.selection_params]["checks"] == {}


def test_a_plan_counts_the_later_stages_before_the_earlier_ones_finish():
    fresh = Study(CPU, "shakespeare", Records(law(), done=lambda c: False))
    assumed, _ = fresh.walk(assume=True)
    first, _ = fresh.walk()
    assert len(assumed) > 2 * len(first)  # 36 selection runs first; 144 in all
    assert {c.params for c in assumed} == {s.params for s in CPU.scales}


def test_each_rows_rate_at_the_full_budget_goes_down_while_the_lower_one_does_better():
    """Long runs can want a lower rate than the short sweeps: here the bowl's centre moves from
    2e-2 at the sweep budget to 5e-3 at the full one, and the seeds follow it there."""
    def val(config):
        best = 2e-2 if config.max_chars <= CPU.scale(config.params).sweep_chars else 5e-3
        return 2.0 + 0.1 * math.log2(config.lr / best) ** 2 + 0.001 * config.seed
    needed, decided = Study(CPU, "shakespeare", Records(val)).walk()
    assert needed == []
    for here in decided["scales"].values():
        assert set(here["lrs"].values()) == {2e-2}  # the sweeps' choice
        for rates in here["rates"].values():
            assert sorted(rates["tried"]) == [2.5e-3, 5e-3, 1e-2, 2e-2] and rates["lr"] == 5e-3
        assert {c.lr for cs in here["seeds"].values() for c in cs} == {5e-3}


def test_a_sweeps_choice_that_stays_best_costs_one_run_at_its_lower_neighbour():
    _, decided = Study(CPU, "shakespeare", Records(law())).walk()
    for here in decided["scales"].values():
        for row, rates in here["rates"].items():
            assert sorted(rates["tried"]) == [5e-3, 1e-2] and rates["lr"] == 1e-2, row


def test_a_rows_seeds_wait_for_its_rate_and_no_other_rows():
    """Until seed 0 at the lower neighbour is recorded, cnn-pre has no rate: its other seeds are
    not asked for, and the scale reports the seeds of the other rows only."""
    full = CPU.scale(100_000).full_chars
    gap = lambda c: (c.variant == "cnn-pre" and c.params == 100_000 and c.lr == 5e-3  # noqa: E731
                     and c.max_chars >= full)
    needed, decided = Study(CPU, "shakespeare", Records(law(), done=lambda c: not gap(c))).walk()
    here = decided["scales"][100_000]
    rates = {row.variant: r for row, r in here["rates"].items()}
    assert rates["cnn-pre"]["lr"] is None and rates["gru"]["lr"] == 1e-2
    assert {row.variant for row in here["seeds"]} == {"gru", "cnn-post", "hybrid"}
    at_100k = [c for c in needed if c.params == 100_000]
    assert any(c.variant == "cnn-pre" and c.lr == 5e-3 and c.seed == 0 for c in at_100k)
    assert not any(c.variant == "cnn-pre" and c.seed > 0 for c in at_100k)


def test_a_row_still_sweeping_holds_up_no_other_row_at_its_scale():
    """cnn-pre's sweep at 100k lacks a rate: the other rows go on to their rates at B and their
    seeds, and only cnn-pre's sweep is asked for of cnn-pre."""
    sweep = CPU.scale(100_000).sweep_chars
    gap = lambda c: (c.variant == "cnn-pre" and c.params == 100_000  # noqa: E731
                     and c.max_chars == sweep and c.lr == 1e-2)
    needed, decided = Study(CPU, "shakespeare", Records(law(), done=lambda c: not gap(c))).walk()
    here = decided["scales"][100_000]
    assert {row.variant for row in here["sweeps"]} == {"gru", "cnn-post", "hybrid"}
    assert {row.variant for row in here["seeds"]} == {"gru", "cnn-post", "hybrid"}
    assert [c for c in needed if c.params == 100_000] == [
        Study(CPU, "shakespeare", None).config(here["rows"][1], 100_000, 1e-2, sweep)]


def test_the_walk_names_the_runs_each_ladder_waits_on():
    """100k waits for its rate searches, 300k for its ladder's next rung, 1M for its GRU's
    sweep: the rung and the GRU's sweep runs are the ladder runs, in the scale-by-scale list."""
    first = {s.params: s.full_chars for s in CPU.scales}

    def done(c):
        if c.params == 100_000:
            return c.max_chars < first[100_000] or c.variant == "gru" and c.lr == 1e-2
        if c.params == 300_000:  # the selection and its check, the sweeps, the first rung
            return c.max_chars < first[300_000] or (
                c.max_chars < 2 * first[300_000] and c.seed == 0 and c.variant == "gru")
        return c.variant != "gru"  # 1M: every sweep but the GRU's
    needed, decided = Study(CPU, "shakespeare", Records(law(), done=done)).walk()
    ladders = {p: here["ladder_runs"] for p, here in decided["scales"].items()}
    assert ladders[100_000] == []
    assert [(c.variant, c.max_chars) for c in ladders[300_000]] == [("gru", 2 * first[300_000])]
    assert {(c.variant, c.max_chars, c.lr) for c in ladders[1_000_000]} == {
        ("gru", CPU.scale(1_000_000).sweep_chars, lr) for lr in CPU.grid}
    assert [c.params for c in needed] == sorted(c.params for c in needed)  # scale by scale
    assert all(c in needed for cs in ladders.values() for c in cs)


def test_a_plan_to_the_top_climbs_every_unfinished_ladder_to_its_last_rung():
    def done(c):  # the sweeps, nothing at the full budget
        return c.max_chars <= CPU.scale(c.params).sweep_chars
    records = Records(law(), done=done)
    least, _ = Study(CPU, "shakespeare", records).walk(assume=True)
    most, _ = Study(CPU, "shakespeare", records, to_top=True).walk(assume=True)
    for scale in CPU.scales:
        top = scale.full_chars * 2 ** (CPU.rungs - 1)
        rungs = sorted(c.max_chars for c in most if c.params == scale.params and c.variant == "gru"
                       and c.seed == 0 and c.lr == 1e-2)
        assert rungs == [scale.full_chars * 2 ** k for k in range(CPU.rungs)]
        assert {c.max_chars for c in most if c.params == scale.params and c.seed == 2} == {top}
        assert {c.max_chars for c in least if c.params == scale.params and c.seed == 2} == {
            scale.full_chars}
    assert len(most) > len(least)


def test_a_ladder_climbs_while_the_other_rows_sweeps_run():
    """The ladder needs only the GRU's sweep: with it done and no other row's, the first rung is
    asked for, and no rate at B before B is known."""
    def done(c):
        return c.params == CPU.selection_params or c.variant == "gru" and (
            c.max_chars <= CPU.scale(c.params).sweep_chars)
    needed, decided = Study(CPU, "shakespeare", Records(law(), done=done)).walk()
    here = decided["scales"][100_000]
    first = CPU.scale(100_000).full_chars
    assert [c.max_chars for c in here["ladder_runs"]] == [first]
    assert here["ladder_runs"][0] in needed and "rates" not in here
    assert [row.variant for row in here["sweeps"]] == ["gru"]
    assert {c.variant for c in needed if c.params == 100_000 and c.max_chars < first} == set(
        VARIANTS) - {"gru"}


def test_a_prediction_decides_where_the_ladder_ends_but_its_run_is_still_counted():
    """A plan may take the same runs trained elsewhere (bf16 on a GPU) as predictions: with the
    sweeps recorded and the 1M ladder predicted to converge at its second rung, the plan's 1M
    runs at B are twice the first rung long, and the predicted rungs are still to train."""
    first = CPU.scale(1_000_000).full_chars

    def done(c):
        return c.max_chars <= CPU.scale(c.params).sweep_chars

    def val(config):  # the ladder improves by 0.2 up to 2x its first rung, then by 0.001
        halvings = math.log2(config.max_chars / first)
        return 2.5 - 0.2 * min(halvings, 1) - 0.001 * max(halvings - 1, 0)

    records = Records(law(), done=done)

    def predicted(c):
        if c.params == 1_000_000 and c.variant == "gru" and c.seed == 0 and c.max_chars >= first:
            return {"val_bpc": val(c)}
        return None

    plain, _ = Study(CPU, "shakespeare", records).walk(assume=True)
    likely, decided = Study(CPU, "shakespeare", records, predicted=predicted).walk(assume=True)
    assert decided["scales"][1_000_000]["budget"]["chars"] == 2 * first
    seeds = {c.max_chars for c in likely if c.params == 1_000_000 and c.seed == 2}
    assert seeds == {2 * first}
    assert {c.max_chars for c in plain if c.params == 1_000_000 and c.seed == 2} == {first}
    rungs = {c.max_chars for c in likely if c.params == 1_000_000 and c.variant == "gru"
             and c.seed == 0 and c.lr == 1e-2}
    assert {first, 2 * first, 4 * first} <= rungs  # predicted, so still needed


def test_a_predicted_rung_above_where_the_ladder_stops_does_not_move_it():
    """A probe may train rungs the climb would never reach; one of them unstable must not send
    the ladder to a lower rate. A recorded one still does."""
    first = CPU.scale(100_000).full_chars

    def rungs(c):
        if c.max_chars == 16 * first and c.lr == 1e-2:
            return {"val_bpc": None, "unstable": {"chars": c.max_chars // 2}}
        return {"val_bpc": law()(c)}

    def budget(study):
        return study.full_budget(100_000, Row("gru", "one-layer"), 1e-2, grid=[5e-3, 1e-2, 2e-2])[1]

    predicted = budget(Study(CPU, "shakespeare", lambda c: None, predicted=rungs))
    assert predicted["lr"] == 1e-2 and predicted["unstable"] == [] and predicted["converged"]
    recorded = budget(Study(CPU, "shakespeare", rungs))
    assert recorded["lr"] == 5e-3 and [c.max_chars for c in recorded["unstable"]] == [16 * first]


def test_a_grid_unstable_at_every_rate_grows_down_to_the_floor_then_stops_its_scale():
    """Sweeps where every rate of a row's grid went unstable: the grid grows down, and once it
    is unstable down to the floor (``FLOOR`` below the grid's lowest) the scale is marked failed
    instead of halving the rate for ever."""
    def records(c):
        if c.params == CPU.scales[0].params and c.variant == "cnn-post":
            return {"val_bpc": 9.0, "unstable": {"chars": 1, "val_bpc": None, "best_val_bpc": None}}
        return {"val_bpc": law()(c)}
    study = Study(CPU, "shakespeare", records)
    with pytest.raises(NoStableRate, match="down to 0.000625"):
        study.sweeps(CPU.scales[0].params, [Row("cnn-post", "embed-gru-rf15")])
    _, decided = study.walk()
    here = decided["scales"][CPU.scales[0].params]
    assert "every rate of its grid down to 0.000625 was unstable" in here["failed"]
    assert "ladder_runs" not in here  # a stopped scale has no ladder runs to promote
    assert [row.variant for row in here["sweeps"]] == ["gru", "cnn-pre", "hybrid"]  # on show
    assert "failed" not in decided["scales"][CPU.scales[1].params]
    floor = min(CPU.grid) / FLOOR
    partial = Study(CPU, "shakespeare", lambda c: records(c) if c.lr > floor else None)
    missing, _ = partial.sweeps(CPU.scales[0].params, [Row("cnn-post", "embed-gru-rf15")])
    assert [c.lr for c in missing] == [floor]  # down to the floor, one rate at a time


def test_an_unstable_candidate_loses_the_selection_and_an_unstable_strategy_stops_it():
    unstable = {"val_bpc": 9.0, "unstable": {"chars": 1, "val_bpc": None, "best_val_bpc": None}}
    def records(bad):
        return lambda c: unstable if (c.variant, c.design) in bad else {"val_bpc": law()(c)}
    _, decided = Study(CPU, "shakespeare", records({("hybrid", "cnn-window32")})).walk()
    selection = decided["selection"]
    assert selection["selected"]["hybrid"] != "cnn-window32"
    assert selection["seeds"]["hybrid"]["cnn-window32"] is None  # no seeds trained for it
    assert selection["seed_numbers"] == [0, 1, 2]
    everyone = {("hybrid", d) for d in CANDIDATES["hybrid"]}
    needed, decided = Study(CPU, "shakespeare", records(everyone)).walk()
    assert needed == [] and decided["selection"] is None
    assert "hybrid: every candidate was unstable" in decided["failed"]


def test_a_plan_assumes_an_unrecorded_middle_rate_wins_and_an_unrecorded_end_loses():
    """Mid-sweep, one end of a grid recorded and its middle not: the plan assumes the middle wins
    and the unrecorded end loses, whatever the recorded value."""
    study = Study(CPU, "shakespeare", Records(law(), done=lambda c: c.lr == 5e-3))
    table = {"row": {lr: study.config(Row("gru", "one-layer"), 300_000, lr, CPU.scales[1].sweep_chars)
                     for lr in CPU.grid}}
    scores = study._assumed(table)["row"]
    assert scores[1e-2] == -math.inf and scores[2e-2] == math.inf and math.isfinite(scores[5e-3])


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_study_run_reads_back_from_json_as_the_same_recipe(variant):
    """A stopped run resumes only if the config its snapshot holds (JSON) equals the one the
    study asks for: a tuple in a design's settings would come back a list and block it."""
    study = Study(CPU, "shakespeare", None)
    for design in CANDIDATES[variant]:
        config = study.config(Row(variant, design), 300_000, 2e-2, CPU.scale(300_000).sweep_chars, 2)
        again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
        assert recipe(again) == recipe(config), design
