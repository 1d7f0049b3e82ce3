"""How much the refiner helps, measured: error rates on held-out text, real words in samples.

Two questions, two measurements:

* **Can it undo known noise?** Held-out text (the test plays) is corrupted at 2%, 5% and 10%
  and refined; the character error rate (Levenshtein distance / reference length) is reported
  before and after, for substitutions (what it was trained on) and for insertions/deletions
  (out of scope: it cannot change a text's length, so at best it leaves them alone). Also: how
  much of *clean* held-out text it changes, and how long 2,000 characters take.
* **Does it improve generated text?** Samples from each language model at temperatures 0.8 and
  1.2: the share of their words found in the training word list, before and after, and the harm
  rate, the share of already-real words it edited.

    python -m cnngru.refiner.metrics            # prints the figures (JSON, then a table)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import torch

from ..checkpoint import Bundle, CheckpointError
from ..sample_quality import WORD, real_word_rate
from .noise import Noise
from .refine import DEFAULT_THRESHOLD, load_refiner, refine

NOISE_LEVELS = (0.02, 0.05, 0.10)
TEMPERATURES = (0.8, 1.2)
BLOCK = 2000  # held-out text is corrupted, refined and scored in blocks of about this size
PROMPTS = ("\n", "KING\n", "First Lord\n", "Enter ")  # sample i starts from PROMPTS[i % 4]


def levenshtein(a: str, b: str) -> int:
    """Edit distance (unit-cost insertions, deletions, substitutions), one NumPy row at a time."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    bs = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    cols = np.arange(len(b) + 1)
    row = cols.copy()
    for i, ch in enumerate(a, start=1):
        sub = row[:-1] + (bs != ord(ch))  # substitute (or match)
        new = np.empty_like(row)
        new[0] = i
        new[1:] = np.minimum(row[1:] + 1, sub)  # delete
        row = np.minimum.accumulate(new - cols) + cols  # insert: new[j] = min(new[j], new[j-1]+1)
    return int(row[-1])


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of ``hypothesis`` against ``reference``."""
    return levenshtein(reference, hypothesis) / max(1, len(reference))


def blocks(text: str, size: int = BLOCK, max_chars: int | None = None) -> list[str]:
    """``text`` cut at line ends into pieces of about ``size`` characters (up to ``max_chars``)."""
    out, start = [], 0
    limit = len(text) if max_chars is None else min(len(text), max_chars)
    while start < limit:
        end = text.find("\n", start + size)
        end = limit if end == -1 or end > limit else end + 1
        out.append(text[start:end])
        start = end
    return out


def heldout_figures(bundle: Bundle, text: str, levels: Sequence[float] = NOISE_LEVELS,
                    max_chars: int = 40_000, threshold: float = DEFAULT_THRESHOLD,
                    seed: int = 0) -> dict:
    """Error rates before/after refining corrupted ``text``, and the change rate on it clean."""
    noise = Noise(bundle.vocab)
    pieces = blocks(text, max_chars=max_chars)
    chars = sum(map(len, pieces))
    clean_changes = sum(len(refine(p, bundle, threshold).edits) for p in pieces)
    rows = []
    for level in levels:
        for kind in ("substitution", "insertion/deletion"):
            before = after = fixed = broken = 0
            for i, clean in enumerate(pieces):
                s = seed * 1000 + i
                noisy = noise.substitute(clean, level, s) if kind == "substitution" \
                    else noise.indels(clean, level, s)
                refined = refine(noisy, bundle, threshold).text
                before += levenshtein(clean, noisy)
                after += levenshtein(clean, refined)
                if kind == "substitution":  # same length: count fixes and new errors directly
                    fixed += sum(n != c == r for c, n, r in zip(clean, noisy, refined, strict=True))
                    broken += sum(n == c != r for c, n, r in zip(clean, noisy, refined, strict=True))
            row = {"noise": level, "kind": kind, "cer_before": round(before / chars, 5),
                   "cer_after": round(after / chars, 5)}
            if kind == "substitution":
                row |= {"errors_fixed": fixed, "errors_made": broken}
            rows.append(row)
    return {"chars": chars, "threshold": threshold, "cer": rows,
            "clean_change_rate": round(clean_changes / chars, 5)}


def refine_seconds(bundle: Bundle, text: str, chars: int = 2000, repeats: int = 7) -> float:
    """Median wall time to refine ``chars`` characters of ``text``."""
    piece = text[:chars]
    refine(piece, bundle)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        refine(piece, bundle)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def word_figures(before: str, after: str, edits: Collection[int], words: Collection[str]) -> dict:
    """Real-word rate of a text before and after refining, and how many real words it edited."""
    real = [m for m in WORD.finditer(before.lower()) if m.group() in words]
    harmed = sum(any(m.start() <= p < m.end() for p in edits) for m in real)
    return {"real_word_rate_before": round(real_word_rate(before, words), 4),
            "real_word_rate_after": round(real_word_rate(after, words), 4),
            "harm_rate": round(harmed / max(1, len(real)), 4),
            "real_words": len(real), "edits_per_1000_chars": round(1000 * len(edits) / max(1, len(before)), 2)}


def sample_figures(refiner: Bundle, lm: Bundle, words: Collection[str],
                   temperatures: Sequence[float] = TEMPERATURES, samples: int = 8,
                   sample_chars: int = 500, threshold: float = DEFAULT_THRESHOLD,
                   seed: int = 0) -> dict:
    """``word_figures`` of ``samples`` generations per temperature, pooled."""
    from ..generation import generate

    out = {}
    for t in temperatures:
        texts = ["".join(step.char for step in generate(lm, PROMPTS[i % len(PROMPTS)],
                                                        max_new_tokens=sample_chars, temperature=t,
                                                        seed=seed + i))
                 for i in range(samples)]
        joined = "\n".join(texts)  # scored together, refined one by one
        results = [refine(x, refiner, threshold) for x in texts]
        offsets = np.cumsum([0] + [len(x) + 1 for x in texts])
        edits = [int(offsets[k]) + e.position for k, r in enumerate(results) for e in r.edits]
        out[str(t)] = word_figures(joined, "\n".join(r.text for r in results), edits, words)
    return out


def measure_refiner(refiner_bundle: Bundle, lm_bundles: Mapping[str, Bundle],
                    words: Collection[str], *, heldout: str | None = None,
                    levels: Sequence[float] = NOISE_LEVELS,
                    temperatures: Sequence[float] = TEMPERATURES, heldout_chars: int = 40_000,
                    samples: int = 8, sample_chars: int = 500,
                    threshold: float = DEFAULT_THRESHOLD, seed: int = 0) -> dict:
    """Every refiner figure, JSON-able: held-out error rates, speed, and per variant samples.

    ``heldout`` defaults to the test split (unseen plays) of the Shakespeare corpus; ``words`` is
    the training word list (``Corpus.words()``).
    """
    if heldout is None:
        from ..corpus import load_shakespeare

        heldout = load_shakespeare().test
    return {
        "refiner": {"path": str(refiner_bundle.path), "params": sum(
            p.numel() for p in refiner_bundle.model.parameters()),
            "train_chars": refiner_bundle.metadata.get("train_chars")},
        "heldout": heldout_figures(refiner_bundle, heldout, levels, heldout_chars, threshold, seed),
        "refine_2000_chars_s": round(refine_seconds(refiner_bundle, heldout), 4),
        "torch_threads": torch.get_num_threads(),
        "samples": {name: sample_figures(refiner_bundle, lm, words, temperatures, samples,
                                         sample_chars, threshold, seed)
                    for name, lm in lm_bundles.items()},
        "settings": {"threshold": threshold, "samples": samples, "sample_chars": sample_chars,
                     "prompts": list(PROMPTS), "seed": seed},
    }


def markdown(figures: dict) -> str:
    """The figures as two Markdown tables."""
    lines = ["| noise | kind | CER before | CER after |", "|---|---|---|---|"]
    for r in figures["heldout"]["cer"]:
        lines.append(f"| {r['noise']:.0%} | {r['kind']} | {r['cer_before']:.2%} | {r['cer_after']:.2%} |")
    lines += ["", f"Clean held-out text changed: {figures['heldout']['clean_change_rate']:.2%} of "
              f"characters; 2,000 characters refined in {figures['refine_2000_chars_s']:.3f} s "
              f"({figures['torch_threads']} CPU thread(s)).", "",
              "| variant | temperature | real words before | after | harm rate |", "|---|---|---|---|---|"]
    for name, per_t in figures["samples"].items():
        for t, f in per_t.items():
            lines.append(f"| {name} | {t} | {f['real_word_rate_before']:.1%} | "
                         f"{f['real_word_rate_after']:.1%} | {f['harm_rate']:.2%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from ..checkpoint import load
    from ..corpus import load_shakespeare
    from ..models import VARIANTS

    p = argparse.ArgumentParser(prog="python -m cnngru.refiner.metrics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--refiner", default="refiner", help="checkpoint name or folder")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS),
                   help="language models to sample: shipped names or checkpoint folders")
    p.add_argument("--heldout-chars", type=int, default=40_000)
    p.add_argument("--samples", type=int, default=8, help="samples per variant and temperature")
    p.add_argument("--sample-chars", type=int, default=500)
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is faster on a machine busy with other work)")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    refiner = load_refiner(args.refiner)
    lms = {}
    for name in args.variants:
        try:
            bundle = load(name)
        except CheckpointError as e:
            print(f"skipping {name}: {e}", file=sys.stderr)
            continue
        lms[name if name in VARIANTS else bundle.variant] = bundle
    corpus = load_shakespeare()
    figures = measure_refiner(refiner, lms, corpus.words(), heldout=corpus.test,
                              heldout_chars=args.heldout_chars, samples=args.samples,
                              sample_chars=args.sample_chars, threshold=args.threshold)
    text = json.dumps(figures, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)
    print()
    print(markdown(figures))


if __name__ == "__main__":
    main()
