"""Simple, checkable properties of each character of a text: what filters and units are held to.

Every function maps a text of N characters to an array of N values, entry ``t`` describing the
text as read up to and including ``text[t]`` (a causal model has seen nothing later). Yes/no
properties are bool arrays, numeric ones ints. They are defined here once, so the Inside tab's
tables, its labels and its tests all mean the same thing by "word start" or "speaker name".

A speaker name is the corpus's layout (``corpus.py``): a line of capitals on its own after a
blank line (``DON PEDRO``), before the speech. Read causally, a line after a blank line is taken
for a name from its second capital on, while it stays capitals: one capital could begin any
line ("Exit"), and a heading in capitals (``ACT I``) reads the same as a name; headings are few.
"""

from __future__ import annotations

import numpy as np

VOWELS = frozenset("aeiouAEIOU")
PUNCTUATION = frozenset(".,;:!?'-\"()[]")
NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ .'-")


def _flags(text: str, test) -> np.ndarray:
    return np.fromiter((test(c) for c in text), dtype=bool, count=len(text))


def previous(a: np.ndarray, fill=False) -> np.ndarray:
    """``a`` shifted one place right: entry t holds a[t-1] (``fill`` at 0)."""
    return np.concatenate([np.full(1, fill, dtype=a.dtype), a[:-1]]) if len(a) else a


def letter(text: str) -> np.ndarray:
    return _flags(text, str.isalpha)


def word_start(text: str) -> np.ndarray:
    """The character just read is a letter after a non-letter (or the text's start)."""
    is_letter = letter(text)
    return is_letter & ~previous(is_letter)


def after_vowel(text: str) -> np.ndarray:
    """The character before the one just read is a vowel."""
    return previous(_flags(text, VOWELS.__contains__))


def capital(text: str) -> np.ndarray:
    return _flags(text, str.isupper)


def punctuation(text: str) -> np.ndarray:
    return _flags(text, PUNCTUATION.__contains__)


def space(text: str) -> np.ndarray:
    return _flags(text, " ".__eq__)


def newline(text: str) -> np.ndarray:
    """The character just read is a newline (the model now stands at a line's start)."""
    return _flags(text, "\n".__eq__)


def line_start(text: str) -> np.ndarray:
    """The character just read is the first of its line."""
    return previous(newline(text), fill=True)


def position_in_line(text: str) -> np.ndarray:
    """Characters read since the last newline: 0 on a newline, 1 on a line's first character."""
    out = np.empty(len(text), dtype=np.int64)
    count = 0
    for t, c in enumerate(text):
        count = 0 if c == "\n" else count + 1
        out[t] = count
    return out


def speaker_name(text: str) -> np.ndarray:
    """The character just read belongs to a speaker's name, as far as the text read so far
    shows: its line began after a blank line (or the text's start), and every character of
    the line up to here is a capital (or a space, dot, apostrophe or hyphen), the first two
    capitals read."""
    out = np.zeros(len(text), dtype=bool)
    after_blank, capitals, still_name = True, 0, True
    for t, c in enumerate(text):
        if c == "\n":
            after_blank = t == 0 or text[t - 1] == "\n"
            capitals, still_name = 0, after_blank
            continue
        still_name = still_name and c in NAME_CHARACTERS and (capitals > 0 or c.isupper())
        capitals += c.isupper()
        out[t] = still_name and capitals >= 2
    return out


def inside_brackets(text: str) -> np.ndarray:
    """Between a ``[`` read and its ``]`` (stage directions such as ``[To HERO]``), the
    brackets included."""
    out = np.zeros(len(text), dtype=bool)
    depth = 0
    for t, c in enumerate(text):
        if c == "[":
            depth += 1
        out[t] = depth > 0
        if c == "]":
            depth = max(depth - 1, 0)
    return out


def window_any(flags: np.ndarray, width: int) -> np.ndarray:
    """Entry t: any of flags[t-width+1..t] (a filter's window ending at t)."""
    counts = np.cumsum(np.concatenate([[0], flags.astype(np.int64)]))
    ends = np.arange(1, len(flags) + 1)
    return counts[ends] - counts[np.maximum(ends - width, 0)] > 0


# The properties a filter may be labelled with: name -> (description, function of the text and
# the filter's window width). Each describes the window ending at the character just read.
FILTER_PROPERTIES = {
    "word start": ("its last character starts a word", lambda s, k: word_start(s)),
    "after a vowel": ("its next-to-last character is a vowel", lambda s, k: after_vowel(s)),
    "capital": ("its last character is a capital letter", lambda s, k: capital(s)),
    "line start": ("its last character begins a line", lambda s, k: line_start(s)),
    "space": ("its last character is a space", lambda s, k: space(s)),
    "newline": ("its last character is a newline", lambda s, k: newline(s)),
    "punctuation": ("its last character is punctuation", lambda s, k: punctuation(s)),
    "speaker name": ("its last character is inside a speaker's name", lambda s, k: speaker_name(s)),
    "holds a newline": ("a newline lies in its window", lambda s, k: window_any(newline(s), k)),
    "holds punctuation": ("punctuation lies in its window",
                          lambda s, k: window_any(punctuation(s), k)),
}

# The properties GRU units are correlated with: name -> (description, kind, function).
# "yes/no" properties get the point-biserial correlation, "numeric" ones Pearson's (the same
# formula: point-biserial is Pearson's r with a 0/1 variable).
UNIT_PROPERTIES = {
    "speaker name": ("the character just read is inside a speaker's name", "yes/no", speaker_name),
    "position in line": ("characters read since the last newline", "numeric", position_in_line),
    "after newline": ("the character just read is a newline", "yes/no", newline),
    "inside brackets": ("inside a [stage direction]", "yes/no", inside_brackets),
    "word start": ("the character just read starts a word", "yes/no", word_start),
}
