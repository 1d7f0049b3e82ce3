"""What a run learns: a task gives the trainer its batches' loss, a validation score and metadata.

The trainer knows nothing about the data. A task owns it: the language-model task reads the
training text as contiguous streams and carries the recurrent state from one chunk to the next
(truncated backpropagation through time); the refiner's denoising task (cnngru.refiner.train)
corrupts random windows. Both are called the same way:

    loss = task.loss(net, step, rows)         # the mean loss of step ``step``'s batch, its rows
    bpc = task.validation_bpc(model, chars)   # lower is better; the trainer keeps the best
    task.carried / task.restore_carried(...)  # state that a snapshot must keep (may be empty)
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..corpus import Corpus
from ..likelihood import bits_per_char, nll_per_char
from ..vocab import Vocab
from .streams import StreamBatches


class Task(Protocol):
    vocab: Vocab
    corpus: Corpus

    def loss(self, net: nn.Module, step: int, rows: slice) -> Tensor: ...

    def validation_bpc(self, model: nn.Module, max_chars: int | None) -> float: ...

    @property
    def carried(self) -> dict[str, Tensor]: ...

    def restore_carried(self, carried: dict[str, Tensor]) -> None: ...

    def metadata(self) -> dict: ...


class LanguageModelTask:
    """Next-character prediction on contiguous streams, the state carried between chunks."""

    def __init__(self, corpus: Corpus, vocab: Vocab, batch_size: int, seq_len: int,
                 device: torch.device | str = "cpu", validation_streams: int = 32):
        self.corpus, self.vocab, self.device = corpus, vocab, torch.device(device)
        self.batches = StreamBatches(vocab.encode_tensor(corpus.train), batch_size, seq_len)
        self.val_ids = vocab.encode_tensor(corpus.validation)
        self.validation_streams = validation_streams
        self._carried: dict[str, Tensor] | None = None

    def loss(self, net: nn.Module, step: int, rows: slice) -> Tensor:
        """Mean cross-entropy of one chunk of every stream, the state carried from the last."""
        x, y, new_epoch = self.batches[step]
        x, y = x[rows].to(self.device), y[rows].to(self.device)
        if new_epoch:
            self._carried = None  # the streams start over: no history to carry
        out = net(x, self._carried)
        self._carried = {k: v.detach() for k, v in out.state.items()}  # truncated BPTT
        return F.cross_entropy(out.logits.float().reshape(-1, out.logits.shape[-1]), y.reshape(-1))

    def validation_bpc(self, model: nn.Module, max_chars: int | None) -> float:
        """Validation bits per character, reading the text with the state carried."""
        ids = self.val_ids if max_chars is None else self.val_ids[:max_chars]
        return bits_per_char(nll_per_char(model, ids, streams=self.validation_streams))

    @property
    def carried(self) -> dict[str, Tensor]:
        return self._carried or {}

    def restore_carried(self, carried: dict[str, Tensor]) -> None:
        self._carried = {k: v.to(self.device) for k, v in carried.items()} or None

    def metadata(self) -> dict:
        return {"corpus": self.corpus.name}
