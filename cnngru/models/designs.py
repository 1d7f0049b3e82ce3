"""Each strategy's candidate designs, and the one its shipped checkpoints use.

A design is a named set of config overrides. The study (``cnngru reproduce``) trains every
candidate of every strategy alike and keeps the best on validation; ``SHIPPED`` records its
choice, and ``cnngru train`` builds that design unless told another. Every design grows with
``hidden``, so ``build_model(strategy, vocab_size, params, **overrides)`` sizes any of them to
any budget.
"""

from __future__ import annotations

import copy

# The same number per strategy (equal effort); the first of each is the config defaults.
CANDIDATES: dict[str, dict[str, dict]] = {
    "gru": {
        "one-layer": {},
        "two-layers": {"layers": 2},  # depth instead of width; dropout between the layers
        "dropout-0.25": {"dropout": 0.25},  # the GRU overfits Shakespeare before it converges
    },
    "cnn-pre": {
        "ngram-highway": {},  # Kim et al. 2016's character n-gram CNN beside the embedding
        "depthwise4": {"form": "depthwise"},  # Mamba / Griffin / RWKV short conv: ~320 params
        "depthwise4-ngram": {"form": "depthwise+ngram"},  # the short conv, then n-grams over it
    },
    "cnn-post": {
        "dilated-rf15": {},  # dilations 1, 2, 4: the last 15 GRU outputs
        "dilated-rf63": {"dilations": (1, 2, 4, 8, 16)},  # a word or two: the last 63
        "embed-gru-rf15": {"placement": "embed+gru"},  # the stack sees the characters too
    },
    "hybrid": {
        "cnn-window32": {},  # CNN features of the last 32 positions, reliance gate
        # the seed's design made causal: CNN features and past GRU states, 256 back, three-way
        "cnn-memory256": {"sources": ("cnn", "memory"), "window": 256, "gate": "split"},
        # the long window without the memory: does the reach or the GRU memory pay?
        "cnn-window256": {"window": 256, "gate": "split"},
    },
}

# The design behind each shipped checkpoint and ``cnngru.VARIANTS``. Until the study's 1M scale
# is finished these are the previous study's designs, which the shipped checkpoints were trained
# with; once this study ships its own, they become its selection (results/results.json
# "candidates"), and a test holds the two equal from then on.
SHIPPED: dict[str, str] = {
    "gru": "one-layer",
    "cnn-pre": "ngram-highway",
    "cnn-post": "dilated-rf15",
    "hybrid": "cnn-window32",
}


def candidates(strategy: str) -> dict[str, dict]:
    """The candidate designs of ``strategy``: name -> config overrides (copies), defaults first."""
    if strategy not in CANDIDATES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(CANDIDATES)}")
    return copy.deepcopy(CANDIDATES[strategy])


def design_overrides(variant: str, design: str | None = None) -> dict:
    """The config overrides of ``variant``'s ``design`` (None: the shipped one). A model without
    candidates (the transformer, the refiner) has only its defaults."""
    if variant not in CANDIDATES:
        if design is not None:
            raise ValueError(f"{variant} has no candidate designs")
        return {}
    table = candidates(variant)
    design = design or SHIPPED[variant]
    if design not in table:
        raise ValueError(f"unknown {variant} design {design!r}; choose one of {', '.join(table)}")
    return table[design]
