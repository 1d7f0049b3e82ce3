"""The text properties filters and units are held to, on hand-made texts."""

import numpy as np
import pytest

from cnngru.inside import properties as p

TEXT = "\n\nDON PEDRO\nGood [Aside] day, sir.\n"


def at(flags, text=TEXT) -> str:
    """The characters where ``flags`` is true, as a string."""
    return "".join(c for c, f in zip(text, flags, strict=True) if f)


def test_speaker_name_is_a_capital_line_after_a_blank_line_from_its_second_capital():
    assert at(p.speaker_name(TEXT)) == "ON PEDRO"
    assert not p.speaker_name("said DON PEDRO\nyes").any()  # not after a blank line
    exits = "\n\nExit\n\nACT I\n\nBRUTUS\nI am\n"
    assert at(p.speaker_name(exits), exits) == "CT IRUTUS"  # a heading reads as a name


TEXTS = ["\n\nDON PEDRO\nGood [Aside] day, sir.\n\nDON PEDRo\nx\n\nExit\n\nACT I\n",
         "LEONATO\nI learn in this letter\n\nMessenger\nHe is [Within] near.\n\nBEATRICE\nI pray"]


@pytest.mark.parametrize("name", sorted(set(p.FILTER_PROPERTIES) | set(p.UNIT_PROPERTIES)))
def test_every_property_describes_only_the_text_read_so_far(name):
    """Entry t of a property is the same whether the text ends at t or goes on: a causal
    model could know it when it reads text[t]."""
    if name in p.UNIT_PROPERTIES:
        functions = [p.UNIT_PROPERTIES[name][2]]
    else:
        functions = [lambda s, k=k: p.FILTER_PROPERTIES[name][1](s, k) for k in (1, 3)]
    for f, text in ((f, text) for f in functions for text in TEXTS):
        whole = f(text)
        assert [f(text[:t + 1])[t] for t in range(len(text))] == whole.tolist(), repr(text)


def test_word_start_capital_and_punctuation():
    assert at(p.word_start(TEXT)) == "DPGAds"
    assert at(p.capital(TEXT)) == "DONPEDROGA"
    assert at(p.punctuation(TEXT)) == "[],."


def test_position_in_line_counts_up_and_restarts_on_newline():
    counts = p.position_in_line("ab\ncde\n")
    assert counts.tolist() == [1, 2, 0, 1, 2, 3, 0]


def test_inside_brackets_includes_the_brackets_and_nothing_after():
    assert at(p.inside_brackets(TEXT)) == "[Aside]"


def test_line_start_and_after_vowel_look_one_character_back():
    assert at(p.line_start("ab\ncd\ne"), "ab\ncd\ne") == "ace"
    assert at(p.after_vowel("oat"), "oat") == "at"


def test_window_any_sees_the_last_width_positions():
    flags = np.array([1, 0, 0, 0, 1, 0], dtype=bool)
    assert p.window_any(flags, 2).tolist() == [True, True, False, False, True, True]
    assert p.window_any(flags, 1).tolist() == flags.tolist()
