"""Shared fixtures: small models of every architecture, a tiny refiner, and the real vocabulary."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from cnngru.corpus import Corpus, load_shakespeare  # noqa: E402
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


# The four compared language models and the transformer reference: every architecture that reads
# a text through the one stateful forward, so every one keeps its rules (causal, chunked = full).
ARCHITECTURES = (*VARIANTS, "transformer")


@pytest.fixture(params=ARCHITECTURES)
def architecture(request):
    return request.param


def make_small(name: str, vocab_size: int) -> torch.nn.Module:
    """An untrained small model of ``name``, in eval mode, with weights that are not tiny."""
    torch.manual_seed(0)
    model = build_model(name, vocab_size, params=SMALL)
    with torch.no_grad():  # random, larger weights: every path moves the logits visibly
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


@pytest.fixture
def small_model(variant, vocab):
    """A small model of each of the four variants (see make_small)."""
    return make_small(variant, len(vocab))


@pytest.fixture
def small_architecture(architecture, vocab):
    """A small model of each architecture, the transformer included (see make_small)."""
    return make_small(architecture, len(vocab))


@pytest.fixture
def tiny_refiner(vocab):
    """A tiny random refiner in eval mode: for the mechanics, not the corrections."""
    torch.manual_seed(0)
    return build_model("refiner", len(vocab), hidden=32, dilations=(1, 2, 4)).eval()


@pytest.fixture(scope="session")
def small_corpus(corpus):
    """A slice of the real corpus (same vocabulary), so training runs take seconds."""
    return Corpus(corpus.name, corpus.train[:200_000], corpus.validation[:20_000],
                  corpus.test[:20_000], corpus.vocab, corpus.source)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where browser tests save screenshots: ``assets/`` when ``CNNGRU_UPDATE_SCREENSHOTS=1``
    (the README shows them), else a temporary folder."""
    from cnngru.paths import README

    if os.environ.get("CNNGRU_UPDATE_SCREENSHOTS") == "1":
        return README.parent / "assets"
    return tmp_path_factory.mktemp("screenshots")
