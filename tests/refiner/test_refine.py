"""cnngru.refiner.refine: confident substitutions only, windows without seams, the checkpoint.

Behaviour tests use the shipped ``checkpoints/refiner``; mechanics use tiny hand-set models.
"""

import importlib
import random
import re

import pytest
import torch

from cnngru import checkpoint
from cnngru.checkpoint import CheckpointError
from cnngru.models import build_model
from cnngru.refiner import Noise, load_refiner, refine
from cnngru.refiner.metrics import cer
from cnngru.refiner.noise import keyboard_neighbours

COMMON = ("the", "and", "that", "with", "what", "this", "have", "shall", "your", "will",
          "thou", "lord", "love", "king", "good", "come", "well", "know", "make", "would")

# the package's ``refine`` is the function; the module holds WINDOW and probabilities()
refine_module = importlib.import_module("cnngru.refiner.refine")


@pytest.fixture(scope="module")
def shipped():
    try:
        return load_refiner("refiner", device="cpu")
    except CheckpointError as e:
        pytest.skip(f"no shipped refiner checkpoint (train one with cnngru train-refiner): {e}")


def always(char: str, tiny_refiner, vocab) -> checkpoint.Bundle:
    """A refiner that is sure every character should be ``char``, whatever it reads."""
    with torch.no_grad():
        tiny_refiner.head.weight.zero_()
        tiny_refiner.head.bias.zero_()
        tiny_refiner.head.bias[vocab.index[char]] = 20.0
    return checkpoint.Bundle(tiny_refiner, vocab)


# ------------------------------------------------------------------------------------------------
# The shipped refiner's behaviour


def plant_typos(text: str, seed: int = 0) -> tuple[str, list[tuple[int, str]]]:
    """Replace one inner letter of each common word with a neighbouring key."""
    rng = random.Random(seed)
    neighbours = keyboard_neighbours()
    chars, planted = list(text), []
    for m in re.finditer(r"\b(" + "|".join(COMMON) + r")\b", text):
        pos = rng.randrange(m.start() + 1, m.end())
        old = text[pos]
        chars[pos] = rng.choice(neighbours[old])
        planted.append((pos, old))
    return "".join(chars), planted


def test_planted_typos_in_common_words_are_mostly_fixed(shipped, corpus):
    clean = corpus.test[20_000:26_000]
    noisy, planted = plant_typos(clean)
    assert len(planted) >= 40
    out = refine(noisy, shipped).text
    fixed = sum(out[p] == old for p, old in planted)
    assert fixed / len(planted) >= 0.8, f"fixed {fixed} of {len(planted)}"
    assert cer(clean, out) < cer(clean, noisy) / 3


def test_clean_heldout_text_is_almost_untouched(shipped, corpus):
    clean = corpus.test[100_000:110_000]
    result = refine(clean, shipped)
    assert len(result.edits) / len(clean) < 0.005, result.edits[:10]


def test_output_is_never_longer_and_edits_match_the_input(shipped, vocab, corpus):
    noisy = Noise(vocab).substitute(corpus.test[:9000], 0.1, seed=3)  # > one window
    result = refine(noisy, shipped)
    assert len(result.text) == len(noisy)
    assert result.edits, "10% noise should give edits"
    by_pos = {e.position: e for e in result.edits}
    for pos, (a, b) in enumerate(zip(noisy, result.text, strict=True)):
        if pos in by_pos:
            e = by_pos[pos]
            assert (e.old, e.new) == (a, b) and a != b and e.confidence >= 0.9
        else:
            assert a == b
    assert refine("", shipped).text == ""


def test_out_of_vocabulary_characters_pass_through(shipped, vocab):
    text = "Thé kinģ is dead, lōng live thę king! \t😀 ÄND sø"
    assert set(vocab.unknown(text)) >= {"é", "ģ", "ō", "ę", "\t", "😀", "Ä", "ø"}
    result = refine(text, shipped, threshold=0.05)  # eager: it edits whatever it may
    assert len(result.text) == len(text)
    for pos, c in enumerate(text):
        if c not in vocab:
            assert result.text[pos] == c
            assert all(e.position != pos for e in result.edits)


def test_a_lower_threshold_only_adds_edits(shipped, vocab, corpus):
    noisy = Noise(vocab).substitute(corpus.test[:3000], 0.05, seed=1)
    strict = set(refine(noisy, shipped, threshold=0.9).edits)
    loose = set(refine(noisy, shipped, threshold=0.5).edits)
    assert strict <= loose and len(loose) > len(strict)
    with pytest.raises(ValueError):
        refine("x", shipped, threshold=0.0)


# ------------------------------------------------------------------------------------------------
# The mechanics, on hand-set models


def test_each_edit_records_the_input_and_output_character_at_its_position(tiny_refiner, vocab,
                                                                          corpus):
    """A refiner sure of "e" everywhere rewrites every other known character, across windows."""
    text = corpus.test[:5000] + "é😀\t" + corpus.test[5000:5100]  # > one window, unknown chars
    assert len(text) > refine_module.WINDOW
    result = refine(text, always("e", tiny_refiner, vocab))
    assert len(result.text) == len(text)
    changed = [i for i, (a, b) in enumerate(zip(text, result.text, strict=True)) if a != b]
    assert [e.position for e in result.edits] == changed, "one edit per changed position, in order"
    for e in result.edits:
        assert e.old == text[e.position] and e.new == result.text[e.position] == "e"
        assert e.confidence == pytest.approx(1.0, abs=1e-4)
    assert changed == [i for i, c in enumerate(text) if c in vocab and c != "e"]
    assert result.text.count("é😀\t") == 1, "characters it does not know pass through"


def test_a_character_changes_only_when_another_is_likely_enough(tiny_refiner, vocab):
    bundle = always("e", tiny_refiner, vocab)
    with torch.no_grad():
        tiny_refiner.head.bias[vocab.index["e"]] = 0.0
        tiny_refiner.head.bias[vocab.index["a"]] = 1.5  # "a" the likeliest, but far from sure
    p_a = refine_module.probabilities(bundle, "x")[0, vocab.index["a"]].item()
    assert 0.01 < p_a < 0.5
    assert refine("xyz", bundle, threshold=p_a * 1.01).edits == []
    assert refine("xyz", bundle, threshold=p_a * 0.99).text == "aaa"
    assert refine("aaa", bundle, threshold=0.001).text != "aaa", "the best *other* character"


def test_windows_join_without_seams(tiny_refiner, vocab, corpus, monkeypatch):
    bundle = checkpoint.Bundle(tiny_refiner, vocab)
    text = corpus.test[:1000]
    whole = refine_module.probabilities(bundle, text)
    monkeypatch.setattr(refine_module, "WINDOW", 97)
    assert torch.allclose(refine_module.probabilities(bundle, text), whole, atol=1e-5)


def test_checkpoint_round_trip(tmp_path, tiny_refiner, vocab):
    checkpoint.save(tmp_path / "r", tiny_refiner, vocab, {"task": "denoise"})
    bundle = load_refiner(tmp_path / "r", device="cpu")
    assert bundle.model.config == tiny_refiner.config and bundle.metadata["task"] == "denoise"
    x = torch.randint(0, len(vocab), (2, 50))
    with torch.no_grad():
        assert torch.allclose(bundle.model(x), tiny_refiner(x), atol=1e-6)
    assert refine("the kinq", bundle).text == \
        refine("the kinq", checkpoint.Bundle(tiny_refiner, vocab)).text


def test_load_refiner_rejects_missing_and_other_checkpoints(tmp_path, vocab):
    with pytest.raises(CheckpointError):
        load_refiner(tmp_path / "absent")
    checkpoint.save(tmp_path / "lm", build_model("gru", len(vocab), hidden=16), vocab)
    with pytest.raises(CheckpointError, match="not a refiner"):
        load_refiner(tmp_path / "lm")
