"""cnngru.refiner.metrics: edit distance, character error rate, real-word figures."""

import random

import pytest

from cnngru.refiner.metrics import blocks, cer, levenshtein, word_figures


def test_levenshtein_and_cer():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3 and levenshtein("abc", "abc") == 0
    assert cer("the king", "thw kin") == pytest.approx(2 / 8)


def test_word_figures_count_harmed_real_words():
    words = {"the", "king", "is", "dead"}
    before, after = "the kinf is dead", "the king is deed"
    f = word_figures(before, after, edits=[7, 14], words=words)
    assert f["real_word_rate_before"] == 0.75 and f["real_word_rate_after"] == 0.75
    assert f["harm_rate"] == pytest.approx(1 / 3, abs=1e-3)  # "dead" was real and got edited


def _reference_levenshtein(a: str, b: str) -> int:
    """The textbook dynamic programme, one cell at a time."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_levenshtein_equals_the_textbook_dynamic_programme():
    rng = random.Random(0)
    for _ in range(200):
        a = "".join(rng.choice("abc") for _ in range(rng.randrange(0, 12)))
        b = "".join(rng.choice("abc") for _ in range(rng.randrange(0, 12)))
        assert levenshtein(a, b) == levenshtein(b, a) == _reference_levenshtein(a, b), (a, b)


def test_blocks_cut_at_line_ends_and_rejoin_to_the_text():
    text = "".join(f"line {i} " + "x" * (i % 7) + "\n" for i in range(200))
    pieces = blocks(text, size=50)
    assert "".join(pieces) == text
    assert all(p.endswith("\n") and len(p) >= 50 for p in pieces[:-1])
    capped = "".join(blocks(text, size=50, max_chars=120))
    assert capped == text[:120], "max_chars stops at that many characters of the text"
