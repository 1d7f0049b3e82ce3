"""The models the demo serves: extra checkpoints, broken ones reported, threads shared out."""

import os

import pytest
import torch
from tiny_zoo import CHARS, WORDS, tiny_zoo

import cnngru
from cnngru.app import loaded_models
from cnngru.app.loaded_models import load_models
from cnngru.app.validation import InputError


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


def test_checkpoints_named_after_variants_replace_the_shipped_ones(zoo):
    assert zoo.names == list(cnngru.VARIANTS) and not zoo.problems
    assert all(zoo.get(v).metadata["name"] == v for v in cnngru.VARIANTS)
    assert zoo.words == frozenset(WORDS)
    with pytest.raises(InputError, match="Unknown strategy 'nope': choose one of gru"):
        zoo.get("nope")


def test_extra_checkpoints_show_up_and_broken_ones_are_reported(zoo, tmp_path, monkeypatch):
    extra = tmp_path / "mine"
    cnngru.save(extra / "my-model", cnngru.build_model("gru", len(CHARS), hidden=8),
                cnngru.Vocab(CHARS))
    (extra / "broken").mkdir()
    (extra / "broken" / "checkpoint.json").write_text('{"variant": "gru"}')
    (extra / "refiner").mkdir()  # not a language model: never a strategy
    (extra / "refiner" / "checkpoint.json").write_text('{"variant": "refiner"}')
    monkeypatch.setenv("CNNGRU_CHECKPOINTS", os.pathsep.join([str(extra), os.environ[
        "CNNGRU_CHECKPOINTS"]]))
    loaded = load_models(device="cpu", refiner=False)
    assert loaded.names == [*cnngru.VARIANTS, "my-model"]
    assert loaded.variants == list(cnngru.VARIANTS)
    assert any("broken" in p for p in loaded.problems)


def test_threads_are_shared_out_between_concurrent_requests(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    try:
        assert loaded_models.configure_threads(2) == 4 and torch.get_num_threads() == 4
        assert loaded_models.configure_threads(16) == 1
    finally:
        torch.set_num_threads(before)


def test_generations_run_in_a_helper_process_unless_switched_off(zoo, monkeypatch):
    """The demo's models generate in a helper process by default; ``CNNGRU_GENERATION_PROCESS=0``
    or models off the CPU keep them in the server's process."""
    from cnngru.analysed_generation import AnalysedGenerations
    from cnngru.generation_process import GenerationProcess, RemoteStream

    monkeypatch.setenv("CNNGRU_GENERATION_PROCESS", "0")
    assert not loaded_models.serve_generations_apart(zoo)
    assert isinstance(zoo.generations, AnalysedGenerations)
    monkeypatch.delenv("CNNGRU_GENERATION_PROCESS")
    elsewhere = loaded_models.Models(zoo.bundles, device="cuda")
    assert not loaded_models.serve_generations_apart(elsewhere)
    try:
        assert loaded_models.serve_generations_apart(zoo)
        served = zoo.generations
        assert isinstance(served, GenerationProcess) and served.pid is not None
        assert loaded_models.serve_generations_apart(zoo) and zoo.generations is served  # once
        gen = served.stream(zoo.get("gru"), "The ", max_new_tokens=20, seed=0)
        assert isinstance(gen, RemoteStream)  # the zoo's checkpoints, served by the child
        with gen:
            assert len("".join(c.char for c in gen)) == 20
    finally:
        zoo.generations.close()
        zoo.generations = AnalysedGenerations()
