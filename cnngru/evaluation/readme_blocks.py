"""Blocks of the README that code writes: numbers there come from files, never typed by hand.

A block sits between ``<!-- NAME:start ... -->`` and ``<!-- NAME:end -->``; ``tests`` check
that each block equals what its command last wrote to ``results/``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..paths import README, RESULTS_DIR


def _span(text: str, name: str) -> tuple[int, int]:
    start = re.search(rf"<!-- {re.escape(name)}:start[^>]*-->", text)
    end = text.find(f"<!-- {name}:end -->")
    if not start or end < start.end():
        raise ValueError(f"README has no '{name}' block")
    return start.end(), end


def read_block(name: str, readme: Path = README) -> str:
    text = readme.read_text(encoding="utf-8")
    a, b = _span(text, name)
    return text[a:b].strip("\n")


def write_block(name: str, md: str, readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8")
    a, b = _span(text, name)
    readme.write_text(text[:a] + "\n" + md.strip("\n") + "\n" + text[b:], encoding="utf-8")


def write_result(results: Path, name: str, md: str) -> None:
    """``results/NAME.md``, and the README's block of that name when ``results`` is the
    repository's own (a smoke run or a test writes elsewhere and leaves the README alone)."""
    (results / f"{name}.md").write_text(md + "\n")
    if results.resolve() == RESULTS_DIR.resolve():
        write_block(name, md)
