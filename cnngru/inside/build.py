"""``cnngru inside build``: the Inside tables of checkpoints, written beside their weights.

    cnngru inside build                  # every shipped variant
    cnngru inside build hybrid runs/x/best

Reads the checkpoint's own corpus (its metadata names it) once, and writes ``inside.json`` into
the checkpoint folder with the SHA-256 of the weights it describes: a table built for other
weights is refused when loaded (``table.py``). Run it whenever a checkpoint is replaced. The
samples are fixed, so a rebuild of the same weights writes the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from ..checkpoint import Bundle, load, read_meta
from ..corpus import load_corpus
from ..models import VARIANTS
from ..paths import SHIPPED
from . import filters, units
from .activations import filter_activations, filter_banks, left_out_note, unit_activations
from .properties import FILTER_PROPERTIES, UNIT_PROPERTIES
from .table import FILE, FORMAT

TRAIN_BLOCKS, TRAIN_BLOCK_CHARS = 64, 16_384  # 1,048,576 training characters, spread evenly
VALIDATION_BLOCKS, VALIDATION_BLOCK_CHARS = 8, 25_000  # 200,000 validation characters
EXCERPT_CHARS = 2_000  # the validation text a unit is shown on


def spread(length: int, blocks: int, size: int) -> tuple[list[int], int]:
    """Starts of ``blocks`` blocks spread evenly over a text of ``length``, and their size
    (``size``, or less where the text is short)."""
    size = min(size, length // blocks)
    last = length - size
    return [round(i * last / max(blocks - 1, 1)) for i in range(blocks)], size


def excerpt_start(text: str) -> int:
    """Where the excerpt starts: the speech holding the first stage direction (``[``), so it
    shows names, lines and brackets; else the text's start."""
    bracket = text.find("[")
    blank = text.rfind("\n\n", 0, bracket) if bracket >= 0 else -1
    return 0 if blank < 0 else blank + 2  # no blank line before it: the text's start


def corpus_of(bundle: Bundle):
    train_config = bundle.metadata.get("train_config", {})
    return load_corpus(bundle.metadata.get("corpus") or train_config.get("corpus") or "shakespeare",
                       train_config.get("split"))


def build_table(bundle: Bundle, corpus=None) -> dict:
    """The Inside table of ``bundle`` as a JSON-ready dict (see the module docstring)."""
    corpus = corpus or corpus_of(bundle)
    vocab, model = bundle.vocab, bundle.model
    encode = lambda s: np.asarray(vocab.encode(s, "replace"), dtype=np.int64)  # noqa: E731
    decode = lambda b: "".join(vocab.chars[i] for i in b)  # noqa: E731

    train = corpus.split("train")
    train_starts, train_size = spread(len(train), TRAIN_BLOCKS, TRAIN_BLOCK_CHARS)
    validation = corpus.split("validation")
    val_starts, val_size = spread(len(validation), VALIDATION_BLOCKS, VALIDATION_BLOCK_CHARS)
    val_texts = [validation[s:s + val_size] for s in val_starts]
    val_ids = [encode(t) for t in val_texts]

    table = {
        "format": FORMAT, "variant": bundle.variant, "weights_sha256": _weights_hash(bundle),
        "built": time.strftime("%Y-%m-%d", time.gmtime()),
        "samples": {
            "train": {"split": "train", "block_chars": train_size, "starts": train_starts,
                      "chars": train_size * len(train_starts)},
            "validation": {"split": "validation", "block_chars": val_size, "starts": val_starts,
                           "chars": val_size * len(val_starts)},
        },
        "filters": _filter_table(model, [encode(train[s:s + train_size]) for s in train_starts],
                                 val_texts, val_ids, decode),
        "units": _unit_table(model, val_texts, val_ids),
    }
    start = excerpt_start(validation)
    table["excerpt"] = {"split": "validation", "start": start,
                        "text": validation[start:start + EXCERPT_CHARS]}
    return table


def _filter_table(model, train_blocks, val_texts, val_ids, decode) -> dict:
    banks = filter_banks(model)
    if not banks:
        return {"banks": [], "items": [], "labelled": 0, "left_out": left_out_note(model)}
    train_acts = [filter_activations(model, ids) for ids in train_blocks]
    val_acts = [filter_activations(model, ids) for ids in val_ids]
    items = []
    for bank in banks:
        cols = slice(bank.first, bank.first + bank.channels)
        k = bank.window
        top = filters.top_ngrams(train_blocks, [a[:, cols] for a in train_acts], k, decode)
        # validation positions whose whole window lies inside its block
        values = np.concatenate([a[k - 1:, cols] for a in val_acts])
        flags = {name: np.concatenate([fn(t, k)[k - 1:] for t in val_texts])
                 for name, (_, fn) in FILTER_PROPERTIES.items()}
        stats = filters.statistics(values)
        labels = filters.labels(values, flags)
        for c in range(bank.channels):
            items.append({
                "id": len(items), "bank": bank.name, "channel": c, "window": k,
                "top": top[c], "labels": labels[c],
                **{name: column[c] for name, column in stats.items()},
            })
    return {
        "banks": [{"name": b.name, "window": b.window, "channels": b.channels, "first": b.first}
                  for b in banks],
        "items": items,
        "labelled": sum(bool(f["labels"]) for f in items),
        "left_out": None,
        "activation": "the convolution's output before its ReLU, for the window of characters "
                      "ending at each position",
        "fires_above": f"p99: the {filters.FIRE_PERCENTILE:g}th percentile on the validation "
                       "sample",
        "label_rule": f"at least {filters.LABEL_SHARE:.0%} of its {filters.LABEL_TOP} highest "
                      "validation activations have the property",
        "properties": {name: desc for name, (desc, _) in FILTER_PROPERTIES.items()},
    }


def _unit_table(model, val_texts, val_ids) -> dict:
    acts = unit_activations(model, val_ids)  # each block read from its start, as the model would
    properties = {}
    for name, (desc, kind, fn) in UNIT_PROPERTIES.items():
        values = np.concatenate([fn(t) for t in val_texts])  # each block on its own, likewise
        r = units.correlations(acts, values)
        properties[name] = {"description": desc, "kind": kind,
                            "method": "Pearson" if kind == "numeric" else "point-biserial",
                            "top": units.top_units(r)}
    return {"count": int(acts.shape[1]), "output": "the GRU's top-layer output (trace 'units')",
            "properties": properties}


def _weights_hash(bundle: Bundle) -> str:
    return read_meta(Path(bundle.path))["weights_sha256"]


def write_table(folder: Path, table: dict) -> Path:
    """Write atomically: a reader sees the old table or the new one."""
    path = Path(folder) / FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
    return path


def build(name_or_folder: str | os.PathLike) -> Path:
    """Build and write the table of one checkpoint; returns the file written."""
    bundle = load(name_or_folder, device="cpu")
    path = write_table(bundle.path, build_table(bundle))
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="cnngru inside", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="build the Inside tables of checkpoints")
    b.add_argument("checkpoints", nargs="*", help="names or folders (default: every shipped "
                   f"variant: {', '.join(VARIANTS)})")
    args = p.parse_args(argv)
    names = args.checkpoints or [v for v in VARIANTS if (SHIPPED / v).is_dir()]
    for name in names:
        started = time.perf_counter()
        path = build(name)
        print(f"{path} ({path.stat().st_size / 1024:.0f} KB, "
              f"{time.perf_counter() - started:.0f} s)", flush=True)
    if not args.checkpoints:  # the shipped ones: their figures in the README follow
        from .summary import write_readme_block

        write_readme_block()
