"""``cnngru bench`` covers the study's selected designs before they ship, at the shipped size."""

import json

import numpy as np
import pytest

import cnngru
from cnngru.bench.generation_speed import bundle_for, selected_designs
from cnngru.models import BUDGET_TOLERANCE
from cnngru.models.designs import SHIPPED
from cnngru.paths import RESULTS_DIR


def test_the_selected_designs_not_shipped_yet_are_benched():
    candidates = json.loads((RESULTS_DIR / "results.json").read_text())["candidates"]
    selected = {v: r["design"] for v, rows in candidates.items() for r in rows if r["selected"]}
    expected = {f"{v}:{d}" for v, d in selected.items() if SHIPPED[v] != d}
    assert set(selected_designs()) == expected


@pytest.mark.parametrize("name", ["cnn-pre:depthwise4", "cnn-post:embed-gru-rf15"])
def test_a_design_is_built_at_the_shipped_size_with_float16_weights(name):
    variant, design = name.split(":")
    bundle = bundle_for(name)
    shipped = cnngru.load(variant)
    assert bundle.name == f"{variant} ({design}, untrained)"
    assert bundle.vocab.chars == shipped.vocab.chars
    params = sum(p.numel() for p in bundle.model.parameters())
    assert abs(params - shipped.metadata["params"]) <= BUDGET_TOLERANCE * shipped.metadata["params"]
    for p in bundle.model.parameters():  # as a saved checkpoint holds them
        weights = p.detach().numpy()
        np.testing.assert_array_equal(weights.astype(np.float16).astype(np.float32), weights)
    logits, _, _ = bundle.fast_step.step(np.array([1, 2]))
    assert logits.shape == (2, len(bundle.vocab)) and np.isfinite(logits).all()


def test_a_shipped_name_loads_the_checkpoint():
    assert bundle_for("gru").path == cnngru.load("gru").path
