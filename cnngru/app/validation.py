"""Checking what a request asks for, with messages a person can act on.

The demo's events run with ``preprocess=False``: Gradio's own checks would answer a bad value
with "Value 5 is greater than maximum value 2." (which setting?) or, for a word where a number
belongs, with its generic "the upstream app has raised an exception". Here every value is checked
by name, and the handlers turn an ``InputError`` into a ``gr.Error`` with its message.
Validation stays inside the handlers rather than in a Gradio ``validator=``, because Gradio 6.31
skips the queue's size bound for events that have a validator.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..sampling import MIN_TEMPERATURE
from ..vocab import Vocab

MAX_PROMPT_CHARS = 4_000  # read in one pass; the figures cover prompt and text
MAX_NEW_TOKENS = 2_000  # per request; "continue" adds more
MAX_COMPARE_TOKENS = 1_000  # per model: Compare runs every model, so its requests cost 4x more
MAX_TEXT_CHARS = 12_000  # prompt plus every continuation: the analysis rereads it all
MAX_SCORE_CHARS = 5_000  # read by every model
MAX_SEED = 2**32 - 1
MAX_TEMPERATURE = 2.0


class InputError(ValueError):
    """A request the demo refuses; its message is shown to the user as it is."""


@dataclass(frozen=True)
class GenerationRequest:
    """Validated generation settings (names as in Hugging Face ``GenerationConfig``)."""

    max_new_tokens: int
    temperature: float
    top_k: int
    top_p: float
    seed: int


def number(value, name: str, lo: float, hi: float, integer: bool = False,
           lo_open: bool = False, meaning: str = "") -> float | int:
    """``value`` as a number within [lo, hi] (or (lo, hi]), from a number or a numeric string."""
    kind = "a whole number" if integer else "a number"
    span = (f"greater than {lo:g} and at most {hi:g}" if lo_open else f"from {lo:g} to {hi:g}")
    problem = InputError(f"{name} must be {kind} {span}{meaning}, not {_show(value)}.")
    if isinstance(value, bool) or value is None:
        raise problem
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise problem from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise problem
    if integer:
        if value != int(value):
            raise problem
        value = int(value)
    if value > hi or value < lo or (lo_open and value == lo):
        raise problem
    return value


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def temperature_value(temperature) -> float:
    """0 (greedy), or from MIN_TEMPERATURE up: a smaller one overflows the logits."""
    t = number(temperature, "temperature", 0, MAX_TEMPERATURE, meaning=" (0: greedy)")
    if 0 < t < MIN_TEMPERATURE:
        raise InputError(f"temperature must be 0 (greedy) or at least {MIN_TEMPERATURE}, not "
                         f"{_show(temperature)}.")
    return t


def seed_value(seed) -> int:
    """A seed for the draws; none (empty) picks one at random, to be shown so it can be reused."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return random.randrange(MAX_SEED + 1)
    return number(seed, "seed", 0, MAX_SEED, integer=True, meaning=" (empty: random)")


def generation_request(max_new_tokens, temperature, top_k, top_p, seed, vocab_size: int,
                       max_tokens: int = MAX_NEW_TOKENS) -> GenerationRequest:
    return GenerationRequest(
        max_new_tokens=number(max_new_tokens, "max_new_tokens", 1, max_tokens, integer=True),
        temperature=temperature_value(temperature),
        top_k=number(top_k, "top_k", 0, vocab_size, integer=True, meaning=" (0: off)"),
        top_p=number(top_p, "top_p", 0, 1, lo_open=True, meaning=" (1: off)"),
        seed=seed_value(seed),
    )


def text_input(text, name: str, max_chars: int, min_chars: int = 1) -> str:
    """A string of ``min_chars`` to ``max_chars`` characters (checked before anything reads it)."""
    if not isinstance(text, str):
        raise InputError(f"The {name} must be text, not {_show(text)}.")
    if not text:
        raise InputError(f"The {name} is empty: type at least {min_chars} character"
                         f"{'s' if min_chars > 1 else ''} to start from.")
    if len(text) > max_chars:
        raise InputError(f"The {name} is {len(text):,} characters long; the demo takes up to "
                         f"{max_chars:,}.")
    if len(text) < min_chars:
        raise InputError(f"The {name} needs at least {min_chars} characters.")
    return text


def known_characters(text: str, vocab: Vocab, name: str, replace: bool) -> str:
    """``text`` if the model knows all its characters; else replaced or refused, naming them."""
    unknown = vocab.unknown(text)
    if not unknown:
        return text
    if replace:
        return vocab.clean(text, "replace")
    shown = " ".join(repr(c) for c in unknown[:12]) + (" ..." if len(unknown) > 12 else "")
    raise InputError(f"The {name} has {len(unknown)} character(s) the model never saw in "
                     f"training: {shown}. Remove them, or tick \"replace unknown characters\".")


def flag(value, name: str) -> bool:
    """A checkbox value; API callers may send true/false."""
    if isinstance(value, bool):
        return value
    raise InputError(f"{name} must be true or false, not {_show(value)}.")
