"""How a trained model is scored for the study: the numbers its run record holds.

The validation BPC on the whole validation text, the test BPC, and the test log-loss summed per
``CHUNK`` characters (the unit the intervals resample). A change here changes what a record's
numbers mean, so this file has its own fingerprint (``run_records.SCORING``): records scored by
other code are not reused, and as checkpoints are not kept, their runs train again. So this
file holds the record's scoring and nothing else: the bootstrap (``intervals.py``) and what
``cnngru eval`` prints besides (``measures.py``) live elsewhere and change without retraining.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import checkpoint
from ..likelihood import bits_per_char, nll_per_char

CHUNK = 2000  # characters per bootstrap unit: neighbouring characters' losses are correlated
TEST_STREAMS = 256  # the text is read as this many contiguous streams side by side (speed);
# each is ~1,900 characters of the test text read with the state carried, so all but its first
# few characters have a warm state
READ_CHUNK = 256  # characters per forward while reading


def chunk_sums(nll: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Per-chunk sums of nats and character counts over consecutive characters."""
    starts = np.arange(0, len(nll), chunk)
    return np.add.reduceat(nll, starts), np.diff(np.append(starts, len(nll)))


def text_nll(bundle: checkpoint.Bundle, text: str) -> np.ndarray:
    """The model's log-loss (nats) of each character of ``text`` after the first."""
    return nll_per_char(bundle.model, bundle.vocab.encode_tensor(text), streams=TEST_STREAMS,
                        chunk=READ_CHUNK)


def score_run(best: Path, corpus, test_chars: int | None) -> dict:
    """A finished run's best checkpoint, scored: validation BPC on the whole validation text,
    test BPC and the test losses per chunk (the first ``test_chars`` of the test text, or all)."""
    bundle = checkpoint.load(best, device="cpu")
    val = text_nll(bundle, corpus.validation)
    nll = text_nll(bundle, corpus.test[:test_chars] if test_chars else corpus.test)
    sums, _ = chunk_sums(nll)
    return {"val_bpc": round(bits_per_char(val), 5), "test_bpc": round(bits_per_char(nll), 5),
            "test_chars": len(nll), "test_chunk_nats": [round(float(x), 4) for x in np.asarray(sums)]}
