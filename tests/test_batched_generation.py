"""Continuous batching: each row of a batch writes exactly what it writes alone, its logits are
the model's own, rows join, stop and leave, and many threads share one engine safely."""

import gc
import threading

import numpy as np
import pytest
import torch

import cnngru
from cnngru import batched_generation
from cnngru.batched_generation import Engine, engine_for, read_together
from cnngru.checkpoint import Bundle
from cnngru.models import VARIANTS

PROMPTS = ("ROMEO.\n", "First Citizen.\nBefore we proceed", "KING.\nWhat says", "E",
           "Enter the Ghost, and stay a while upon the platform.\n")
SETTINGS = (dict(temperature=0.8), dict(temperature=1.0), dict(temperature=0),
            dict(temperature=1.3, top_k=5), dict(temperature=0.7, top_p=0.9),
            dict(temperature=1.0, top_k=20, top_p=0.5), dict(temperature=0.05))


def text_of(steps) -> str:
    return "".join(step.char for step in steps)


def row_request(i: int) -> dict:
    """A varied request per row: prompt, settings, seed."""
    return dict(prompt=PROMPTS[i % len(PROMPTS)], seed=1000 + 7 * i, **SETTINGS[i % len(SETTINGS)])


def alone(bundle, request, length):
    request = dict(request)
    return text_of(cnngru.generate(bundle, request.pop("prompt"), max_new_tokens=length, **request))


@pytest.fixture
def small_bundle(small_model, vocab):
    return Bundle(small_model, vocab)


@pytest.fixture(scope="module")
def shipped():
    return {name: cnngru.load(name, device="cpu") for name in VARIANTS}


def crowd(bundle, rows=16, length=120, late=12, stop_after=25, fast=None):
    """16 rows with other settings: row 0 joins after ``late`` characters of the rest, row 1 is
    stopped after ``stop_after``; returns the texts and the requests."""
    engine = Engine(bundle, fast=fast)
    requests = [row_request(i) for i in range(rows)]
    streams = {i: engine.generate(**dict(requests[i]), max_new_tokens=length)
               for i in range(1, rows)}
    texts = {i: "" for i in range(rows)}
    for t in range(length):
        if t == late:
            streams[0] = engine.generate(**requests[0], max_new_tokens=length)
        if t == stop_after:
            streams[1].stop()
        for i, s in streams.items():
            step = next(s, None)
            if step is not None:
                texts[i] += step.char
    for i, s in streams.items():  # the late row's last characters
        texts[i] += text_of(s)
    return texts, requests, engine


def test_a_seed_writes_the_same_text_alone_and_in_a_batch_of_sixteen(small_bundle):
    length = 120
    texts, requests, engine = crowd(small_bundle, length=length)
    for i, request in enumerate(requests):
        solo = alone(small_bundle, request, length)
        if i == 1:  # stopped: what it wrote is the start of its solo text
            assert 25 <= len(texts[i]) < length and solo.startswith(texts[i])
        else:
            assert texts[i] == solo, (i, request)
    assert engine.mean_batch_size > 12  # they really stepped together
    assert engine.active_rows == 0


@pytest.mark.parametrize("seed", range(len(VARIANTS)))
def test_many_seeds_in_one_batch_equal_generate_on_shipped_checkpoints(shipped, seed):
    bundle = shipped[VARIANTS[seed % len(VARIANTS)]]
    requests = [dict(row_request(i), seed=16 * seed + i) for i in range(16)]
    streams = [engine_for(bundle).generate(**r, max_new_tokens=160) for r in requests]
    got = read_together(streams)
    assert got == [alone(bundle, r, 160) for r in requests]


def test_shipped_crowd_with_a_late_joiner_and_a_stopped_row(shipped):
    texts, requests, _ = crowd(shipped["hybrid"], length=150, late=40, stop_after=60)
    for i, request in enumerate(requests):
        solo = alone(shipped["hybrid"], request, 150)
        assert solo.startswith(texts[i]) and (i == 1 or texts[i] == solo), i


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_gpu_step_keeps_every_row_exact_through_a_late_joiner_and_a_stop(shipped, variant):
    """The engine's step off the CPU (``graph_step``, run eagerly here): rows leave and join, the
    batch is padded to a power of two, and each row still writes its solo text."""
    bundle = shipped[variant]
    texts, requests, engine = crowd(bundle, rows=11, length=90, late=30, stop_after=50, fast=False)
    for i, request in enumerate(requests):
        solo = alone(bundle, dict(request, fast=False), 90)
        assert solo.startswith(texts[i]) and (i == 1 or texts[i] == solo), i
    # 10 rows, 11, 10 again share the 16-row size; the late joiner ends alone
    assert sorted(engine._graph_step.graphs) == [1, 16]


def test_each_rows_logits_are_the_models_own_forward_on_its_text(small_bundle):
    """Rows of different lengths join at different steps; each one's logits at its end are those
    of the model reading that row's whole text alone."""
    engine = Engine(small_bundle)
    streams = []
    for i in range(10):
        streams.append(engine.generate(**row_request(i), max_new_tokens=5 + 9 * i))
        for s in streams[:-1]:  # the others move on before the next one joins
            next(s, None)
    read_together(streams)
    vocab = small_bundle.vocab
    for s in streams:
        end = s.continuation
        assert end.text == s.text
        with torch.no_grad():
            full = small_bundle.model(vocab.encode_tensor(end.text)[None]).logits[0, -1].numpy()
        np.testing.assert_allclose(end.logits, full, atol=1e-5, rtol=0)


def test_common_random_numbers_rows_of_two_models_draw_the_same_numbers(shipped, monkeypatch):
    drawn: dict[tuple, list[float]] = {}

    def recording_draws(seed):
        def stream():
            for u in cnngru.generation.uniform_draws(seed):
                drawn[key].append(float(u))
                yield u
        key = (seed, len(drawn))
        drawn[key] = []
        return stream()

    monkeypatch.setattr(batched_generation, "uniform_draws", recording_draws)
    a = engine_for(shipped["gru"]).generate("ROMEO.\n", max_new_tokens=90, seed=3)
    b = engine_for(shipped["cnn-post"]).generate("ROMEO.\n", max_new_tokens=90, seed=3)
    other = engine_for(shipped["gru"]).generate("KING.\n", max_new_tokens=90, seed=4)
    texts = read_together([a, b, other])
    first, second, third = drawn.values()
    assert first[:90] == second[:90] and first[:90] != third[:90]
    assert texts[0] != texts[1]  # different models, shared dice
    assert texts[:2] == [alone(shipped["gru"], dict(prompt="ROMEO.\n", seed=3), 90),
                         alone(shipped["cnn-post"], dict(prompt="ROMEO.\n", seed=3), 90)]


def test_one_engine_per_model_instance_never_per_variant_name(shipped):
    import copy

    b = shipped["gru"]
    twin = Bundle(copy.deepcopy(b.model), b.vocab, dict(b.metadata))
    assert engine_for(b) is engine_for(b)
    assert engine_for(twin) is not engine_for(b)
    texts = read_together([engine_for(m).generate("ROMEO.\n", max_new_tokens=100, seed=5)
                           for m in (b, twin)])
    assert texts[0] == texts[1]  # identical weights, same seed: identical text, two batches
    engine = engine_for(twin)
    assert engine.row_steps == 100 and engine.steps == 100  # the twin's row stepped alone
    del twin
    gc.collect()
    assert len([e for e in batched_generation._ENGINES.values() if e is engine]) == 0


def test_stop_ends_a_row_and_its_continuation_carries_on_exactly(shipped):
    b = shipped["cnn-pre"]
    draws = np.random.default_rng(11).random(300)
    whole = text_of(cnngru.generate(b, "ROMEO.\n", max_new_tokens=300, draws=iter(draws)))
    engine = engine_for(b)
    stream = engine.generate("ROMEO.\n", max_new_tokens=300, draws=iter(draws))
    others = [engine.generate(**row_request(i), max_new_tokens=300) for i in range(5)]
    for _ in range(50):
        next(stream)
        for s in others:
            next(s)
    with pytest.raises(RuntimeError, match="still generating"):
        _ = stream.continuation
    stream.stop()
    end = stream.continuation
    rest = text_of(stream)  # characters generated before the stop still come out
    assert len(rest) <= engine.max_ahead and stream.text == end.text
    n = len(end.text) - len("ROMEO.\n")
    more = cnngru.generate(b, continue_from=end, max_new_tokens=300 - n, draws=iter(draws[n:]))
    assert end.text + text_of(more) == "ROMEO.\n" + whole
    assert read_together(others)  # the others were not disturbed
    assert engine.active_rows == 0


def test_continue_from_a_generation_in_the_engine(shipped):
    b = shipped["hybrid"]
    first = cnngru.generate(b, "ROMEO.\n", max_new_tokens=60, seed=1)
    text_of(first)
    expected = text_of(cnngru.generate(b, "O", continue_from=first.continuation,
                                       max_new_tokens=80, seed=2))
    stream = engine_for(b).generate("O", continue_from=first.continuation, max_new_tokens=80,
                                    seed=2)
    assert text_of(stream) == expected
    assert stream.continuation.text == first.text + "O" + expected


def test_a_closed_or_dropped_stream_frees_its_row(small_bundle):
    engine = Engine(small_bundle, max_ahead=1)  # a step makes at most one character per row
    kept = engine.generate("ROMEO.\n", max_new_tokens=50, seed=0)
    closed = engine.generate("KING.\n", max_new_tokens=50, seed=1)
    dropped = engine.generate("E", max_new_tokens=50, seed=2)
    next(kept), next(closed), next(dropped)
    closed.close()
    del dropped
    gc.collect()
    before = engine.row_steps
    next(kept)
    assert engine.row_steps - before == 1  # only the kept row is stepped now
    assert engine.active_rows == 1


def test_diagnostics_only_for_the_rows_that_ask(shipped):
    b = shipped["hybrid"]
    engine = engine_for(b)
    explained = engine.generate("ROMEO.\n", max_new_tokens=30, seed=0, diagnostics=True)
    plain = engine.generate("ROMEO.\n", max_new_tokens=30, seed=0)
    steps, plain_steps = [], []
    for _ in range(30):
        steps.append(next(explained))
        plain_steps.append(next(plain))
    solo = list(cnngru.generate(b, "ROMEO.\n", max_new_tokens=30, seed=0, diagnostics=True))
    assert [s.char for s in steps] == [s.char for s in plain_steps] == [s.char for s in solo]
    for s, ref in zip(steps, solo, strict=True):
        assert s.probability == pytest.approx(ref.probability, abs=1e-5)
        assert s.entropy == pytest.approx(ref.entropy, abs=1e-4)
        assert [c for c, _ in s.top] == [c for c, _ in ref.top]
        np.testing.assert_allclose(s.trace["attention"], ref.trace["attention"], atol=1e-5)
        assert s.trace["attention"].shape == (32,) and 0 <= s.trace["reliance"] <= 1
    assert all(s.probability is None and s.trace == {} for s in plain_steps)


def test_sixteen_threads_each_streaming_a_row_get_their_solo_text(shipped):
    b = shipped["cnn-post"]
    engine = Engine(b)
    requests = [row_request(i) for i in range(16)]
    expected = [alone(b, r, 200) for r in requests]
    got: dict[int, str] = {}
    threads_before = threading.active_count()

    def reader(i):
        stream = engine.generate(**requests[i], max_new_tokens=200)
        text = ""
        for step in stream:
            text += step.char
            if i == 3 and len(text) == 20:  # this visitor leaves early
                stream.close()
                break
        got[i] = text

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a reader is stuck"
    for i in range(16):
        assert got[i] == (expected[i][:20] if i == 3 else expected[i]), i
    assert engine.mean_batch_size > 2  # readers shared steps
    assert engine.active_rows == 0 and engine.step() == 0  # idle: nothing left to step
    assert threading.active_count() == threads_before  # and no engine thread left running


def test_bad_requests_fail_alone(small_bundle):
    engine = Engine(small_bundle)
    with pytest.raises(ValueError, match="empty"):
        engine.generate("", max_new_tokens=5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        engine.generate("A", max_new_tokens=-1)
    with pytest.raises(ValueError, match="top_p"):
        engine.generate("A", top_p=0)
    with pytest.raises(cnngru.UnknownCharactersError):
        engine.generate("Roméo", max_new_tokens=5)
    short = engine.generate("A", max_new_tokens=40, draws=iter([0.5] * 10))
    fine = engine.generate("A", max_new_tokens=40, seed=0)
    assert len(text_of(read_together_safely(short))) == 10
    assert text_of(fine) == alone(small_bundle, dict(prompt="A", seed=0), 40)
    assert list(engine.generate("A", max_new_tokens=0)) == []


def read_together_safely(stream):
    """The steps a stream gave before its error."""
    steps = []
    with pytest.raises(RuntimeError, match="draws ran out"):
        for step in stream:
            steps.append(step)
    return steps


def test_other_architectures_are_refused_with_a_pointer(vocab):
    model = cnngru.build_model("transformer", len(vocab), params=20_000).eval()
    with pytest.raises(TypeError, match="cnngru.generate"):
        Engine(Bundle(model, vocab))


def test_the_forward_path_batches_too(small_bundle):
    """Off the CPU the engine steps with the model's own forward (batched): same texts."""
    engine = Engine(small_bundle, fast=False)
    requests = [row_request(i) for i in range(6)]
    got = read_together([engine.generate(**r, max_new_tokens=40) for r in requests])
    assert got == [alone(small_bundle, dict(r, fast=False), 40) for r in requests]
    assert engine.mean_batch_size == 6


def test_cli_writes_n_samples_generated_together(shipped, capsys, monkeypatch):
    from cnngru import cli

    monkeypatch.setattr(cnngru, "load", lambda name, device=None: shipped[name])
    cli.main(["generate", "KING.\n", "--model", "gru", "-n", "4", "--seed", "7",
              "--max-new-tokens", "50"])
    out = capsys.readouterr().out
    for i in range(4):
        text = "KING.\n" + alone(shipped["gru"], dict(prompt="KING.\n", seed=7 + i,
                                                      temperature=0.8), 50)
        assert f"=== sample {i + 1} of 4 (seed {7 + i}) ===\n{text}\n" in out
    cli.main(["generate", "KING.\n", "--model", "gru", "--seed", "8", "--max-new-tokens", "50"])
    assert capsys.readouterr().out == "KING.\n" + alone(
        shipped["gru"], dict(prompt="KING.\n", seed=8, temperature=0.8), 50) + "\n"


def test_sample_statistics_come_from_the_same_texts_as_one_by_one(small_bundle):
    from cnngru.evaluation import measures
    from cnngru.sample_quality import distinct_n, real_word_rate, repetition

    words = frozenset({"the", "and", "of", "to"})
    texts = [alone(small_bundle, dict(prompt=measures.SAMPLE_PROMPTS[s % 4], seed=s,
                                      temperature=0.8), 80) for s in range(5)]
    rows = [(real_word_rate(t, words), distinct_n(t, 2), distinct_n(t, 3), repetition(t))
            for t in texts]
    stats = measures.sample_stats(small_bundle, words, samples=5, length=80)
    assert [stats[k] for k in ("real_word_rate", "distinct_2", "distinct_3", "repetition")] \
        == np.mean(rows, axis=0).tolist()


def test_a_burst_steps_until_no_row_wants_more(small_bundle):
    """``step(burst)`` goes on while rows want characters (up to max_ahead unread each), so the
    waiting readers are woken once for several characters; ``step()`` makes one per row."""
    engine = Engine(small_bundle, max_ahead=4)
    streams = [engine.generate("ROMEO.\n", max_new_tokens=10, seed=s) for s in range(3)]
    assert engine.step() == 3
    assert engine.step(burst=60.0) == 3 * 3  # each row up to 4 unread: stops there, not at 60 s
    assert [len(s._row.ready) for s in streams] == [4, 4, 4]
    alone = cnngru.generate(small_bundle, "ROMEO.\n", max_new_tokens=10, seed=1)
    assert "".join(s.char for s in streams[1]) == "".join(s.char for s in alone)


def test_a_streams_speed_counts_only_the_steps_of_its_own_model(shipped, monkeypatch):
    """A comparison reads four models in turn: each column's characters/s must be its own model's.
    On a clock where every step takes one second, a row has one character per second whatever
    another model does meanwhile or however long its reader waits; rows of one batch each count
    their steps in full."""
    clock = iter(range(10**6))
    monkeypatch.setattr(batched_generation.time, "perf_counter", lambda: float(next(clock)))
    gru, hybrid = Engine(shipped["gru"]), Engine(shipped["hybrid"])
    one, two = (gru.generate("ROMEO.\n", max_new_tokens=30, seed=s) for s in (1, 2))
    other = hybrid.generate("ROMEO.\n", max_new_tokens=200, seed=1)
    assert one.chars_per_s == 0.0  # no step yet
    assert len(text_of(other)) == 200  # another model's steps: none of them are one's
    assert one.chars_per_s == 0.0
    assert len(text_of(one)) == len(text_of(two)) == 30
    assert one.chars_per_s == two.chars_per_s == other.chars_per_s == 1.0
