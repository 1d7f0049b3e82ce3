"""The text properties filters and units are held to, on hand-made texts."""

import numpy as np

from cnngru.inside import properties as p

TEXT = "\n\nDON PEDRO\nGood [Aside] day, sir.\n"


def at(flags, text=TEXT) -> str:
    """The characters where ``flags`` is true, as a string."""
    return "".join(c for c, f in zip(text, flags, strict=True) if f)


def test_speaker_name_is_a_capital_line_after_a_blank_line():
    assert at(p.speaker_name(TEXT)) == "DON PEDRO"
    assert not p.speaker_name("said DON PEDRO\nyes").any()  # not after a blank line


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
