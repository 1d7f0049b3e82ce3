"""Text statistics of generated samples: words, real-word rate, distinct n-grams, repetition."""

import pytest

from cnngru.corpus import Corpus
from cnngru.sample_quality import distinct_n, real_word_rate, repetition, words_in


def test_words_are_lowercase_runs_of_letters_with_inner_apostrophes():
    assert words_in("O'er the KING's-land, 'tis 3 men!") == ["o'er", "the", "king's", "land",
                                                            "tis", "men"]


def test_words_follow_the_corpus_word_rule():
    text = "What's this? 'Tis I, Romeo -- o'er-perch'd, the KING'S man.\nAy, ay!"
    assert set(words_in(text)) == Corpus.from_texts("t", text, "", "", "").words()


def test_real_word_rate_counts_known_words():
    assert real_word_rate("The king spoke to Romeo", {"the", "king", "romeo"}) == pytest.approx(3 / 5)
    assert real_word_rate("!!! ...", {"the"}) == 0.0


def test_distinct_n_and_repetition_see_a_loop():
    varied = "one two three four five six seven eight nine ten"
    loop = "the king the king the king the king the king the king"
    assert distinct_n(varied, 2) == 1.0 and repetition(varied) == 0.0
    assert distinct_n(loop, 2) == pytest.approx(2 / 11)
    assert repetition(loop) > 0.7
    assert distinct_n("one", 2) == 0.0
    with pytest.raises(ValueError):
        distinct_n(varied, 0)
