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
    except OSError as e:
        raise InsideTableError(f"{path}: unreadable ({e.strerror or e}); {fix}") from None
    if not isinstance(data, dict):
        raise InsideTableError(f"{path}: not an Inside table (a JSON {type(data).__name__}); {fix}")
    if data.get("format") != FORMAT:
        raise InsideTableError(f"{path}: format {data.get('format')} (this version reads "
                               f"{FORMAT}); {fix}")
    expected = read_meta(folder)["weights_sha256"]
    if data.get("weights_sha256") != expected:
        raise InsideTableError(f"{path}: built for other weights (hash "
                               f"{str(data.get('weights_sha256'))[:12]}…, the checkpoint's is "
                               f"{expected[:12]}…); {fix}")
    if problem := shape_problem(data):
        raise InsideTableError(f"{path}: not an Inside table ({problem}); {fix}")
    return InsideTable(data, path)


# What the tab reads of a table: path -> the type each entry must have ("*": every item of a list,
# or every value of a dict).
SHAPE = {
    ("samples", "train", "chars"): int, ("samples", "validation", "chars"): int,
    ("filters", "banks"): list, ("filters", "labelled"): int, ("filters", "items"): list,
    ("filters", "items", "*"): dict, ("units", "count"): int, ("units", "properties"): dict,
    ("units", "properties", "*", "top"): list, ("excerpt", "text"): str,
}
KIND_NAMES = {int: "a whole number", list: "a list", dict: "an object", str: "text"}
FILTER_KEYS = {"id": int, "bank": str, "window": int, "labels": list, "top": list,
               "p99": (int, float), "active": (int, float)}


def shape_problem(data: dict) -> str | None:
    """What a table lacks of what the tab reads (None: nothing): its sections, each filter's
    row, top n-grams and labels, and each property's top units, so that a hand-edited or
    truncated file is refused when loaded, not when a visitor opens the tab."""
    for path, kind in SHAPE.items():
        for where, value in _walk(data, path):
            if value is None:
                return f"{where} is missing"
            if not isinstance(value, kind) or isinstance(value, bool):
                return f"{where} should be {KIND_NAMES[kind]}"
    if not data["units"]["properties"]:
        return "units.properties is empty"
    if data["units"]["count"] < 1:
        return "units.count is not positive"
    count = data["units"]["count"]
    for name, entry in data["units"]["properties"].items():
        if not all(_row(x, (int, NUMBER)) and 0 <= x[0] < count for x in entry["top"]):
            return f"units.properties[{name!r}].top should hold [unit below {count}, r] pairs"
    for i, f in enumerate(data["filters"]["items"]):
        for key, kind in FILTER_KEYS.items():
            if not isinstance(f.get(key), kind) or isinstance(f.get(key), bool):
                return f"filter {i}: {key} is missing or not {KIND_NAMES.get(kind, 'a number')}"
        if f["id"] != i:
            return f"filter {i}: its id is {f['id']}"
        if not all(_row(x, (str, int, NUMBER)) for x in f["top"]):
            return f"filter {i}: top should hold [n-gram, count, activation] rows"
        if not all(_row(x, (str, NUMBER)) for x in f["labels"]):
            return f"filter {i}: labels should hold [property, share] pairs"
    return None


NUMBER = (int, float)


def _row(value, kinds: tuple) -> bool:
    """``value`` is a list with one item of each of ``kinds``, in order (booleans are not
    numbers here)."""
    return (isinstance(value, list) and len(value) == len(kinds)
            and all(isinstance(v, k) and not isinstance(v, bool)
                    for v, k in zip(value, kinds, strict=True)))


def _walk(value, path: tuple, where: str = ""):
    """The (dotted path, value) pairs ``path`` reaches in ``value``, with "*" for every item;
    a missing step yields (that path, None)."""
    if not path:
        yield where, value
        return
    step, rest = path[0], path[1:]
    here = f"{where}.{step}" if where else step
    if step == "*":
        items = (value.items() if isinstance(value, dict)
                 else enumerate(value) if isinstance(value, list) else ())
        for key, item in items:
            yield from _walk(item, rest, f"{where}[{key!r}]")
    elif isinstance(value, dict) and step in value:
        yield from _walk(value[step], rest, here)
    else:
        yield here, None


def table_for(bundle: Bundle) -> InsideTable:
    if bundle.path is None:
        raise InsideTableError(f"{bundle.name}: not loaded from a checkpoint folder")
    return load_table(bundle.path)


def firing(bundle: Bundle, table: InsideTable, text: str) -> list[dict]:
    """The filters that fire on ``text`` (characters the model knows): above their p99 on a
    window lying wholly inside it. Each: the filter's id, window, its best window of the text,
    that activation, p99, and their ratio (None where p99 is not above zero; such hits come
    last). A filter wider than the text is not tested."""
    ids = np.asarray(bundle.vocab.encode(text), dtype=np.int64)
    with torch.inference_mode():
        acts = filter_activations(bundle.model, ids)  # (N, filters)
    hits = []
    for f in table.filters:
        k = f["window"]
        if len(ids) < k:
            continue
        column = acts[k - 1:, f["id"]]
        t = int(np.argmax(column))
        if column[t] > f["p99"]:  # (a ratio means nothing against a p99 at or below zero)
            ratio = round(float(column[t]) / f["p99"], 3) if f["p99"] > 0 else None
            hits.append({"id": f["id"], "window": k, "at": text[t:t + k],
                         "activation": round(float(column[t]), 4), "p99": f["p99"],
                         "ratio": ratio})
    return sorted(hits, key=lambda h: (h["ratio"] is None, -(h["ratio"] or 0)))
