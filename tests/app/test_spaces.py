"""ZeroGPU: Score's reading of the shipped models asks for the lent GPU; generation never does,
and the served models (the engine's) stay on the CPU. Elsewhere nothing is wrapped.

A stand-in ``spaces`` package records what it wraps and calls; the "GPU copies" are CPU copies,
as this machine has no GPU (``test_space.py`` starts the app itself with such a package)."""

import sys
import types

import pytest
import torch
from tiny_zoo import tiny_zoo

from cnngru import CheckpointError
from cnngru.app import loaded_models
from cnngru.app.score import ScoreHandlers, read_texts
from cnngru.app.spaces import on_zero_gpu, spaces_gpu

TEXT = "the king and the lord speak"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


@pytest.fixture
def zero_gpu(monkeypatch):
    """A ZeroGPU Space: ``SPACES_ZERO_GPU`` set and a ``spaces`` whose GPU records each call."""
    calls = []

    def gpu(fn):
        def held(*args, **kwargs):
            calls.append(fn.__name__)
            return fn(*args, **kwargs)
        return held

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    return calls


def test_nothing_is_wrapped_off_zero_gpu(monkeypatch):
    def handler():
        return "x"

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=lambda fn: None))
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert not on_zero_gpu() and spaces_gpu(handler) is handler  # the package alone: no
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    assert not on_zero_gpu() and spaces_gpu(handler) is handler


def test_on_zero_gpu_the_served_models_stay_on_the_cpu(zero_gpu, monkeypatch):
    monkeypatch.delenv("CNNGRU_DEVICE", raising=False)
    assert on_zero_gpu() and loaded_models.choose_device() == "cpu"
    monkeypatch.setenv("CNNGRU_DEVICE", "cuda")
    with pytest.raises(CheckpointError, match="cannot serve on ZeroGPU.*stay in the server"):
        loaded_models.choose_device()


def test_score_reads_the_shipped_models_in_a_call_that_holds_the_lent_gpu(zoo, zero_gpu,
                                                                          monkeypatch):
    """``load_models`` on ZeroGPU: the served models on the CPU, copies for the lent GPU."""
    monkeypatch.setattr(loaded_models, "LENT_GPU", "cpu")  # no GPU here: CPU copies stand in
    served = loaded_models.load_models(refiner=False)  # the zoo's checkpoints
    assert served.device == "cpu" and served.get("gru").device.type == "cpu"
    assert set(served.lent_gpu) == set(served.names)
    assert all(served.lent_gpu[n] is not served.bundles[n] for n in served.names)  # copies, apart
    with torch.no_grad():  # tell the copies from the served models by what they read
        for bundle in served.lent_gpu.values():
            bundle.model.head.bias.add_(torch.linspace(-1, 1, len(bundle.vocab)))
    handlers = ScoreHandlers(served)
    table, _, _, analyses = handlers.score_text(TEXT, "gru", "hybrid", False)
    assert zero_gpu == ["_read_on_lent_gpu"]  # one call held the GPU, for every model
    assert [row[0] for row in table] == zoo.names
    texts = {name: TEXT for name in served.names}
    by_copies = {n: a.bits_per_char() for n, a in read_texts(served.lent_gpu, texts).items()}
    by_served = {n: a.bits_per_char() for n, a in read_texts(served.bundles, texts).items()}
    assert {n: a.bits_per_char() for n, a in analyses.items()} == pytest.approx(by_copies,
                                                                                abs=1e-9)
    assert all(abs(by_copies[n] - by_served[n]) > 1e-3 for n in served.names)


def test_without_gpu_copies_score_reads_where_the_models_are(zoo, zero_gpu):
    """A visitor's own models, or a machine that is not ZeroGPU: no call asks for the GPU."""
    table = ScoreHandlers(zoo).score_text(TEXT, "gru", "hybrid", False)[0]
    assert zero_gpu == [] and len(table) == len(zoo.names)
