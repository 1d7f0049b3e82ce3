"""The batched analyses equal ``analyse`` alone, whatever shares their forward."""

import threading

import numpy as np
import pytest

from cnngru import load
from cnngru.batched_analysis import Analyser, analyser_for
from cnngru.diagnostics import analyse
from cnngru.vocab import UnknownCharactersError

TEXTS = ["ROMEO.\nBut soft, what light through yonder window breaks?",
         "To be, or not to be",
         "HAMLET.\nWords, words, words.\n" * 12,
         "ab"]


def assert_same(a, b):
    assert a.text == b.text
    np.testing.assert_allclose(a.probability, b.probability, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.entropy, b.entropy, atol=1e-4)
    np.testing.assert_allclose(a.top_probs, b.top_probs, atol=1e-5)
    for name in ("influence", "attention", "reliance"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            # a KL of up to ~15 bits from log-probabilities that differ by ~1e-5: relative error
            np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("variant", ["gru", "cnn-pre", "cnn-post", "hybrid"])
def test_a_batch_of_texts_gives_each_its_own_analysis(variant):
    bundle = load(variant)
    analyser = Analyser(bundle)
    results = [None] * len(TEXTS)
    barrier = threading.Barrier(len(TEXTS))

    def work(i):
        barrier.wait()
        results[i] = analyser.analyse(TEXTS[i], influence=i != 1)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(TEXTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, text in enumerate(TEXTS):
        assert_same(results[i], analyse(bundle, text, influence=i != 1))
    assert analyser.texts == len(TEXTS)
    assert analyser.forwards < len(TEXTS)  # some texts shared a forward


def test_bad_text_is_refused_before_it_joins_a_batch():
    bundle = load("gru")  # the registry holds models weakly: keep this one alive
    analyser = analyser_for(bundle)
    with pytest.raises(ValueError, match="two characters"):
        analyser.analyse("a")
    with pytest.raises(UnknownCharactersError):
        analyser.analyse("emoji \U0001F600 here")
    assert analyser.analyse("still works").text == "still works"


def test_one_analyser_per_model_instance():
    a, b = load("gru"), load("gru")
    assert analyser_for(a) is analyser_for(a)
    assert analyser_for(a) is not analyser_for(b)
