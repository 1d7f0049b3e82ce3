"""Sample-quality figures for generated text: real words, distinct n-grams, repetition.

A character model can reach a good bits-per-character and still write gibberish, so samples are
also judged on words: how many of them exist in the training corpus, how varied they are, and how
much the text repeats itself. Words are lowercase runs of letters with inner apostrophes, the same
rule as ``cnngru.corpus.Corpus.words()``, so a generated word and a corpus word compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")  # a word: letters, inner apostrophes (the corpus's too)


def words_in(text: str) -> list[str]:
    """The words of ``text``, lowercased, in order."""
    return WORD.findall(text.lower())


def real_word_rate(text: str, words: Collection[str]) -> float:
    """The share of the words of ``text`` found in ``words``; 0.0 for a text without words."""
    found = words_in(text)
    if not found:
        return 0.0
    return sum(w in words for w in found) / len(found)


def _ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    w = words_in(text)
    return [tuple(w[i:i + n]) for i in range(len(w) - n + 1)]


def distinct_n(text: str, n: int) -> float:
    """Distinct word n-grams over all word n-grams (Li et al. 2016); 0.0 with none.

    1.0: no n-gram occurs twice; low values: the text keeps reusing the same phrases.
    """
    grams = _ngrams(text, n)
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition(text: str, n: int = 4) -> float:
    """The share of word n-grams that already occurred earlier in the text (seq-rep-n, Welleck
    et al. 2019), 0.0 with none. Degenerate loops ("the king, the king, the king") score near 1.
    """
    grams = _ngrams(text, n)
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def load_words(path: str | Path) -> frozenset[str]:
    """A word list file, one word per line (``checkpoints/words.txt``)."""
    return frozenset(line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()
                     if line.strip())
