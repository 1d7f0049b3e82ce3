"""Analysed generations served by a real helper process: the same texts and analyses as in this
process, rows of many requests batched together there, stop, close and continue, clear errors,
a child that dies or cannot load its models."""

import shutil
import threading

import numpy as np
import pytest

import cnngru
from cnngru.analysed_generation import AnalysedGenerations, AnalysedStream
from cnngru.generation_process import GenerationProcess, RemoteStream
from cnngru.models import VARIANTS

SETTINGS = dict(max_new_tokens=150, temperature=0.8, top_k=0, top_p=1.0)


@pytest.fixture(scope="module")
def shipped():
    return {name: cnngru.load(name, device="cpu") for name in VARIANTS}


@pytest.fixture(scope="module")
def served(shipped):
    generations = GenerationProcess(shipped)
    yield generations
    generations.close()


def read(gen) -> str:
    with gen:
        return "".join(c.char for c in gen)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_served_generation_is_the_one_made_here(served, shipped, variant):
    """Text, probabilities, continuation and analysis equal the in-process ones (a seed writes
    the text ``cnngru.generate`` writes)."""
    bundle = shipped[variant]
    there = served.stream(bundle, "ROMEO:\nBut soft", seed=11, **SETTINGS)
    assert isinstance(there, RemoteStream)
    here = AnalysedGenerations().stream(bundle, "ROMEO:\nBut soft", seed=11, **SETTINGS)
    with there, here:
        got, expected = list(there), list(here)
    assert [c.char for c in got] == [c.char for c in expected]
    alone = cnngru.generate(bundle, "ROMEO:\nBut soft", seed=11, **SETTINGS)
    assert "".join(c.char for c in got) == "".join(s.char for s in alone)
    np.testing.assert_allclose([c.probability for c in got], [c.probability for c in expected],
                               rtol=1e-5)
    assert there.text == there.continuation.text == here.continuation.text
    np.testing.assert_allclose(there.continuation.logits, here.continuation.logits, atol=1e-5)
    a, b = there.analysis(), here.analysis()
    assert a.text == b.text == there.text
    for name in ("probability", "entropy", "influence", "attention", "reliance"):
        mine, theirs = getattr(a, name), getattr(b, name)
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6, err_msg=name)


def test_many_requests_share_one_batch_in_the_child(served, shipped):
    bundle = shipped["gru"]
    before = served.stats({"gru": bundle})["gru"]
    gens = [served.stream(bundle, "KING.\n", seed=s, **SETTINGS) for s in range(12)]
    texts = [None] * 12
    threads = [threading.Thread(target=lambda k: texts.__setitem__(k, read(gens[k])), args=(k,))
               for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = served.stats({"gru": bundle})["gru"]
    made = after["characters"] - before["characters"]
    assert made == 12 * SETTINGS["max_new_tokens"]
    assert made / (after["steps"] - before["steps"]) > 4  # rows stepped together
    assert texts[3] == "".join(s.char for s in cnngru.generate(bundle, "KING.\n", seed=3,
                                                                 **SETTINGS))
    assert after["active_rows"] == 0


def test_stop_ends_the_text_with_what_was_made(served, shipped):
    bundle = shipped["hybrid"]
    with served.stream(bundle, "The ", seed=2, **{**SETTINGS, "max_new_tokens": 2000}) as gen:
        first = [next(gen) for _ in range(3)]
        gen.stop()
        rest = list(gen)
    text = gen.continuation.text
    assert text.startswith("The " + "".join(c.char for c in first + rest))
    assert len(text) < 4 + 2000
    assert gen.analysis().text == text
    assert served.stats({"hybrid": bundle})["hybrid"]["active_rows"] == 0


def test_close_frees_the_row(served, shipped):
    bundle = shipped["cnn-post"]
    gen = served.stream(bundle, "The ", seed=2, **{**SETTINGS, "max_new_tokens": 2000})
    next(gen)
    gen.close()
    for _ in range(100):  # the child drops it at its next step
        if served.stats({"cnn-post": bundle})["cnn-post"]["active_rows"] == 0:
            break
    assert served.stats({"cnn-post": bundle})["cnn-post"]["active_rows"] == 0


def test_a_continuation_continues_there_as_here(served, shipped):
    bundle = shipped["cnn-pre"]
    first = served.stream(bundle, "ROMEO:\n", seed=5, **SETTINGS)
    read(first)
    there = served.stream(bundle, continue_from=first.continuation, seed=6, **SETTINGS)
    here = AnalysedGenerations().stream(bundle, continue_from=first.continuation, seed=6,
                                        **SETTINGS)
    more = read(there)
    assert more == read(here) and len(more) == 150
    assert there.analysis().text == first.continuation.text + more == there.text


def test_a_model_the_child_did_not_load_runs_here(served, shipped):
    other = cnngru.load("gru", device="cpu")  # another instance: not what the child serves
    gen = served.stream(other, "ROMEO:\n", seed=1, **SETTINGS)
    assert isinstance(gen, AnalysedStream)
    assert read(gen) == "".join(s.char for s in cnngru.generate(other, "ROMEO:\n", seed=1,
                                                                  **SETTINGS))


def test_a_bad_request_fails_clearly_and_the_child_serves_on(served, shipped):
    bundle = shipped["gru"]
    with pytest.raises(RuntimeError, match="outside the model's .*vocabulary"):
        read(served.stream(bundle, "ROMEO\x01", seed=1, **SETTINGS))
    assert len(read(served.stream(bundle, "ROMEO", seed=1, **SETTINGS))) == 150


def test_a_child_that_dies_fails_its_streams_clearly_and_is_replaced(shipped):
    generations = GenerationProcess(shipped)
    try:
        gen = generations.stream(shipped["gru"], "The ", seed=1,
                                 **{**SETTINGS, "max_new_tokens": 2000})
        next(gen)
        old = generations.pid
        generations._process.kill()
        with pytest.raises(RuntimeError, match="the generation process stopped"):
            list(gen)
        assert len(read(generations.stream(shipped["gru"], "The ", seed=1, **SETTINGS))) == 150
        assert generations.pid != old
    finally:
        generations.close()


def test_a_child_that_cannot_load_the_models_leaves_them_here(tmp_path):
    folder = tmp_path / "gru"
    shutil.copytree(cnngru.checkpoint.resolve("gru"), folder)
    bundle = cnngru.load(folder, device="cpu")
    (folder / cnngru.checkpoint.WEIGHTS).write_bytes(b"damaged after loading here")
    generations = GenerationProcess({"gru": bundle})
    try:
        gen = generations.stream(bundle, "The ", seed=1, **SETTINGS)
        assert isinstance(gen, AnalysedStream) and generations.failed
        assert "do not match" in generations.failed
        assert len(read(gen)) == 150
    finally:
        generations.close()


def test_a_request_after_close_is_served_by_a_new_child_and_not_failed_by_the_old_one(shipped):
    """close() lets go of the child before it has gone; a request in between starts a new child,
    and the old child's receiver, seeing its end later, fails only the old child's requests."""
    def receivers():
        return {t for t in threading.enumerate() if t.name == "cnngru-generations-receiver"}
    others = receivers()  # other tests' children's
    generations = GenerationProcess(shipped)
    try:
        read(generations.stream(shipped["gru"], "The ", seed=1, **SETTINGS))
        old_child = generations._process
        old_receivers = receivers() - others
        with generations._lock:
            generations._conn = None  # close()'s first step: the next request starts a child
        gen = generations.stream(shipped["gru"], "The ", seed=2, **SETTINGS)
        old_child.kill()  # the old child's end reaches its receiver only now
        for t in old_receivers:
            t.join(10)
        assert len(read(gen)) == 150 and generations.pid != old_child.pid
    finally:
        generations.close()


def test_a_served_generation_reports_its_models_own_speed(served, shipped):
    """The child sends each row's characters/s of its model's own steps with its characters."""
    bundle = shipped["gru"]
    with served.stream(bundle, "KING.\n", seed=3, **SETTINGS) as there:
        assert there.chars_per_s == 0.0
        text = read(there)
    assert len(text) == SETTINGS["max_new_tokens"] and there.chars_per_s > 100
