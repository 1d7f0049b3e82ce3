"""Tests for cnngru.refiner: noise, the non-causal model, refine(), training, metrics.

Behaviour tests use the shipped ``checkpoints/refiner``; mechanics use tiny random models.
"""

import importlib
import json
import random
import re

import pytest
import torch

from cnngru import checkpoint
from cnngru.checkpoint import CheckpointError
from cnngru.corpus import Corpus, load_shakespeare
from cnngru.models import build_model
from cnngru.refiner import Edit, Noise, Refiner, load_refiner, refine
from cnngru.refiner.metrics import cer, levenshtein, word_figures
from cnngru.refiner.noise import keyboard_neighbours
from cnngru.refiner.train import DenoiserTrainer, train_refiner
from cnngru.training.trainer import TrainConfig
from cnngru.vocab import Vocab

COMMON = ("the", "and", "that", "with", "what", "this", "have", "shall", "your", "will",
          "thou", "lord", "love", "king", "good", "come", "well", "know", "make", "would")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small convolutions on a busy 2-core machine: two OpenMP threads stall each other (20x)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_shakespeare()


@pytest.fixture(scope="module")
def vocab(corpus) -> Vocab:
    return Vocab(corpus.vocab)


@pytest.fixture(scope="module")
def shipped():
    try:
        return load_refiner("refiner", device="cpu")
    except CheckpointError as e:
        pytest.skip(f"no shipped refiner checkpoint (train one with cnngru train-refiner): {e}")


@pytest.fixture()
def tiny(vocab) -> Refiner:
    torch.manual_seed(0)
    return build_model("refiner", len(vocab), hidden=32, dilations=(1, 2, 4)).eval()


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


def test_output_is_never_longer_and_edits_match_the_input(shipped, vocab):
    noisy = Noise(vocab).substitute(load_shakespeare().test[:9000], 0.1, seed=3)  # > one window
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


def test_a_lower_threshold_only_adds_edits(shipped, vocab):
    noisy = Noise(vocab).substitute(load_shakespeare().test[:3000], 0.05, seed=1)
    strict = set(refine(noisy, shipped, threshold=0.9).edits)
    loose = set(refine(noisy, shipped, threshold=0.5).edits)
    assert strict <= loose and len(loose) > len(strict)
    with pytest.raises(ValueError):
        refine("x", shipped, threshold=0.0)


# ------------------------------------------------------------------------------------------------
# Noise


def test_noise_rate_matches_the_requested_level(corpus, vocab):
    text = corpus.test[:100_000]
    noise = Noise(vocab)
    for rate in (0.02, 0.05, 0.10):
        noisy = noise.substitute(text, rate, seed=7)
        assert len(noisy) == len(text)
        changed = sum(a != b for a, b in zip(text, noisy, strict=True)) / len(text)
        assert abs(changed - rate) < 0.1 * rate + 0.002, (rate, changed)
        ids = vocab.encode_tensor(text[:64_000]).view(16, -1)
        out = noise.corrupt_ids(ids, torch.full((16,), rate), torch.Generator().manual_seed(0))
        assert abs((out != ids).float().mean().item() - rate) < 0.1 * rate + 0.002
    assert noise.substitute(text[:500], 0.1, seed=1) == noise.substitute(text[:500], 0.1, seed=1)
    assert noise.substitute(text[:500], 0.1, seed=1) != noise.substitute(text[:500], 0.1, seed=2)
    assert noise.substitute("é\t😀" * 100, 1.0) == "é\t😀" * 100  # never touches unknown chars


def test_substitutions_look_like_typing_errors(vocab):
    assert set(keyboard_neighbours()["g"]) == set("tyfhvb")
    p = Noise(vocab).matrix
    row = p[vocab.index["a"]]
    assert row[vocab.index["a"]] == 0.0
    assert sum(row[vocab.index[c]] for c in "qwszo") > 0.6  # neighbours and a look-alike
    upper = p[vocab.index["A"]]
    assert sum(upper[vocab.index[c]] for c in "QWSZ") > sum(upper[vocab.index[c]] for c in "qwsz")


def test_indels_change_the_length(corpus, vocab):
    text = corpus.test[:5000]
    noisy = Noise(vocab).indels(text, 0.05, seed=0)
    assert noisy != text and len(noisy) != len(text)
    assert 0.02 < levenshtein(text, noisy) / len(text) < 0.08


# ------------------------------------------------------------------------------------------------
# The model


def test_refiner_is_non_causal_within_its_receptive_field(tiny, vocab):
    radius = tiny.config.receptive_radius
    x = torch.randint(0, len(vocab), (1, 64), generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[0, 40] = (x[0, 40] + 1) % len(vocab)  # a later character changes
    with torch.no_grad():
        a, b = tiny(x), tiny(y)
    assert not torch.allclose(a[0, 40 - radius], b[0, 40 - radius])  # it reads ahead: the point
    assert torch.allclose(a[0, :40 - radius], b[0, :40 - radius])  # but no further than its reach


def test_windows_join_without_seams(tiny, vocab, monkeypatch):
    refine_module = importlib.import_module("cnngru.refiner.refine")  # the package's refine is the function
    bundle = checkpoint.Bundle(tiny, vocab)
    text = load_shakespeare().test[:1000]
    whole = refine_module.probabilities(bundle, text)
    monkeypatch.setattr(refine_module, "WINDOW", 97)
    assert torch.allclose(refine_module.probabilities(bundle, text), whole, atol=1e-5)


def tiny_trainer(tmp_path, text: str) -> DenoiserTrainer:
    corpus = Corpus.from_texts("tiny", text[:20_000], text[20_000:24_000], text[24_000:26_000], "t")
    config = TrainConfig(variant="refiner", params=None, model={"hidden": 64, "dilations": (1, 2)},
                         batch_size=8, seq_len=64, max_chars=10**6, lr=1e-2, warmup_steps=1)
    return DenoiserTrainer(config, tmp_path, progress=False, corpus=corpus,
                           model_factory=lambda v, n, p, **kw: build_model(v, n, **kw))


def test_denoising_loss_goes_down_on_one_batch(tmp_path, corpus):
    trainer = tiny_trainer(tmp_path, corpus.train)
    assert torch.equal(trainer.compute_loss(5), trainer.compute_loss(5))  # a function of the step
    opt = torch.optim.Adam(trainer.model.parameters(), lr=1e-2)
    first = trainer.compute_loss(0).item()
    for _ in range(60):
        loss = trainer.compute_loss(0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 4, (first, loss.item())


def test_checkpoint_round_trip(tmp_path, tiny, vocab):
    checkpoint.save(tmp_path / "r", tiny, vocab, {"task": "denoise"})
    bundle = load_refiner(tmp_path / "r", device="cpu")
    assert bundle.model.config == tiny.config and bundle.metadata["task"] == "denoise"
    x = torch.randint(0, len(vocab), (2, 50))
    with torch.no_grad():
        assert torch.allclose(bundle.model(x), tiny(x), atol=1e-6)
    assert refine("the kinq", bundle).text == refine("the kinq", checkpoint.Bundle(tiny, vocab)).text


def test_load_refiner_rejects_missing_and_other_checkpoints(tmp_path, vocab):
    with pytest.raises(CheckpointError):
        load_refiner(tmp_path / "absent")
    checkpoint.save(tmp_path / "lm", build_model("gru", len(vocab), hidden=16), vocab)
    with pytest.raises(CheckpointError, match="not a refiner"):
        load_refiner(tmp_path / "lm")


def test_train_refiner_ships_a_checkpoint_with_its_figures(tmp_path, corpus):
    text_file = tmp_path / "plays.txt"
    text_file.write_text(corpus.train[:60_000], encoding="utf-8")
    summary = train_refiner(tmp_path / "run", corpus=str(text_file), max_chars=4 * 8 * 64,
                            params=60_000, batch_size=8, seq_len=64, eval_every=2,
                            ship=tmp_path / "ship", progress=False)
    assert summary["steps"] == 4 and {r["noise"] for r in summary["validation"]["cer"]} == {0.02, 0.05, 0.1}
    shipped = load_refiner(tmp_path / "ship")
    assert shipped.metadata["validation"]["clean_change_rate"] >= 0
    assert shipped.metadata["noise"]["levels"][0] == 0.0
    rows = [json.loads(line) for line in (tmp_path / "ship" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert [r["step"] for r in rows if "val_bpc" in r] == [2, 4]


# ------------------------------------------------------------------------------------------------
# Metrics


def test_levenshtein_and_cer():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3 and levenshtein("abc", "abc") == 0
    assert cer("the king", "thw kin") == pytest.approx(2 / 8)


def test_word_figures_count_harmed_real_words():
    words = {"the", "king", "is", "dead"}
    before, after = "the kinf is dead", "the king is deed"
    f = word_figures(before, after, edits=[7, 14], words=words)
    assert f["real_word_rate_before"] == 0.75 and f["real_word_rate_after"] == 0.75
    assert f["harm_rate"] == pytest.approx(1 / 3, abs=1e-3)  # "dead" was real and got edited


def test_edit_is_a_frozen_value():
    e = Edit(3, "a", "b", 0.95)
    with pytest.raises(AttributeError):
        e.position = 4
