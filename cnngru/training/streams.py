"""Contiguous character streams for truncated backpropagation through time.

A text is cut into ``batch`` equal streams read side by side, ``seq_len`` characters at a time;
chunk i of every stream follows chunk i-1, so the recurrent state carried from one chunk to the
next is the true history (as char-rnn does). Where a chunk comes from is a pure function of the
step number: resuming a run needs only the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class StreamBatches:
    ids: torch.Tensor  # (N,) the whole text
    batch: int
    seq_len: int

    def __post_init__(self):
        self.stream_len = len(self.ids) // self.batch
        self.chunks_per_epoch = (self.stream_len - 1) // self.seq_len
        if self.chunks_per_epoch < 1:
            raise ValueError(f"a text of {len(self.ids):,} characters is too short for "
                             f"{self.batch} streams of {self.seq_len + 1} characters")
        self.streams = self.ids[: self.batch * self.stream_len].view(self.batch, self.stream_len)

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(inputs, targets, starts_epoch) for a training step; inputs/targets are (B, T)."""
        i = step % self.chunks_per_epoch
        window = self.streams[:, i * self.seq_len: (i + 1) * self.seq_len + 1]
        return window[:, :-1], window[:, 1:], i == 0

