"""cnngru.refiner.model: a non-causal CNN that reads exactly its receptive radius either way."""

import pytest
import torch

from cnngru.models import build_model


def test_refiner_is_non_causal_within_its_receptive_field(tiny_refiner, vocab):
    radius = tiny_refiner.config.receptive_radius
    x = torch.randint(0, len(vocab), (1, 64), generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[0, 40] = (x[0, 40] + 1) % len(vocab)  # a later character changes
    with torch.no_grad():
        a, b = tiny_refiner(x), tiny_refiner(y)
    assert not torch.allclose(a[0, 40 - radius], b[0, 40 - radius])  # it reads ahead: the point
    assert torch.allclose(a[0, :40 - radius], b[0, :40 - radius])  # but no further than its reach
    # and as far behind as ahead, no further
    assert not torch.allclose(a[0, 40 + radius], b[0, 40 + radius])
    assert torch.allclose(a[0, 40 + radius + 1:], b[0, 40 + radius + 1:])


def test_receptive_radius_follows_kernel_and_dilations(vocab):
    model = build_model("refiner", len(vocab), hidden=32, kernel_size=5, dilations=(1, 3))
    assert model.config.receptive_radius == 2 * 1 + 2 * 3
    with pytest.raises(ValueError, match="odd"):
        build_model("refiner", len(vocab), hidden=32, kernel_size=4)
