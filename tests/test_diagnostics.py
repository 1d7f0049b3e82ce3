"""The analysis of a whole text (cnngru.diagnostics): it equals what happened during generation,
in any chunk size, and its numbers are strict JSON."""

import json

import numpy as np
import pytest
import torch

import cnngru
from cnngru import diagnostics
from cnngru.checkpoint import Bundle
from cnngru.diagnostics import analyse, joined
from cnngru.models.designs import CANDIDATES, design_overrides

CHARS = "\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def bundles() -> dict[str, Bundle]:
    """A tiny random model of every variant, different per variant."""
    vocab = cnngru.Vocab(CHARS)
    made = {}
    for k, variant in enumerate(cnngru.VARIANTS):
        torch.manual_seed(k)
        made[variant] = Bundle(cnngru.build_model(variant, len(vocab), hidden=24).eval(), vocab)
    return made


@pytest.mark.parametrize("variant", cnngru.VARIANTS)
def test_analysis_equals_what_happened_during_generation(bundles, variant):
    bundle = bundles[variant]
    gen = cnngru.generate(bundle, "The king ", max_new_tokens=40, seed=3, diagnostics=True)
    steps = list(gen)
    a = analyse(bundle, gen.text)
    start = len("The king ")
    np.testing.assert_allclose(a.probability[start:], [s.probability for s in steps], rtol=1e-5)
    np.testing.assert_allclose(a.entropy[start:], [s.entropy for s in steps], rtol=1e-4)
    assert a.top_chars[start] == "".join(c for c, _ in steps[0].top)
    if variant == "hybrid":  # step k's trace is the one that predicts character k + 1
        traced = np.array([s.trace["attention"] for s in steps[:-1]])
        np.testing.assert_allclose(a.attention[start + 1:], traced, atol=1e-6)
    assert (a.influence is None) == (variant == "gru")
    assert (a.attention is None) == (variant != "hybrid")


def test_analysis_in_small_chunks_equals_one_pass(bundles, monkeypatch):
    bundle = bundles["hybrid"]
    text = "O Romeo, Romeo, wherefore art thou Romeo? Deny thy father and refuse thy name."
    whole = analyse(bundle, text)
    monkeypatch.setattr(diagnostics, "CHUNK", 7)
    chunked = analyse(bundle, text)
    np.testing.assert_allclose(chunked.probability[1:], whole.probability[1:], rtol=1e-5)
    np.testing.assert_allclose(chunked.influence[1:], whole.influence[1:], atol=1e-7)
    np.testing.assert_allclose(chunked.attention[1:], whole.attention[1:], atol=1e-6)


def test_cnn_influence_is_a_nonnegative_kl_and_zero_without_a_cnn_change(bundles):
    bundle = bundles["cnn-post"]
    a = analyse(bundle, "Speak, my lord.")
    assert np.isnan(a.influence[0]) and (a.influence[1:] >= 0).all() and a.influence[1:].max() > 0
    # With the refinement's output layer zeroed the CNN changes nothing: influence 0.
    saved = {k: v.clone() for k, v in bundle.model.up.state_dict().items()}
    try:
        with torch.no_grad():
            bundle.model.up.weight.zero_()
            bundle.model.up.bias.zero_()
        assert np.abs(analyse(bundle, "Speak, my lord.").influence[1:]).max() < 1e-9
    finally:
        bundle.model.up.load_state_dict(saved)


def test_analysis_numbers_are_strict_json(bundles):
    a = analyse(bundles["hybrid"], "My lord.")
    data = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert data["probability"][0] is None and len(data["probability"]) == len("My lord.")
    assert data["top"][0] == [] and len(data["top"][1]) == diagnostics.TOP
    assert len(data["attention"][1]) == bundles["hybrid"].model.config.window
    assert data["bits_per_char"] == pytest.approx(a.bits_per_char(), abs=1e-4)


def test_analysis_refuses_unknown_characters_and_one_character(bundles):
    with pytest.raises(cnngru.UnknownCharactersError):
        analyse(bundles["gru"], "naïve")
    with pytest.raises(ValueError, match="at least two"):
        analyse(bundles["gru"], "a")


CNN_AFTER_GRU = {"cnn-post", "hybrid/cnn-window32"}  # the designs whose CNN leaves the GRU alone


@pytest.mark.parametrize("strategy, design", [(s, d) for s, table in CANDIDATES.items()
                                              for d in table if s != "gru"])
def test_the_prediction_without_the_cnn_from_one_pass(strategy, design, vocab):
    """Where the CNN sits after the GRU, the prediction without it comes from the pass with it
    (its trace's GRU output), equal to a second pass with ``cnn_off``; elsewhere there is none."""
    torch.manual_seed(0)
    model = cnngru.build_model(strategy, len(vocab), hidden=24, **design_overrides(strategy, design))
    with torch.no_grad():
        for p in model.parameters():  # off their initial values: every path moves the logits
            p.add_(torch.randn_like(p) * 0.05)
    bundle = Bundle(model.eval(), vocab)
    texts = [vocab.encode_tensor(t) for t in ("To be, or not to be", "Speak, my lord.")]
    with torch.inference_mode():
        _, trace = diagnostics.log_probs(bundle, texts, cnn_off=False)
        without, _ = diagnostics.log_probs(bundle, texts, cnn_off=True)
        from_trace = diagnostics.log_probs_without_cnn(bundle, trace)
    if strategy in CNN_AFTER_GRU or f"{strategy}/{design}" in CNN_AFTER_GRU:
        torch.testing.assert_close(from_trace, without, atol=1e-6, rtol=0)
        a = analyse(bundle, "To be, or not to be")  # and the analysis takes it from there
        assert a.influence[1:].max() > 0
    else:
        assert from_trace is None


@pytest.mark.parametrize("variant", cnngru.VARIANTS)
@pytest.mark.parametrize("batched", [False, True], ids=["generate", "engine"])
def test_a_generations_analysis_from_its_steps_equals_reading_it_again(bundles, variant, batched):
    """``analyse_generation`` (the start read again, the rest from the steps) equals ``analyse``
    of the whole text, for a text continued from another, alone or in a batch."""
    from cnngru.batched_generation import engine_for

    bundle = bundles[variant]
    first = cnngru.generate(bundle, "The king ", max_new_tokens=25, seed=1)
    list(first)
    settings = dict(max_new_tokens=40, seed=3, temperature=0.9, diagnostics=True,
                    continue_from=first.continuation)
    if batched:
        engine = engine_for(bundle)
        gen, other = (engine.generate(**settings), engine.generate("O", max_new_tokens=40))
        steps = []
        for step in gen:  # the other row steps in the same batch meanwhile
            steps.append(step)
            next(other, None)
    else:
        gen = cnngru.generate(bundle, **settings)
        steps = list(gen)
    quick = diagnostics.analyse_generation(bundle, first.text, steps)
    whole = analyse(bundle, gen.text)
    assert quick.text == whole.text == first.text + "".join(s.char for s in steps)
    np.testing.assert_allclose(quick.probability, whole.probability, rtol=1e-4)
    np.testing.assert_allclose(quick.entropy, whole.entropy, rtol=1e-4, atol=1e-6)
    assert (quick.rank == whole.rank).mean() > 0.95 and quick.top_chars[1:5] == whole.top_chars[1:5]
    for name in ("influence", "attention", "reliance", "split"):
        mine, theirs = getattr(quick, name), getattr(whole, name)
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("variant", cnngru.VARIANTS)
def test_a_prompts_kept_reading_stands_in_for_reading_it_again(bundles, variant):
    """The engine keeps the prompt's reading when diagnostics are on; the analysis built on it
    equals the one that reads the prompt again, and ``analyse`` of the whole text."""
    from cnngru.batched_generation import engine_for

    bundle = bundles[variant]
    prompt = "ROMEO:\nBut soft, what light "
    gen = engine_for(bundle).generate(prompt, max_new_tokens=30, seed=2, diagnostics=True)
    steps = list(gen)
    reading = gen.start.reading
    assert reading is not None and reading.log_probs.shape[0] == len(prompt)
    kept = diagnostics.analyse_generation(bundle, prompt, steps, reading)
    again = diagnostics.analyse_generation(bundle, prompt, steps)
    whole = analyse(bundle, gen.text)
    for quick in (kept, again):
        np.testing.assert_allclose(quick.probability, whole.probability, rtol=1e-4)
        np.testing.assert_allclose(quick.entropy, whole.entropy, rtol=1e-4, atol=1e-6)
    for name in ("influence", "attention", "reliance", "split"):
        mine, theirs = getattr(kept, name), getattr(again, name)
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6, err_msg=name)
    with pytest.raises(ValueError, match="the reading covers"):
        diagnostics.analyse_generation(bundle, prompt + "x", steps, reading)
    without = engine_for(bundle).generate(prompt, max_new_tokens=3, seed=2)
    assert without.start.reading is None  # no diagnostics: nothing kept


def test_a_generations_analysis_needs_its_diagnostics(bundles):
    steps = list(cnngru.generate(bundles["gru"], "The ", max_new_tokens=5, seed=0))
    with pytest.raises(ValueError, match="diagnostics"):
        diagnostics.analyse_generation(bundles["gru"], "The ", steps)
    with pytest.raises(ValueError, match="a start"):
        diagnostics.analyse_generation(bundles["gru"], "", steps)


@pytest.mark.parametrize("variant", cnngru.VARIANTS)
def test_a_one_character_generations_analysis(bundles, variant):
    bundle = bundles[variant]
    gen = cnngru.generate(bundle, "The", max_new_tokens=1, seed=0, diagnostics=True)
    quick = diagnostics.analyse_generation(bundle, "The", list(gen))
    np.testing.assert_allclose(quick.probability, analyse(bundle, gen.text).probability, rtol=1e-4)


def test_top_characters_are_joined_row_by_row_even_with_a_nul_in_the_vocabulary():
    ids = np.array([[2, 0, 1], [1, 1, 2]])
    assert joined("ab\n", ids) == ["\nab", "bb\n"]
    assert joined(["a", "\0", "c"], ids) == ["ca\0", "\0\0c"]  # NumPy strings would drop the NULs
    assert joined("abc", np.empty((2, 0), int)) == ["", ""]
