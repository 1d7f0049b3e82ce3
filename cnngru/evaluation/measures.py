"""What the results table measures of a checkpoint beside its score (``scoring.py``): sample
quality and generation speed; and ``cnngru eval``, which prints them all, with intervals
(``intervals.py``)."""

from __future__ import annotations

import math
import time

import numpy as np

from ..batched_generation import engine_for, read_together
from ..checkpoint import Bundle
from ..generation import generate
from ..models import VARIANTS
from ..sample_quality import distinct_n, real_word_rate, repetition
from .intervals import bootstrap_bpc, paired_difference
from .scoring import chunk_sums, text_nll

SAMPLE_PROMPTS = ("ROMEO.\n", "First Citizen.\nBefore we proceed", "KING.\nWhat says", "Enter ")


def sample_stats(bundle: Bundle, words: frozenset[str], temperature: float = 0.8,
                 samples: int = 8, length: int = 500) -> dict:
    """Seeded samples from fixed prompts, generated together in one batch: real-word rate,
    distinct-2/3, repetition (averaged). Seed i writes the text ``generate`` gives it alone."""
    requests = [dict(prompt=SAMPLE_PROMPTS[seed % len(SAMPLE_PROMPTS)], seed=seed)
                for seed in range(samples)]
    if bundle.variant in VARIANTS:
        engine = engine_for(bundle)
        texts = read_together([engine.generate(**r, max_new_tokens=length,
                                               temperature=temperature) for r in requests])
    else:  # an architecture without a batched step: one after another
        texts = ["".join(step.char for step in generate(bundle, **r, max_new_tokens=length,
                                                          temperature=temperature))
                 for r in requests]
    rows = [(real_word_rate(text, words), distinct_n(text, 2), distinct_n(text, 3),
             repetition(text)) for text in texts]
    mean = np.mean(rows, axis=0)
    return {"temperature": temperature, "real_word_rate": float(mean[0]),
            "distinct_2": float(mean[1]), "distinct_3": float(mean[2]), "repetition": float(mean[3])}


def generation_speed(bundle: Bundle, chars: int = 2000, repeats: int = 3) -> float:
    """Characters per second at batch 1 on one thread, diagnostics off (median of ``repeats``)."""
    from ..threads import pinned

    with pinned(1):
        rates = [_chars_per_second(bundle, chars, seed) for seed in range(repeats)]
    return float(np.median(rates))


def _chars_per_second(bundle: Bundle, chars: int, seed: int) -> float:
    gen = generate(bundle, "ROMEO.\n", max_new_tokens=chars, seed=seed)
    t0 = time.perf_counter()
    for _ in gen:
        pass
    return chars / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    """``cnngru eval``: test BPC with intervals, paired differences, samples and speed."""
    import argparse

    from .. import checkpoint
    from ..corpus import load_corpus, parse_split
    from ..models import VARIANTS

    p = argparse.ArgumentParser(prog="cnngru eval", description=__doc__)
    p.add_argument("models", nargs="*", default=list(VARIANTS), help="names or checkpoint folders")
    p.add_argument("--corpus", default="shakespeare")
    p.add_argument("--split", default=None, help="ratios for a text-file corpus")
    p.add_argument("--baseline", default=None, help="paired differences against this model "
                   "(default: the first one)")
    p.add_argument("--no-samples", action="store_true", help="skip sample statistics and speed")
    args = p.parse_args(argv)
    corpus = load_corpus(args.corpus, parse_split(args.split) if args.split else None)
    words = corpus.words()
    baseline = args.baseline or args.models[0]
    sums, t0 = {}, time.perf_counter()
    bundles = {m: checkpoint.load(m) for m in dict.fromkeys([baseline, *args.models])}
    for name, bundle in bundles.items():
        sums[name], counts = chunk_sums(text_nll(bundle, corpus.test))
    print(f"test split: {int(counts.sum()):,} characters, evaluated in "
          f"{time.perf_counter() - t0:.1f} s")
    for name, bundle in bundles.items():
        bpc = sums[name].sum() / counts.sum() / math.log(2)
        lo, hi = bootstrap_bpc(sums[name], counts)
        line = f"{name:>12}: {bpc:.4f} BPC (95% CI {lo:.4f}-{hi:.4f})"
        if name != baseline:
            d, dlo, dhi = paired_difference(sums[name], sums[baseline], counts)
            line += f", vs {baseline} {d:+.4f} ({dlo:+.4f}, {dhi:+.4f})"
        if not args.no_samples:
            stats = sample_stats(bundle, words)
            line += (f", real words {stats['real_word_rate']:.1%}, distinct-2 "
                     f"{stats['distinct_2']:.3f}, repetition {stats['repetition']:.3f}")
            if bundle.variant in VARIANTS:
                line += f", {generation_speed(bundle):,.0f} chars/s"
        print(line)
