"""The models the demo serves, loaded once at start and shared read-only by every request.

A model's forward keeps no per-request state (the state travels in and out of each call), so one
loaded model per checkpoint serves every user; what belongs to one user lives in ``gr.State``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import VARIANTS, CheckpointError, load
from ..analysed_generation import AnalysedGenerations
from ..checkpoint import META, Bundle, checkpoint_dirs, default_device
from ..generation_process import GenerationProcess
from ..paths import SHIPPED
from ..sample_quality import load_words
from ..threads import limit_blas_threads
from .spaces import on_zero_gpu
from .validation import InputError

WORDS_FILE = "words.txt"  # the training corpus's words, written next to the checkpoints
LENT_GPU = "cuda"  # where ZeroGPU's copies of the models load (ZeroGPU lends it per call)


@dataclass
class Models:
    """Every loaded checkpoint by display name, the word list, and the optional refiner."""

    bundles: dict[str, Bundle]  # by display name, shipped variants first (in VARIANTS order)
    words: frozenset[str] = frozenset()
    refiner: Callable | None = None  # refine(text, threshold) -> RefineResult; None: absent
    refiner_note: str = ""  # why there is no refiner, shown on the page
    # on a ZeroGPU Space: the shipped models again, on CUDA, for calls that hold the lent GPU
    lent_gpu: dict[str, Bundle] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # checkpoints that failed to load
    device: str = "cpu"
    # where their generations run: here, or in a helper process (``serve_generations_apart``)
    generations: AnalysedGenerations | GenerationProcess = field(
        default_factory=AnalysedGenerations)

    @property
    def names(self) -> list[str]:
        return list(self.bundles)

    @property
    def variants(self) -> list[str]:
        """The names of the shipped variants that loaded, in VARIANTS order: Compare's columns."""
        return [v for v in VARIANTS if v in self.bundles]

    def get(self, name) -> Bundle:
        """The bundle called ``name``; an ``InputError`` naming the choices otherwise."""
        if isinstance(name, str) and name in self.bundles:
            return self.bundles[name]
        raise InputError(f"Unknown strategy {name!r}: choose one of {', '.join(self.names)}.")


def choose_device() -> str:
    """The device the served models load on: ``CNNGRU_DEVICE`` if set, else the library's
    default, the CPU, on a ZeroGPU Space too (``spaces.py`` says why).

    The CPU is the default because generation runs one character at a time: on an H100 machine
    the fused CPU step generated 2-5k characters/s per model against 0.3-1k on the GPU, where
    only the whole-text analysis was faster (0.05-0.2 s against 0.2-0.4 s for 2,000 characters).
    """
    device = default_device()
    if on_zero_gpu() and torch.device(device).type != "cpu":
        raise CheckpointError(
            f"CNNGRU_DEVICE={device} cannot serve on ZeroGPU: there the GPU is lent per call, "
            "in a forked worker, and the generation engine that batches every visitor must "
            "stay in the server, on the CPU. Unset CNNGRU_DEVICE.")
    return device


def extra_checkpoints() -> list[Path]:
    """Language-model checkpoint folders under ``CNNGRU_CHECKPOINTS`` not named after a variant
    (those replace the shipped ones instead: the library looks there first). Other kinds of
    checkpoint (the refiner, the transformer reference) are not strategies and are skipped."""
    found = []
    for root in checkpoint_dirs()[:-1]:
        candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []
        found += [p for p in candidates if p.name not in VARIANTS and _holds_variant(p)]
    return found


def _holds_variant(folder: Path) -> bool:
    try:
        return json.loads((folder / META).read_text(encoding="utf-8")).get("variant") in VARIANTS
    except (OSError, ValueError, AttributeError):
        return False


def load_models(device: str | None = None, refiner: bool = True) -> Models:
    """Load every shipped variant and every extra checkpoint once; report what failed."""
    device = device or choose_device()
    bundles, problems = {}, []
    for source in [*VARIANTS, *extra_checkpoints()]:
        try:
            bundle = load(source, device=device)
        except CheckpointError as e:
            problems.append(str(e))
            continue
        if bundle.device.type == "cpu":
            bundle.fast_step  # noqa: B018 -- prepare the fused step now, not on the first request
        name = source if isinstance(source, str) else source.name
        while name in bundles:  # two extra folders with one name: keep both
            name += "'"
        bundles[name] = bundle
    if not bundles:
        raise CheckpointError("no checkpoint could be loaded:\n" + "\n".join(problems))
    models = Models(bundles, words=find_words(), problems=problems, device=str(device))
    if refiner:
        models.refiner, models.refiner_note = load_optional_refiner(device)
    if on_zero_gpu():  # ZeroGPU moves them to the GPU a call holds, in its worker
        models.lent_gpu = {name: load(b.path, device=LENT_GPU) for name, b in bundles.items()}
    return models


def serve_generations_apart(models: Models) -> bool:
    """Run the models' generations in a helper process (``cnngru.generation_process``: the
    server's threads then leave the models' work to another core), unless they are not on the
    CPU or ``CNNGRU_GENERATION_PROCESS=0``; returns whether they run there."""
    if os.environ.get("CNNGRU_GENERATION_PROCESS", "1") == "0" or models.device != "cpu":
        return False
    if not isinstance(models.generations, GenerationProcess):
        models.generations = GenerationProcess(models.bundles)
    return True


def find_words() -> frozenset[str]:
    """The word list from the first checkpoint folder that has one (empty if none has)."""
    for root in [*checkpoint_dirs(), SHIPPED]:
        if (root / WORDS_FILE).is_file():
            return load_words(root / WORDS_FILE)
    return frozenset()


def load_optional_refiner(device: str | None = None) -> tuple[Callable | None, str]:
    """The CNN refiner as ``fn(text, threshold)``, or None and the reason it is missing."""
    try:
        from ..refiner import load_refiner, refine
    except ImportError:
        return None, "The CNN refiner is not part of this installation."
    try:
        model = load_refiner(device=device)
    except CheckpointError as e:
        return None, f"The CNN refiner has no checkpoint here ({e})."

    def refine_text(text: str, threshold: float):
        return refine(text, refiner=model, threshold=threshold)

    return refine_text, ""


def configure_threads(concurrency: int) -> int:
    """Give each of ``concurrency`` simultaneous requests its share of the cores, so two
    requests on two cores do not each start two threads and fight over them.

    PyTorch (the prompt and the analysis) gets cores // concurrency threads; NumPy's BLAS (the
    one-character steps) gets one, for the reason given in ``cnngru.threads``. app.py also sets
    OPENBLAS_NUM_THREADS=1.
    """
    threads = max(1, (os.cpu_count() or 1) // max(1, concurrency))
    torch.set_num_threads(threads)
    limit_blas_threads(1)
    return threads
