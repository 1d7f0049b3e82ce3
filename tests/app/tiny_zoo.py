"""What the demo's unit tests share: tiny throwaway checkpoints of every variant, loaded as the
demo loads its models, and a refiner whose edits are known.

Each test module makes its own ``zoo`` fixture from ``tiny_zoo`` (a fixture imported from here
would shadow the test's argument):

    @pytest.fixture(scope="module")
    def zoo(tmp_path_factory):
        with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
            yield models
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

import cnngru
from cnngru.app.loaded_models import Models, load_models
from cnngru.refiner import Edit, RefineResult

CHARS = "\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORDS = ["the", "king", "lord", "speak", "romeo", "o'er"]


def tiny_checkpoints(folder: Path) -> Path:
    """One small random checkpoint per variant and a word list: fast, and different per variant."""
    vocab = cnngru.Vocab(CHARS)
    for k, variant in enumerate(cnngru.VARIANTS):
        torch.manual_seed(k)
        cnngru.save(folder / variant, cnngru.build_model(variant, len(vocab), hidden=24), vocab,
                    {"name": variant})
    (folder / "words.txt").write_text("\n".join(WORDS) + "\n")
    return folder


@contextmanager
def tiny_zoo(folder: Path) -> Iterator[Models]:
    """``load_models`` over ``tiny_checkpoints(folder)``, found through ``CNNGRU_CHECKPOINTS``,
    which names ``folder`` until the block ends."""
    folder = tiny_checkpoints(folder)
    old = os.environ.get("CNNGRU_CHECKPOINTS")
    os.environ["CNNGRU_CHECKPOINTS"] = str(folder)
    try:
        yield load_models(device="cpu", refiner=False)
    finally:
        if old is None:
            del os.environ["CNNGRU_CHECKPOINTS"]
        else:
            os.environ["CNNGRU_CHECKPOINTS"] = old


def q_to_k_refiner(text: str, threshold: float) -> RefineResult:
    """A refiner with known edits: every 'q' becomes 'k', 95% sure."""
    edits = [Edit(i, "q", "k", 0.95) for i, c in enumerate(text) if c == "q"]
    return RefineResult(text.replace("q", "k"), edits)


def drain(stream) -> list:
    """Every update a streaming handler yields."""
    return list(stream)
