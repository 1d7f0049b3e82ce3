"""cnngru: can a CNN enhance a GRU-based text generator? Character-level models, measured.

    import cnngru
    bundle = cnngru.load("hybrid")                       # a shipped checkpoint, or a folder
    for step in cnngru.generate(bundle, "ROMEO.\n", max_new_tokens=200, seed=0):
        print(step.char, end="")
    print(cnngru.refine("Thou art a vilain").text)     # the CNN refiner corrects typos
"""

import os

# OpenMP threads that wait for work sleep instead of spinning. With spinning, a PyTorch op on 2
# threads runs ~40x slower whenever another process holds a core (nn.GRU at batch 256: 1.2 s
# instead of 0.03 s): the case of a demo that trains beside generation, or a study beside
# tests. Set before torch starts OpenMP; a value already in the environment is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .checkpoint import Bundle, CheckpointError, load, save  # noqa: E402
from .generation import Continuation, Generation, Step, generate  # noqa: E402
from .models import VARIANTS, ModelOutput, build_model, count_params  # noqa: E402
from .refiner import Edit, RefineResult, load_refiner, refine  # noqa: E402
from .vocab import UnknownCharactersError, Vocab  # noqa: E402

__all__ = [
    "VARIANTS", "build_model", "count_params", "ModelOutput", "load", "save", "Bundle",
    "CheckpointError", "generate", "Generation", "Step", "Continuation", "Vocab",
    "UnknownCharactersError", "refine", "load_refiner", "RefineResult", "Edit",
]
