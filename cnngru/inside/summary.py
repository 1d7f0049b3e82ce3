"""The README's Inside figures, written from the shipped tables (never typed by hand).

``cnngru inside build`` rewrites the block after building the shipped checkpoints' tables;
``tests/inside`` holds the block equal to what the committed tables say.
"""

from __future__ import annotations

import json

from ..models import VARIANTS
from ..paths import SHIPPED
from .table import FILE


def shipped_tables() -> dict[str, dict]:
    """The shipped checkpoints' tables by variant, in VARIANTS order (those present)."""
    return {v: json.loads((SHIPPED / v / FILE).read_text(encoding="utf-8"))
            for v in VARIANTS if (SHIPPED / v / FILE).is_file()}


def summary_markdown(tables: dict[str, dict]) -> str:
    """Per model: filters labelled, and the unit most correlated with each property."""
    properties = next(iter(tables.values()))["units"]["properties"] if tables else {}
    lines = ["Per shipped model: filters with a label, and per property the GRU unit most "
             "correlated with it on the validation sample (Pearson's r; point-biserial for the "
             "yes/no properties).", "",
             "| model | filters with a label | " + " | ".join(properties) + " |",
             "|---" * (2 + len(properties)) + "|"]
    for variant, table in tables.items():
        filters = table["filters"]
        labelled = (f"{filters['labelled']} of {len(filters['items'])}" if filters["items"]
                    else "no filters over characters")
        units = []
        for name in properties:
            unit, r = table["units"]["properties"][name]["top"][0]
            units.append(f"{unit} ({r:+.2f})")
        lines.append(f"| {variant} | {labelled} | " + " | ".join(units) + " |")
    return "\n".join(lines)


def write_readme_block() -> None:
    from ..evaluation.readme_blocks import write_block

    write_block("inside", summary_markdown(shipped_tables()))
