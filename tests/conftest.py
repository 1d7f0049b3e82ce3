"""Shared fixtures: small models of every variant, and the real corpus vocabulary."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from cnngru.corpus import load_shakespeare  # noqa: E402
from cnngru.models import VARIANTS, build_model  # noqa: E402
from cnngru.vocab import Vocab  # noqa: E402

# One thread: a test suite shares two cores with servers and subprocesses, and torch's spinning
# worker threads slow everything down many times over when cores are oversubscribed.
torch.set_num_threads(1)

SMALL = 120_000  # parameters: big enough for every part of every variant, fast on a CPU


@pytest.fixture(scope="session")
def corpus():
    return load_shakespeare()


@pytest.fixture(scope="session")
def vocab(corpus):
    return Vocab(corpus.vocab)


@pytest.fixture(params=VARIANTS)
def variant(request):
    return request.param


@pytest.fixture
def small_model(variant, vocab):
    """An untrained small model of the variant, in eval mode, with weights that are not tiny."""
    torch.manual_seed(0)
    model = build_model(variant, len(vocab), params=SMALL)
    with torch.no_grad():  # random, larger weights: every path moves the logits visibly
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()
