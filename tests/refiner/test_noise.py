"""cnngru.refiner.noise: seeded substitutions at the requested rate that look like typos."""

import torch

from cnngru.refiner import Noise
from cnngru.refiner.metrics import levenshtein
from cnngru.refiner.noise import keyboard_neighbours


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
