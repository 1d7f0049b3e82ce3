"""cnngru.evaluation.report on hand-made rows: the verdicts, the headline, the table."""

import pytest

from cnngru.evaluation.report import answer, markdown_table


def row(name, diff=None, ci=None, seeds=None):
    """What answer() reads of a results row."""
    return {"name": name, "diff_vs_gru": diff, "diff_ci": ci, "seeds": seeds}


def verdicts(text: str) -> dict[str, str]:
    """Each variant's bullet, by variant name."""
    return {line.split("`")[1]: line for line in text.splitlines() if line.startswith("- `")}


def rows_with(pre, post, hybrid):
    """gru plus the three variants, each a (difference, (lo, hi)) against the GRU."""
    return [row("gru"), row("cnn-pre", *pre), row("cnn-post", *post), row("hybrid", *hybrid)]


def test_each_interval_gives_its_verdict():
    text = answer(rows_with(pre=(-0.01, (-0.03, 0.01)),  # contains 0: a tie
                            post=(-0.05, (-0.07, -0.03)),  # all below 0: better
                            hybrid=(0.04, (0.02, 0.06))))  # all above 0: worse
    v = verdicts(text)
    assert "**not distinguishable**" in v["cnn-pre"]
    assert "**better**" in v["cnn-post"] and "by 0.050 BPC" in v["cnn-post"]
    assert "**worse**" in v["hybrid"] and "by 0.040 BPC" in v["hybrid"]
    assert text.startswith("**Yes, at this scale:** `cnn-post` beat the GRU baseline")


@pytest.mark.parametrize("ci", [(-0.04, 0.0), (0.0, 0.04), (-0.04, 0.04)])
def test_an_interval_touching_or_containing_zero_is_a_tie(ci):
    text = answer(rows_with(pre=(ci[0] / 2 + ci[1] / 2, ci), post=(0.01, (-0.01, 0.03)),
                            hybrid=(0.0, (-0.02, 0.02))))
    assert all("**not distinguishable**" in line for line in verdicts(text).values())
    assert text.startswith("**No, not at this scale:**")


def test_worse_everywhere_is_still_no():
    text = answer(rows_with(pre=(0.03, (0.01, 0.05)), post=(0.02, (0.01, 0.03)),
                            hybrid=(0.04, (0.02, 0.06))))
    assert all("**worse**" in line for line in verdicts(text).values())
    assert text.startswith("**No, not at this scale:**")


def test_two_better_variants_are_both_named():
    text = answer(rows_with(pre=(-0.03, (-0.05, -0.01)), post=(0.0, (-0.01, 0.01)),
                            hybrid=(-0.02, (-0.03, -0.01))))
    assert text.startswith("**Yes, at this scale:** `cnn-pre`, `hybrid` beat")


@pytest.mark.parametrize("ci, side", [((-0.2, -0.1), "better"), ((0.1, 0.2), "worse"),
                                      ((-0.1, 0.1), "level with")])
def test_the_transformer_reference_gets_its_own_line(ci, side):
    tie = (0.0, (-0.01, 0.01))
    rows = rows_with(pre=tie, post=tie, hybrid=tie)
    text = answer([*rows, row("transformer", sum(ci) / 2, ci)])
    assert f"The transformer reference at the same budget is {side} than the GRU" in text
    assert "transformer" not in text.split("\n\n")[0], "the headline is about the CNN variants"


def test_seed_study_says_ahead_behind_or_level():
    def seeds(mean, std=0.01):
        return {"values": [mean] * 3, "mean": mean, "std": std}

    tie = (0.0, (-0.01, 0.01))
    rows = [row("gru", seeds=seeds(2.40)), row("cnn-pre", *tie, seeds=seeds(2.30)),
            row("cnn-post", *tie, seeds=seeds(2.50)), row("hybrid", *tie, seeds=seeds(2.405))]
    text = answer(rows)
    assert "(3 seeds, mean ± standard deviation" in text
    assert "`cnn-pre` 2.300 ± 0.010: ahead of the GRU" in text
    assert "`cnn-post` 2.500 ± 0.010: behind the GRU" in text
    assert "`hybrid` 2.405 ± 0.010: level with the GRU" in text  # 0.005 < 2 * sqrt(2e-4 / 3)
    assert "seed study" not in answer(rows_with(tie, tie, tie))


def table_row(name, diff=None, ci=None, seeds=None, speed=None):
    return {"name": name, "params": 1_001_568, "train_chars": 20_971_520, "train_time_s": 90.0,
            "device": "cpu", "lr": 0.003, "test_bpc": 2.1, "test_bpc_ci": [2.05, 2.15],
            "diff_vs_gru": diff, "diff_ci": ci, "seeds": seeds, "gen_chars_per_s": speed,
            "real_word_rate": 0.9, "distinct_2": 0.98, "distinct_3": 1.0, "repetition": 0.0,
            "sample_temperature": 0.8}


def test_markdown_table_has_one_line_per_row():
    rows = [table_row("gru", speed=5000.0),
            table_row("cnn-pre", 0.034, [0.03, 0.038], {"mean": 2.4, "std": 0.02}),
            table_row("transformer", -0.1, [-0.12, -0.08])]
    table = {"rows": rows, "test_chars": 400_000, "test_streams": 64, "test_eval_time_s": 12.0,
             "bootstrap": {"chunk_chars": 2000}, "answer": "THE ANSWER",
             "budget": {"seeds": [0, 1, 2], "sweep_chars": 3_145_728, "lrs": [0.001, 0.003]}}
    md = markdown_table(table)
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + len(rows)  # the header, its rule, then one line per row
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [c[0] for c in cells] == ["gru", "cnn-pre", "transformer"]
    assert all(len(c) == 14 for c in cells)
    assert cells[0][7] == "—" and cells[0][8] == "—" and cells[0][9] == "5,000"
    assert cells[1][7] == "+0.034 (+0.030, +0.038)" and cells[1][8] == "2.400 ± 0.020"
    assert cells[2][1] == "1.00M" and cells[2][6] == "2.100 (2.050, 2.150)"
    assert md.rstrip().endswith("THE ANSWER")
