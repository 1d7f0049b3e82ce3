"""The Inside tab: what each CNN filter and GRU unit of a shipped model detects.

Everything shown first is read from the tables built with the checkpoints (``cnngru inside
build``, ``cnngru/inside``); nothing scans the corpus here. A search runs the filters on the
typed characters; a unit's view runs the model over 2,000 characters. Each view is a named API
endpoint that returns its numbers.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import numpy as np

from ..inside import InsideTable, InsideTableError, firing, table_for
from .coloured_text import coloured_view
from .common import wire, with_clear_errors
from .html import message_html
from .loaded_models import Models
from .text_views import unit_html, unit_outputs
from .validation import InputError, flag, known_characters, number, text_input

FILTER_HEADERS = ["filter", "convolution", "window", "labels", "top n-grams (count)", "p99",
                  "active share"]
SEARCH_HEADERS = ["filter", "window", "labels", "best window", "activation", "p99", "× p99"]
UNIT_HEADERS = ["unit", "r"]
MAX_SEARCH_CHARS = 64
MAX_UNIT_CHARS = 2_000
HELP = """What the models' parts respond to, measured once when the models were built
(`cnngru inside build`). **Filters** are the CNN's character n-gram detectors: each row lists the
n-grams of its window width that excite it most on a training sample (with how often each
occurs there), and labels it earned: a property's name when at least 70% of its 100 highest
activations on validation text have the property, none otherwise. A filter *fires* above its
99th-percentile activation on validation text (p99). **Units** are the GRU's outputs: pick a
property to list the units most correlated with it (Pearson's r; point-biserial for yes/no
properties), and click one to see it on text (Karpathy et al. 2015's cell view). To watch a unit
on your own generated text, choose "GRU unit" as the colouring in the Generate tab."""


class FilterOutputs(NamedTuple):
    summary: Any
    table: Any


class UnitOutputs(NamedTuple):
    units: Any  # the radio of units for the chosen property
    numbers: Any  # the same units with r, as a table
    cell: Any  # the unit's view on text, cleared until one is picked


class InsideHandlers:
    """The Inside tab's handlers, over the tables loaded at start."""

    def __init__(self, models: Models):
        self.models = models
        self.tables: dict[str, InsideTable] = {}
        self.problems: dict[str, str] = {}
        for name, bundle in models.bundles.items():
            try:
                self.tables[name] = table_for(bundle)
            except InsideTableError as e:
                self.problems[name] = str(e)

    @property
    def names(self) -> list[str]:
        return list(self.tables)

    def table(self, name) -> InsideTable:
        if isinstance(name, str) and name in self.tables:
            return self.tables[name]
        if isinstance(name, str) and name in self.problems:
            raise InputError(f"{name} has no Inside table: {self.problems[name]}")
        raise InputError(f"Unknown model {name!r}: choose one of {', '.join(self.names)}.")

    def filters(self, name) -> FilterOutputs:
        """The filter table of model ``name``: one row per filter."""
        t = self.table(name)
        summary = t.summary()
        if t.left_out:
            summary += f"\n\n**{name} has no filter table.** {t.left_out}"
        rows = [[f["id"], f["bank"], f["window"], _labels(f), _ngrams(f), f["p99"], f["active"]]
                for f in t.filters]
        return FilterOutputs(summary=summary, table=rows)

    def search(self, name, query) -> list[list]:
        """The filters of ``name`` that fire on ``query``: above their p99 on some window of it."""
        t = self.table(name)
        query = text_input(query, "n-gram", MAX_SEARCH_CHARS, min_chars=1)
        if not t.filters:
            raise InputError(f"{name} has no character filters. {t.left_out or ''}".strip())
        bundle = self.models.get(name)
        if unknown := bundle.vocab.unknown(query):  # a filter has no weights for them
            raise InputError(f"The n-gram has character(s) {name} never saw in training: "
                             + " ".join(map(repr, unknown[:12])) + ". Remove them.")
        narrowest = min(f["window"] for f in t.filters)
        if len(query) < narrowest:
            raise InputError(f"No filter of {name} is narrower than {narrowest} characters: "
                             f"type at least {narrowest}.")
        hits = firing(bundle, t, query)
        labels = {f["id"]: _labels(f) for f in t.filters}
        return [[h["id"], h["window"], labels[h["id"]], h["at"], h["activation"], h["p99"],
                 h["ratio"]] for h in hits]

    def search_on_switch(self, name, query) -> list[list]:
        """The search's hits for the model just picked: the old model's filter ids would point
        at other filters in the new one's table. No hits while the search box is empty or the
        model has no filters (nothing to find, and no error for merely switching)."""
        if not (query or "").strip() or not self.table(name).filters:
            return []
        return self.search(name, query)

    def units(self, name, prop) -> UnitOutputs:
        """The units of ``name`` most correlated with property ``prop``."""
        t = self.table(name)
        if prop not in t.unit_properties:
            raise InputError(f"Unknown property {prop!r}: choose one of "
                             f"{', '.join(t.unit_properties)}.")
        top = t.unit_properties[prop]["top"]
        choices = [(f"unit {u} (r = {r:+.2f})", u) for u, r in top]
        return UnitOutputs(units=gr.update(choices=choices, value=None), numbers=top,
                           cell=message_html("Pick a unit above to see it on text."))

    def units_on_switch(self, name, prop) -> tuple:
        """The property list of the model just picked (its table may list others), keeping
        ``prop`` where it has it, and its units for that property."""
        props = list(self.table(name).unit_properties)
        keep = prop if prop in props else props[0]
        return (gr.update(choices=props, value=keep), *self.units(name, keep))

    def unit_list(self, name: str, prop: str) -> list[list]:
        """[[unit, r], ...]: the units of ``name`` most correlated with ``prop``, as numbers."""
        return self.units(name, prop).numbers

    def unit_values(self, name: str, unit: int, text: str = "",
                    replace_unknown: bool = False) -> dict:
        """Unit ``unit``'s output at every character of ``text`` (empty: the validation excerpt
        stored with the table); characters the model never saw are refused by name, or
        replaced if ``replace_unknown``, as everywhere else."""
        bundle = self.models.get(name)
        t = self.table(name)
        unit = number(unit, "unit", 0, t.data["units"]["count"] - 1, integer=True)
        if text:
            text = known_characters(text_input(text, "text", MAX_UNIT_CHARS), bundle.vocab,
                                    "text", flag(replace_unknown, "replace_unknown"))
        else:
            text = t.excerpt
        values = unit_outputs(bundle, text, unit)
        return {"model": name, "unit": unit, "text": text,
                "values": [round(float(v), 3) for v in values]}

    def unit_view(self, name, unit) -> str:
        """The validation excerpt coloured by one unit's output (the cell view)."""
        if unit is None or unit == "":
            return message_html("Pick a unit above to see it on text.")
        numbers = self.unit_values(name, unit)
        return unit_html(numbers["text"], np.asarray(numbers["values"]),
                         f"{name}, unit {numbers['unit']}, on validation text")


def _labels(f: dict) -> str:
    return ", ".join(f"{name} ({share:.0%})" for name, share in f["labels"]) or "no label"


def _ngrams(f: dict) -> str:
    show = lambda s: s.replace("\n", "⏎").replace(" ", "␣")  # noqa: E731
    return "  ".join(f"{show(g)} ({n})" for g, n, _ in f["top"])


def render(models: Models) -> None:
    """Build the tab inside the current ``gr.Tab`` and wire its events."""
    handlers = InsideHandlers(models)
    gr.Markdown(HELP)
    if not handlers.names:
        gr.Markdown("No model has an Inside table: " + "; ".join(handlers.problems.values()))
        return
    if handlers.problems:
        gr.Markdown("Not shown here: " + "; ".join(handlers.problems.values()))
    default = next((n for n in ("hybrid", "cnn-pre") if n in handlers.tables), handlers.names[0])
    first = handlers.filters(default)
    name = gr.Dropdown(handlers.names, value=default, label="model", elem_id="inside-model")
    summary = gr.Markdown(first.summary, elem_id="inside-summary")
    with gr.Accordion("Filters", open=True):
        table = gr.Dataframe(first.table, headers=FILTER_HEADERS, interactive=False,
                             elem_id="inside-filters", max_height=360, wrap=True,
                             column_widths=["6%", "10%", "6%", "22%", "42%", "7%", "7%"])
        with gr.Row():
            query = gr.Textbox(label="filter search: type an n-gram", elem_id="inside-query",
                               max_length=MAX_SEARCH_CHARS, scale=3)
            search = gr.Button("Which filters fire?", elem_id="inside-search-btn", scale=1)
        found = gr.Dataframe(headers=SEARCH_HEADERS, interactive=False, elem_id="inside-found",
                             label="filters above their p99 on a window of what you typed "
                                   "(a filter wider than it is not tested)")
    with gr.Accordion("GRU units", open=True):
        props = list(handlers.tables[default].unit_properties)
        prop = gr.Dropdown(props, value=props[0], label="property", elem_id="inside-property")
        start_units = handlers.units(default, props[0])
        with gr.Row():
            units = gr.Radio(start_units.units["choices"], label="units most correlated with it",
                             elem_id="inside-units", scale=2)
            unit_numbers = gr.Dataframe(start_units.numbers, headers=UNIT_HEADERS,
                                        interactive=False, elem_id="inside-unit-numbers", scale=1)
        cell = coloured_view("inside-cell", "the unit on text")
    wire(name.change, with_clear_errors(handlers.filters), name,
         list(FilterOutputs(summary=summary, table=table)), api_name="inside_filters",
         workers="files")
    wire(search.click, with_clear_errors(handlers.search), [name, query], found,
         api_name="filter_search")
    wire(query.submit, with_clear_errors(handlers.search), [name, query], found)
    wire(name.change, with_clear_errors(handlers.search_on_switch), [name, query], found)
    unit_views = list(UnitOutputs(units=units, numbers=unit_numbers, cell=cell))
    wire(name.change, with_clear_errors(handlers.units_on_switch), [name, prop],
         [prop, *unit_views])
    wire(prop.change, with_clear_errors(handlers.units), [name, prop], unit_views)
    wire(gr.api, with_clear_errors(handlers.unit_list), api_name="inside_units")
    wire(units.change, with_clear_errors(handlers.unit_view), [name, units], cell,
         api_name="unit_view")
    wire(gr.api, with_clear_errors(handlers.unit_values), api_name="unit_values")
