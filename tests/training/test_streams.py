"""cnngru.training.streams: contiguous streams for truncated BPTT, a pure function of the step."""

import pytest
import torch

from cnngru.training.streams import StreamBatches


def batches(n: int = 1003, batch: int = 4, seq_len: int = 10) -> StreamBatches:
    return StreamBatches(torch.arange(n), batch, seq_len)  # ids equal to positions: easy to read


def test_targets_are_the_inputs_shifted_by_one():
    data = batches()
    for step in range(data.chunks_per_epoch):
        x, y, _ = data[step]
        assert x.shape == y.shape == (4, 10)
        assert torch.equal(y[:, :-1], x[:, 1:])
        assert torch.equal(y, x + 1), "the next character of the text"


def test_each_chunk_continues_the_one_before_it():
    data = batches()
    stream_len = 1003 // 4
    for step in range(data.chunks_per_epoch - 1):
        x, y, _ = data[step]
        nx, _, _ = data[step + 1]
        assert torch.equal(y[:, -1], nx[:, 0]), "the last target is the next chunk's first input"
        assert torch.equal(nx[:, 0], x[:, -1] + 1)
    x0, _, _ = data[0]
    assert torch.equal(x0[:, 0], torch.arange(4) * stream_len), "row b starts stream b"


def test_the_epoch_flag_is_true_exactly_at_multiples_of_chunks_per_epoch():
    data = batches()
    assert data.chunks_per_epoch == 24  # streams of 1003 // 4 = 250: 24 chunks of 10 + 1
    flags = [data[step][2] for step in range(3 * 24 + 5)]
    assert [s for s, f in enumerate(flags) if f] == [0, 24, 48, 72]
    assert torch.equal(data[24][0], data[0][0]) and torch.equal(data[26][1], data[2][1])


def test_every_character_but_the_stream_tails_is_read_once_per_epoch():
    data = batches()
    read = torch.cat([data[s][0].flatten() for s in range(data.chunks_per_epoch)])
    assert len(set(read.tolist())) == len(read) == 4 * 24 * 10


def test_a_text_too_short_for_one_chunk_is_rejected():
    with pytest.raises(ValueError, match="too short"):
        StreamBatches(torch.arange(40), batch=4, seq_len=10)  # streams of 10: no room for a target
    assert StreamBatches(torch.arange(44), batch=4, seq_len=10).chunks_per_epoch == 1
