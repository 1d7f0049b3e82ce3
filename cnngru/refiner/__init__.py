"""The refiner: a bidirectional character CNN that corrects finished text (README: "The refiner").

    from cnngru.refiner import refine
    result = refine(generated_text)        # loads checkpoints/refiner once
    result.text, result.edits              # the edits: position, old, new, confidence

Importing this package registers the architecture as ``REGISTRY["refiner"]``, so
``cnngru.load("refiner")`` can read its checkpoint. Training: ``cnngru.refiner.train``;
figures: ``python -m cnngru.refiner.metrics``.
"""

from .model import Refiner, RefinerConfig
from .noise import Noise
from .refine import DEFAULT_THRESHOLD, Edit, RefineResult, load_refiner, refine

__all__ = ["Refiner", "RefinerConfig", "Noise", "refine", "load_refiner", "Edit", "RefineResult",
           "DEFAULT_THRESHOLD"]
