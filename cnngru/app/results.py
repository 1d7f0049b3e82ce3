"""The Results tab: the measured answer, read from the files ``cnngru reproduce`` writes.

Nothing here is typed by hand: the answer, the tables and their notes are ``results.md``'s (the
main table first, the rest in a details view), the curves come from ``results.json``. The files
are read on every request, so a new reproduction shows up without a restart.
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


# The section a reader needs first, by its heading in results.md: the comparison once a scale is
# finished, else the shipped models' figures. Every other section goes in the details, except the
# answer, which the tab shows on its own.
MAIN_TABLES = ("### Test BPC at each scale", "### The shipped models")
ANSWER = "### The answer"


def sections(markdown: str) -> list[tuple[str | None, str]]:
    """``markdown`` cut at its headings: each heading (None before the first) with the text
    under it, its tables and the paragraphs that say how to read them. Images go: the tab
    shows the figures itself, and results.md's relative links would not resolve here."""
    out: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in markdown.splitlines():
        if line.lstrip().startswith("#"):
            out.append((line, []))
        elif not line.lstrip().startswith("!["):
            out[-1][1].append(line)
    return [(heading, "\n".join(body).strip()) for heading, body in out if heading or body]


def main_and_details(markdown: str) -> tuple[str, str]:
    """results.md in two: the main section (its table with its notes), and the others."""
    cut = [(h, body) for h, body in sections(markdown) if h != ANSWER]
    with_table = [c for c in cut if any(_TABLE_LINE.match(line) for line in c[1].splitlines())]
    if not with_table:
        return markdown, ""
    main = next((c for want in MAIN_TABLES for c in with_table if c[0] == want), with_table[0])
    return _shown([main]), _shown([c for c in cut if c is not main and c[1]])


def answer_of(markdown: str) -> str | None:
    """The text under results.md's answer heading: the answer in words, and what is not
    finished yet (None if it has none)."""
    return next((body for heading, body in sections(markdown) if heading == ANSWER and body), None)


def _shown(cut: list[tuple[str | None, str]]) -> str:
    return "\n\n".join(f"{heading}\n\n{body}" if heading else body for heading, body in cut)


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
        md = md_file.read_text(encoding="utf-8")
        table, details = main_and_details(md)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        message = f"**The results files could not be read** ({e}); run `cnngru reproduce` again."
        return ResultsOutputs(table=message, answer="", curves=note_figure("No readable results."),
                              scaling=None, details="")
    answer = (answer_of(md) or results.get("answer")
              or "*The results file holds no answer in words.*")
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
    with gr.Accordion("Details: seed runs, candidate designs, learning rates, budgets, unstable runs",
                      open=False, elem_id="results-details-box"):
        details = gr.Markdown(shown.details, elem_id="results-details", label="details")
    scaling = gr.Image(shown.scaling, elem_id="results-scaling", label="scaling: test BPC and "
                       "the difference from gru against parameters", type="filepath",
                       interactive=False, show_label=False)  # its badge would hide a panel's title
    curves = gr.Plot(shown.curves, elem_id="results-curves", label="training curves")
    reload = gr.Button("Reload the results files")
    wire(reload.click, with_clear_errors(show_results), None,
         list(ResultsOutputs(table=table, answer=answer, curves=curves, scaling=scaling,
                             details=details)),
         api_name="results", workers="files")
