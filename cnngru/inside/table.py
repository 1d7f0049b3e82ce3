"""A checkpoint's Inside table, read from ``inside.json`` beside its weights: never computed here.

The table carries the SHA-256 of the weights it was built from; one that does not match the
checkpoint it sits beside is refused with a message saying how to rebuild it, so the demo never
shows one model's filters under another's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import Bundle, read_meta
from .activations import filter_activations

FILE = "inside.json"
FORMAT = 1


class InsideTableError(ValueError):
    """A missing, unreadable or stale table; the message names the file and the fix."""


@dataclass
class InsideTable:
    """The numbers of one checkpoint's Inside tab (see ``build.py`` for what each holds)."""

    data: dict
    path: Path

    @property
    def filters(self) -> list[dict]:
        return self.data["filters"]["items"]

    @property
    def left_out(self) -> str | None:
        return self.data["filters"].get("left_out")

    @property
    def unit_properties(self) -> dict[str, dict]:
        return self.data["units"]["properties"]

    @property
    def excerpt(self) -> str:
        return self.data["excerpt"]["text"]

    def summary(self) -> str:
        """One line: how many filters, how many labelled, the samples."""
        s = self.data["samples"]
        f = self.data["filters"]
        units = (f"{self.data['units']['count']} GRU units, correlated with the text's "
                 f"properties on {s['validation']['chars']:,} validation characters.")
        if not self.filters:
            return f"No character filters. {units}"
        return (f"{len(self.filters)} filters in {len(f['banks'])} convolutions; "
                f"{f['labelled']} got a label ({f['labelled'] / len(self.filters):.0%}). "
                f"Top n-grams from {s['train']['chars']:,} training characters; statistics "
                f"and labels from {s['validation']['chars']:,} validation characters. {units}")


def load_table(folder: str | Path) -> InsideTable:
    """The table in checkpoint ``folder``, checked against the weights' hash."""
    folder = Path(folder)
    path = folder / FILE
    fix = f"build it with: cnngru inside build {folder}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InsideTableError(f"{path}: missing; {fix}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InsideTableError(f"{path}: not valid JSON ({e}); {fix}") from None
    if data.get("format") != FORMAT:
        raise InsideTableError(f"{path}: format {data.get('format')} (this version reads "
                               f"{FORMAT}); {fix}")
    expected = read_meta(folder)["weights_sha256"]
    if data.get("weights_sha256") != expected:
        raise InsideTableError(f"{path}: built for other weights (hash "
                               f"{str(data.get('weights_sha256'))[:12]}…, the checkpoint's is "
                               f"{expected[:12]}…); {fix}")
    return InsideTable(data, path)


def table_for(bundle: Bundle) -> InsideTable:
    if bundle.path is None:
        raise InsideTableError(f"{bundle.name}: not loaded from a checkpoint folder")
    return load_table(bundle.path)


def firing(bundle: Bundle, table: InsideTable, text: str) -> list[dict]:
    """The filters that fire on ``text``: above their p99 on a window lying wholly inside it.
    Each: the filter's id, window, its best window of the text, that activation and p99 (a
    filter wider than the text is not tested)."""
    ids = np.asarray(bundle.vocab.encode(text, "replace"), dtype=np.int64)
    with torch.inference_mode():
        acts = filter_activations(bundle.model, ids)  # (N, filters)
    hits = []
    for f in table.filters:
        k = f["window"]
        if len(ids) < k:
            continue
        column = acts[k - 1:, f["id"]]
        t = int(np.argmax(column))
        if column[t] > f["p99"]:
            hits.append({"id": f["id"], "window": k, "at": text[t:t + k],
                         "activation": round(float(column[t]), 4), "p99": f["p99"],
                         "ratio": round(float(column[t]) / max(f["p99"], 1e-9), 3)})
    return sorted(hits, key=lambda h: -h["ratio"])
