"""The ``/refine`` endpoint's handler, with a refiner of known edits and with the real one."""

import sys

import pytest
from tiny_zoo import CHARS, q_to_k_refiner, tiny_zoo

import cnngru
from cnngru.app import loaded_models
from cnngru.app.loaded_models import Models
from cnngru.app.refine_diff import RefineHandlers, RefineOutputs, RefineTypes, refined_diff
from cnngru.app.validation import InputError
from cnngru.refiner import DEFAULT_THRESHOLD


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


def test_refine_returns_the_text_its_edits_and_a_diff(zoo):
    with_refiner = Models(zoo.bundles, zoo.words, refiner=q_to_k_refiner)
    refined = RefineHandlers(with_refiner).refine("a qing", 0.9)
    assert isinstance(refined, RefineOutputs)
    assert refined.text == "a king" and refined.edits == [{"position": 2, "old": "q", "new": "k",
                                                           "confidence": 0.95}]
    assert "<del" in refined.diff and ">k</ins>" in refined.diff
    assert RefineTypes == tuple[str, list, str]  # what gr.api reads: the endpoint's 3 outputs
    with pytest.raises(InputError, match="threshold"):
        RefineHandlers(with_refiner).refine("a qing", 2)
    with pytest.raises(InputError, match="not available"):
        RefineHandlers(zoo).refine("a qing", 0.9)


def test_the_default_threshold_is_the_refiners():
    seen = []

    def refiner(text, threshold):
        seen.append(threshold)
        return q_to_k_refiner(text, threshold)

    assert "1 change" in refined_diff(refiner, "qing")
    RefineHandlers(Models({}, refiner=refiner)).refine("qing")
    assert seen == [DEFAULT_THRESHOLD, DEFAULT_THRESHOLD]


def test_the_real_refiner_plugs_in(zoo, tmp_path, monkeypatch):
    """An untrained refiner checkpoint, found like the shipped one, serves the refine paths."""
    cnngru.save(tmp_path / "refiner", cnngru.build_model("refiner", len(CHARS), hidden=32),
                cnngru.Vocab(CHARS))
    monkeypatch.setenv("CNNGRU_CHECKPOINTS", str(tmp_path))
    cache = sys.modules["cnngru.refiner.refine"]._cached  # load_refiner() keeps what it loaded
    cache.cache_clear()
    try:
        refine_text, note = loaded_models.load_optional_refiner("cpu")
    finally:
        cache.cache_clear()  # later tests must not see this throwaway refiner
    assert refine_text is not None, note
    with_refiner = Models(zoo.bundles, zoo.words, refiner=refine_text)
    text, edits, diff = RefineHandlers(with_refiner).refine("the king is dead", 0.01)
    assert len(text) == len("the king is dead") and edits  # untrained: it edits at 1% confidence
    assert all(text[e["position"]] == e["new"] for e in edits)
    assert diff.count("<ins") >= 1
