"""Checkpoints: a folder with ``model.safetensors`` and ``checkpoint.json``; never pickle.

``checkpoint.json`` holds the variant, its config, the vocabulary, training metadata and the
SHA-256 of the weights file, so a truncated, corrupted or mismatched pair is caught with an error
that names the file instead of a stack trace from deep inside torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .models import VARIANTS, GRUModel, architecture, build_from_config, make_config
from .models.numpy_step import FastStep
from .paths import SHIPPED
from .vocab import Vocab

WEIGHTS = "model.safetensors"
META = "checkpoint.json"
FORMAT = 1
MAX_LAYERS = 64  # layers a config may ask for (list entries, layer counts): far above any model
LAYER_COUNTS = ("layers", "n_layer")  # config entries that are a number of layers


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and what is wrong."""


@dataclass
class Bundle:
    """A loaded model with what it needs to be used: vocabulary, metadata, where it came from."""

    model: GRUModel
    vocab: Vocab
    metadata: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def variant(self) -> str:
        return self.model.config.variant

    @property
    def name(self) -> str:
        return self.metadata.get("name") or (self.path.name if self.path else self.variant)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @cached_property
    def fast_step(self) -> FastStep:
        """The NumPy single-character step, prepared once per loaded model."""
        return FastStep(self.model)


def checked_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device this machine has; else a ValueError saying what it has."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {str(device)!r}: use cpu, or cuda on a machine with a "
                         "GPU") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r}: CUDA is not available here (no GPU, or a "
                         "CPU-only PyTorch): use cpu")
    count = torch.cuda.device_count() if device.type == "cuda" and device.index else 0
    if count and device.index >= count:  # (ZeroGPU lends "cuda" itself: no index to check)
        raise ValueError(f"device {str(device)!r}: this machine has {count} GPU(s), cuda:0 to "
                         f"cuda:{count - 1}")
    return device


def default_device() -> str:
    """``CNNGRU_DEVICE`` if set, else the CPU.

    At batch size 1 a generation step is a chain of small products, and the fused CPU path
    beats a CUDA round trip per character (``cnngru bench`` measures both). With many rows the
    engine's CUDA-graph step wins (``python -m cnngru.bench.cuda_step --engine``): set
    ``CNNGRU_DEVICE=cuda`` to put models on the GPU.
    """
    return os.environ.get("CNNGRU_DEVICE", "cpu")


def checkpoint_dirs() -> list[Path]:
    """Where named checkpoints are looked up: ``CNNGRU_CHECKPOINTS`` first, then the shipped ones."""
    extra = [Path(p) for p in os.environ.get("CNNGRU_CHECKPOINTS", "").split(os.pathsep) if p]
    return [*extra, SHIPPED]


def resolve(path_or_name: str | os.PathLike) -> Path:
    path = Path(path_or_name)
    if path.is_dir():
        return path
    for root in checkpoint_dirs():
        if (root / str(path_or_name) / META).is_file():
            return root / str(path_or_name)
    raise CheckpointError(
        f"no checkpoint {str(path_or_name)!r}: not a folder, and not found in "
        f"{', '.join(str(d) for d in checkpoint_dirs())} (shipped variants: {', '.join(VARIANTS)})")


def save(folder: str | os.PathLike, model: GRUModel, vocab: Vocab, metadata: dict | None = None,
         dtype: torch.dtype = torch.float32) -> Path:
    """Write a checkpoint atomically: readers see the old one or the new one, never half."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # clone: tied weights (the transformer's) must be stored as separate tensors
    tensors = {k: v.detach().to("cpu", dtype).clone() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory(dir=folder, prefix=".saving-") as tmp:
        weights = Path(tmp) / WEIGHTS
        save_file(tensors, weights)
        meta = {
            "format": FORMAT,
            "variant": model.config.variant,
            "config": model.config.to_dict(),
            "vocab": vocab.chars,
            "weights_sha256": _sha256(weights),
            "metadata": metadata or {},
        }
        (Path(tmp) / META).write_text(json.dumps(meta, indent=1, ensure_ascii=False))
        os.replace(weights, folder / WEIGHTS)  # weights first: the old JSON then fails the hash
        os.replace(Path(tmp) / META, folder / META)
    return folder


def update_metadata(folder: str | os.PathLike, **fields) -> None:
    """Add fields to a checkpoint's metadata; the weights (and their hash) are untouched."""
    meta_file = Path(folder) / META
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["metadata"].update(fields)
    tmp = meta_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, meta_file)


def load(path_or_name: str | os.PathLike, device: str | torch.device | None = None) -> Bundle:
    """A checkpoint folder, or the name of a shipped (or ``CNNGRU_CHECKPOINTS``) checkpoint."""
    device = checked_device(device or default_device())
    folder = resolve(path_or_name)
    meta = read_meta(folder)
    weights_file = folder / WEIGHTS
    if not weights_file.is_file():
        raise CheckpointError(f"{weights_file}: missing weights file")
    if _sha256(weights_file) != meta["weights_sha256"]:
        raise CheckpointError(f"{weights_file}: contents do not match {folder / META} "
                              "(truncated, corrupted, or from another checkpoint)")
    try:
        vocab = Vocab(meta["vocab"])
        config = make_config(meta["variant"], len(vocab), **{
            k: v for k, v in meta["config"].items() if k != "vocab_size"})
        with torch.device("meta"):  # shapes without storage: a config may claim any size
            skeleton = build_from_config(config)
    except (ValueError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{folder / META}: bad vocabulary or config ({e})") from None
    # Compared before anything is allocated: a hand-made config claiming a huge model costs
    # nothing, while weights that fit it are bounded by the file's own size.
    _check_shapes(weights_file, _shapes_of(skeleton), _stored_shapes(weights_file))
    try:
        tensors = load_file(weights_file)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_file}: not a readable safetensors file ({e})") from None
    model = build_from_config(config)
    model.load_state_dict({k: v.float() for k, v in tensors.items()})  # fp16 storage -> fp32
    model = model.to(device).eval()
    return Bundle(model, vocab, meta["metadata"], folder)


def read_meta(folder: Path) -> dict:
    meta_file = folder / META
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{meta_file}: missing (not a checkpoint folder)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{meta_file}: not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{meta_file}: not a checkpoint description (a JSON object)")
    missing = {"format", "variant", "config", "vocab", "weights_sha256", "metadata"} - set(meta)
    if missing:
        raise CheckpointError(f"{meta_file}: missing fields {sorted(missing)}")
    kinds = {"variant": str, "config": dict, "vocab": str, "weights_sha256": str, "metadata": dict}
    wrong = [k for k, kind in kinds.items() if not isinstance(meta[k], kind)]
    if wrong:
        raise CheckpointError(f"{meta_file}: fields of the wrong kind: {', '.join(wrong)}")
    if meta["format"] != FORMAT:
        raise CheckpointError(f"{meta_file}: format {meta['format']} (this version reads {FORMAT})")
    many = [k for k, v in meta["config"].items() if _layers_asked(k, v) > MAX_LAYERS]
    if many:  # each is a layer to build: a hand-made config could ask for millions
        raise CheckpointError(f"{meta_file}: config asks for more than {MAX_LAYERS} layers "
                              f"({', '.join(many)}); no model here has that many")
    try:
        architecture(meta["variant"])
    except ValueError:
        raise CheckpointError(f"{meta_file}: unknown variant {meta['variant']!r}") from None
    if meta["config"].get("vocab_size") not in (None, len(meta["vocab"])):
        raise CheckpointError(f"{meta_file}: config vocab_size {meta['config']['vocab_size']} "
                              f"but the vocabulary has {len(meta['vocab'])} characters")
    return meta


def _layers_asked(key: str, value) -> int:
    """How many layers a config entry asks to build: a list's length (convolution widths,
    dilations), or the count itself for a number of layers."""
    if isinstance(value, list):
        return len(value)
    return value if key in LAYER_COUNTS and isinstance(value, int) else 0


def _shapes_of(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _stored_shapes(weights_file: Path) -> dict[str, tuple[int, ...]]:
    """The shapes a safetensors file holds, read from its header: no tensor is loaded."""
    try:
        with safe_open(weights_file, "pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_file}: not a readable safetensors file ({e})") from None


def _check_shapes(weights_file: Path, expected: dict[str, tuple], found: dict[str, tuple]) -> None:
    problems = [f"missing {k}" for k in expected.keys() - found.keys()]
    problems += [f"unexpected {k}" for k in found.keys() - expected.keys()]
    problems += [f"{k}: shape {found[k]}, expected {expected[k]}"
                 for k in expected.keys() & found.keys() if found[k] != expected[k]]
    if problems:
        raise CheckpointError(f"{weights_file}: weights do not fit the config: "
                              + "; ".join(sorted(problems)[:5]))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
