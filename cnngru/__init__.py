"""cnngru: can a CNN enhance a GRU-based text generator? Character-level models, measured.

    import cnngru
    bundle = cnngru.load("hybrid")                       # a shipped checkpoint, or a folder
    for step in cnngru.generate(bundle, "ROMEO.\n", max_new_tokens=200, seed=0):
        print(step.char, end="")
    print(cnngru.refine("Thou art a vilain").text)     # the CNN refiner corrects typos
"""

from .checkpoint import Bundle, CheckpointError, load, save
from .generation import Continuation, Generation, Step, generate
from .models import VARIANTS, ModelOutput, build_model, count_params
from .refiner import Edit, RefineResult, load_refiner, refine
from .vocab import UnknownCharactersError, Vocab

__all__ = [
    "VARIANTS", "build_model", "count_params", "ModelOutput", "load", "save", "Bundle",
    "CheckpointError", "generate", "Generation", "Step", "Continuation", "Vocab",
    "UnknownCharactersError", "refine", "load_refiner", "RefineResult", "Edit",
]
