"""The Results tab: the measured answer, read from the files ``cnngru reproduce`` writes.

Nothing here is typed by hand: the tables are ``results.md``'s (the main one first, the rest in
a details view), the answer and the curves come from ``results.json``. The files are read on
every request, so a new reproduction shows up without a restart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr

from ..paths import RESULTS_DIR
from . import text
from .common import wire, with_clear_errors
from .figures import curves_figure, note_figure

_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")


class ResultsOutputs(NamedTuple):
    """What the Results tab shows; the Reload event's ``outputs=`` list is this tuple of
    components (see ``render``), in an order API clients rely on (new ones go last)."""

    table: Any  # Markdown: the main table (test BPC per scale, else the shipped models)
    answer: Any  # Markdown: the answer in words
    curves: Any  # the training curves figure
    scaling: Any  # Image: results/scaling.png (test BPC and differences against parameters)
    details: Any  # Markdown: results.md's other tables (candidates, rates, budgets, ...)


# The table a reader needs first, by its heading in results.md: the comparison once a scale is
# finished, else the shipped models' figures. Every other table goes in the details.
MAIN_TABLES = ("### Test BPC at each scale", "### The shipped models")


def table_blocks(markdown: str) -> list[tuple[str | None, str]]:
    """Every Markdown table in ``markdown`` with the closest heading above it (None if none)."""
    blocks, heading, lines, i = [], None, markdown.splitlines(), 0
    while i < len(lines):
        if lines[i].lstrip().startswith("#"):
            heading = lines[i]
        if not _TABLE_LINE.match(lines[i]):
            i += 1
            continue
        end = i
        while end < len(lines) and _TABLE_LINE.match(lines[end]):
            end += 1
        blocks.append((heading, "\n".join(lines[i:end])))
        heading, i = None, end
    return blocks


def main_and_details(markdown: str) -> tuple[str, str]:
    """results.md's tables split in two: the main one, and the rest, each under its heading."""
    blocks = table_blocks(markdown)
    if not blocks:
        return markdown, ""
    main = next((b for want in MAIN_TABLES for b in blocks if b[0] == want), blocks[0])
    return _shown([main]), _shown([b for b in blocks if b is not main])


def _shown(blocks: list[tuple[str | None, str]]) -> str:
    return "\n\n".join(f"{heading}\n\n{table}" if heading else table for heading, table in blocks)


def curves_title(results: dict) -> str:
    """Whose curves the figure shows: a finished scale's runs or the shipped models."""
    source = results.get("curves_from")
    return f"Training curves: {source}" if source else "Training curves"


def read_results(folder: Path) -> ResultsOutputs:
    """The table, answer and curves figure from ``folder``; a "no results yet" message if
    absent."""
    json_file, md_file = folder / "results.json", folder / "results.md"
    if not json_file.is_file() or not md_file.is_file():
        return ResultsOutputs(table=text.RESULTS_MISSING, answer="",
                              curves=note_figure("No results yet — run `cnngru reproduce`."),
                              scaling=None, details="")
    try:
        results = json.loads(json_file.read_text(encoding="utf-8"))
        table, details = main_and_details(md_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        message = f"**The results files could not be read** ({e}); run `cnngru reproduce` again."
        return ResultsOutputs(table=message, answer="", curves=note_figure("No readable results."),
                              scaling=None, details="")
    answer = results.get("answer") or "*The results file holds no answer in words.*"
    scaling = folder / "scaling.png"
    return ResultsOutputs(table=table, answer=answer,
                          curves=curves_figure(results.get("curves") or {}, curves_title(results)),
                          scaling=str(scaling) if scaling.is_file() else None, details=details)


def render(folder: Path | None = None) -> None:
    """Build the tab inside the current ``gr.Tab`` and wire its Reload button."""
    folder = Path(folder or RESULTS_DIR)

    def show_results():
        """The results table, the answer in words and the training curves."""
        return read_results(folder)

    shown = read_results(folder)
    answer = gr.Markdown(shown.answer, elem_id="results-answer", label="answer")
    table = gr.Markdown(shown.table, elem_id="results-table", label="table")
    with gr.Accordion("Details: candidate designs, learning rates, budgets, unstable runs",
                      open=False, elem_id="results-details-box"):
        details = gr.Markdown(shown.details, elem_id="results-details", label="details")
    scaling = gr.Image(shown.scaling, elem_id="results-scaling", label="scaling: test BPC and "
                       "the difference from gru against parameters", type="filepath",
                       interactive=False)
    curves = gr.Plot(shown.curves, elem_id="results-curves", label="training curves")
    reload = gr.Button("Reload the results files")
    wire(reload.click, with_clear_errors(show_results), None,
         list(ResultsOutputs(table=table, answer=answer, curves=curves, scaling=scaling,
                             details=details)),
         api_name="results", workers="files")
