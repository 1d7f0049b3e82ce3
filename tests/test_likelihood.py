"""cnngru.likelihood: every character's log-loss, read as streams with the state carried."""

import math

import numpy as np
import pytest
import torch
from conftest import make_small
from torch.nn import functional as F

from cnngru.likelihood import bits_per_char, nll_per_char

NAMES = ("gru", "hybrid", "transformer")  # a plain state, a windowed one, a rolling KV cache


@pytest.fixture(scope="module")
def text_ids(vocab, corpus):
    return vocab.encode_tensor(corpus.test[:1001])  # 1,001: no stream count divides it


@torch.no_grad()
def direct(model, ids: torch.Tensor) -> np.ndarray:
    """One full pass from an empty state: the cross-entropy of each next character."""
    logits = model(ids[None, :-1]).logits[0]
    return F.cross_entropy(logits, ids[1:], reduction="none").numpy()


@pytest.mark.parametrize("name", NAMES)
def test_one_stream_is_the_cross_entropy_of_one_full_pass(name, vocab, text_ids):
    model = make_small(name, len(vocab))
    nll = nll_per_char(model, text_ids, streams=1, chunk=100)
    assert nll.shape == (len(text_ids) - 1,)
    np.testing.assert_allclose(nll, direct(model, text_ids), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_streams_are_contiguous_pieces_each_read_from_an_empty_state(name, vocab, text_ids):
    model = make_small(name, len(vocab))
    streams = 4
    nll = nll_per_char(model, text_ids, streams=streams, chunk=64)
    assert nll.shape == (len(text_ids) - streams,)
    length = math.ceil(len(text_ids) / streams)
    pieces = [text_ids[s * length:(s + 1) * length] for s in range(streams)]
    expected = np.concatenate([direct(model, p) for p in pieces])
    np.testing.assert_allclose(nll, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_the_chunk_size_does_not_change_the_result(name, vocab, text_ids):
    model = make_small(name, len(vocab))
    reference = nll_per_char(model, text_ids, streams=3, chunk=1000)
    for chunk in (1, 7, 129):
        np.testing.assert_allclose(nll_per_char(model, text_ids, streams=3, chunk=chunk),
                                   reference, atol=1e-4, rtol=1e-4)


def test_a_training_model_is_scored_without_dropout_and_left_training(vocab, text_ids):
    model = make_small("hybrid", len(vocab))
    expected = nll_per_char(model, text_ids, streams=2)
    model.train()
    np.testing.assert_array_equal(nll_per_char(model, text_ids, streams=2), expected)
    assert model.training


def test_more_streams_than_half_the_text_is_capped(vocab):
    model = make_small("gru", len(vocab))
    ids = vocab.encode_tensor("To be, or no")  # 12 characters: at most 6 streams of 2
    assert nll_per_char(model, ids, streams=64).shape == (len(ids) - 6,)


def test_no_stream_is_left_empty_by_the_rounding(vocab, text_ids):
    """1,001 characters in 64 streams of 16 fill only 63: the count says 63 streams were read."""
    model = make_small("gru", len(vocab))
    assert nll_per_char(model, text_ids[:1001], streams=64).shape == (1001 - 63,)
    exact = torch.cat([text_ids, text_ids[:23]])  # 1,024 characters: 64 streams of 16
    assert nll_per_char(model, exact, streams=64).shape == (1024 - 64,)


def test_bits_per_char_converts_the_mean_from_nats_to_bits():
    assert bits_per_char(np.array([math.log(2), 3 * math.log(2)])) == pytest.approx(2.0)
    assert bits_per_char(np.full(5, math.log(80))) == pytest.approx(math.log2(80))
