"""``cnngru study``: the four strategies on a text that is not Shakespeare, within a budget."""

import json
from pathlib import Path

import pytest

import cnngru
from cnngru.evaluation import text_study
from cnngru.evaluation.text_study import (
    MAX_CHARS,
    MIN_CHARS,
    PARAMS,
    TIE_MARGIN,
    TextError,
    check_text,
    parse_budget,
    plan_for,
    verdict,
)
from cnngru.models import VARIANTS

GPL = Path("/usr/share/common-licenses/GPL-3")  # Debian's base-files: 35,149 characters


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   \n ", "empty"), ("abc" * 100, "at least 10,000"),
    ("x" * (MAX_CHARS + 1), "the limit is"), ("a" * MIN_CHARS, "one character repeated"),
    (b"bytes", "string of characters")])
def test_texts_that_cannot_be_studied_get_a_clear_message(text, message):
    with pytest.raises(TextError, match=message):
        check_text(text)


def test_line_ends_and_a_byte_order_mark_are_normalised():
    assert check_text("\ufeff" + "ab\r\n" * 4000) == "ab\n" * 4000


@pytest.mark.parametrize("value, seconds", [("30s", 30), ("1min", 60), ("3min", 180), ("45", 45),
                                            ("2.5s", 2.5)])
def test_budgets(value, seconds):
    assert parse_budget(value) == seconds


@pytest.mark.parametrize("value", ["soon", "0s", "5000"])
def test_bad_budgets_are_refused(value):
    with pytest.raises(ValueError, match="budget must be"):
        parse_budget(value)


def test_a_difference_smaller_than_the_margin_is_a_tie_even_with_a_tight_interval():
    assert verdict(-TIE_MARGIN / 2, -TIE_MARGIN / 2 - 0.001, -TIE_MARGIN / 2 + 0.001) == "ties"
    assert verdict(-2 * TIE_MARGIN, -3 * TIE_MARGIN, -TIE_MARGIN) == "helps"
    assert verdict(2 * TIE_MARGIN, TIE_MARGIN, 3 * TIE_MARGIN) == "hurts"
    assert verdict(-2 * TIE_MARGIN, -4 * TIE_MARGIN, 0.01) == "ties"  # the interval holds 0


def corpus_of(chars: int):
    text = ("the quick brown fox jumps over the lazy dog. " * (chars // 45 + 1))[:chars]
    return text_study.split_in_blocks("t", text, "test")


def test_validation_and_test_are_blocks_spread_over_the_text():
    text = "".join(f"{k:05d}" for k in range(4000))  # 20,000 characters, position readable
    corpus = text_study.split_in_blocks("t", text, "test")
    assert len(corpus.train) + len(corpus.validation) + len(corpus.test) == len(text)
    assert len(corpus.validation) == len(corpus.test) == len(text) // 10
    first, last = int(corpus.validation[:5]), int(corpus.validation[-5:])
    assert first < 400 and last > 3600  # from near the start to near the end


def test_the_model_size_follows_the_budget_and_the_text_within_its_range():
    def rate(params, vocab, batch, seq_len):
        return 50_000.0  # characters/s, whatever the size
    small_text = plan_for(corpus_of(40_000), 60, rate)
    assert small_text.params == PARAMS[0]  # 32,000 training characters: the smallest model
    big = plan_for(corpus_of(2_000_000), 180, rate)
    assert big.params == PARAMS[1]  # 9M characters for 1.6M training characters: capped
    assert big.chars == 50_000 * 180 and big.steps * big.batch_size * big.seq_len <= big.chars
    tiny_budget = plan_for(corpus_of(2_000_000), 10, rate)
    assert tiny_budget.params == PARAMS[0] and tiny_budget.batch_size == 16


@pytest.fixture(scope="module")
def gpl_study(tmp_path_factory):
    if not GPL.is_file():
        pytest.skip("Debian's GPL-3 text is not installed")
    out = tmp_path_factory.mktemp("gpl")
    seen = []
    table = text_study.study_text(GPL.read_text(), 2, out, "GPL-3", seen.append)
    return out, table, seen


def test_four_strategies_train_on_a_real_text_and_the_table_answers(gpl_study):
    out, table, seen = gpl_study
    assert [r["name"] for r in table["rows"]] == list(VARIANTS)
    chars = {r["chars"] for r in table["rows"]}
    assert chars == {table["plan"]["chars"] // (table["plan"]["batch_size"] * 128)
                     * table["plan"]["batch_size"] * 128}  # every strategy saw the same
    for r in table["rows"]:
        assert r["val_bpc_ci"][0] <= r["val_bpc"] <= r["val_bpc_ci"][1]
        assert r["val_bpc"] < 6.0  # better than uniform over the text's ~80 characters
    assert "One seed each" in table["answer"] and not table["stopped"]
    assert json.loads((out / "table.json").read_text())["answer"] == table["answer"]
    assert table["answer"] in (out / "table.md").read_text()
    # the curves: every strategy reported after every slice, in turns
    assert [p.strategy for p in seen[:4]] == list(VARIANTS)
    assert {p.strategy for p in seen if p.step == p.steps} == set(VARIANTS)
    from cnngru.training.snapshots import validations

    for v in VARIANTS:  # each slice's own validation (not the best so far): overfitting shows
        reported = [p.val_bpc for p in seen if p.strategy == v]
        assert reported == [val for _, val in validations(out / "runs" / v)][:len(reported)]
    for v in VARIANTS:  # checkpoints cnngru.load (and CNNGRU_CHECKPOINTS) accept
        bundle = cnngru.load(out / v, device="cpu")
        assert bundle.variant == v
        assert len("".join(s.char for s in cnngru.generate(bundle, "This License",
                                                           max_new_tokens=20, seed=0))) == 20


def test_a_stop_leaves_all_four_at_the_same_step(tmp_path):
    if not GPL.is_file():
        pytest.skip("Debian's GPL-3 text is not installed")
    seen = []
    table = text_study.study_text(GPL.read_text(), 2, tmp_path, "GPL-3", seen.append,
                                  should_stop=lambda: len(seen) >= 8)  # after two turns each
    assert table["stopped"]
    steps = {p.strategy: p.step for p in seen}
    assert len(set(steps.values())) == 1 and 0 < next(iter(steps.values())) < seen[0].steps
    assert all(r["chars"] < table["plan"]["chars"] for r in table["rows"])


def test_ctrl_c_stops_the_study_after_the_round_with_all_four_at_one_step(tmp_path):
    """A user's Ctrl-C: the round under way ends, every strategy at the same step, and the four
    models are measured and kept (a second Ctrl-C would stop at once, keeping nothing)."""
    import signal
    import subprocess
    import sys

    if not GPL.is_file():
        pytest.skip("Debian's GPL-3 text is not installed")
    study = subprocess.Popen([sys.executable, "-m", "cnngru.cli", "study", str(GPL), "--budget",
                              "4", "--out", str(tmp_path / "out")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = study.stdout.readline()  # the first strategy's first slice is done
    assert "step" in first, first + study.stderr.read()
    study.send_signal(signal.SIGINT)
    rest, errors = study.communicate(timeout=300)
    assert study.returncode == 0 and "Traceback" not in errors, errors
    assert "stopping after this round" in rest
    rows = [line for line in rest.splitlines() if line.startswith(tuple(f"| {v} |" for v in VARIANTS))]
    trained = {int(row.rstrip(" |").rsplit("|", 1)[1].replace(",", "")) for row in rows}
    table = json.loads((tmp_path / "out" / "table.json").read_text())
    assert len(rows) == 4 and len(trained) == 1 and table["stopped"]
    assert trained.pop() < table["plan"]["chars"]
