"""``cnngru study``: the four strategies trained on any text within a time budget each, then the
question answered for that text. The "Your text" tab runs the same code.

    cnngru study my.txt --budget 1min --out my-models/

- The budget per strategy becomes training characters from the slowest variant's throughput on
  one thread (measured once per process and size), so every strategy sees the same characters.
- The model size suits the text and the budget (100k-300k parameters, the same for all four);
  the batch, learning rate and warmup are the CPU recipe's for those characters.
- The strategies train in turns, an equal slice each, validating after every slice: a stop
  leaves all four at the same point, with curves to show.
- Validation and test are one block in ten each, spread over the text (``split_in_blocks``).
- The table: validation BPC with a chunk-bootstrap interval, the difference from ``gru`` on the
  same chunks. One seed per strategy, so a difference is a tie unless it is clearly larger than
  training randomness (``TIE_MARGIN``).
"""

from __future__ import annotations

import functools
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..corpus import Corpus
from ..models import VARIANTS
from ..training import TrainConfig
from ..training.cpu_recipe import cpu_recipe
from .intervals import bootstrap_bpc, paired_difference
from .scoring import chunk_sums

MIN_CHARS, MAX_CHARS = 10_000, 5_000_000
# The text is cut into about 100 blocks; of every ten, one validates, one tests and eight train,
# so validation covers every part of the text. A contiguous tail misleads on short texts: the
# last tenth of the GPL (how to apply it) is unlike the rest, and a 100k GRU scored 3.13 BPC on
# it against 2.28 on blocks spread over the text, with the same training.
BLOCKS, VALIDATION_BLOCK, TEST_BLOCK = 100, 4, 9
PARAMS = (100_000, 300_000)  # the smallest and largest model trained
CHARS_PER_PARAM = 20  # a budget of C characters trains about C / 20 parameters (within PARAMS)
TEXT_PER_PARAM = 0.5  # and a text of N training characters at most 2 N parameters
SLICES = 12  # turns each strategy gets (a validation after each: the curves' points)
# One seed per strategy, so a small difference is a tie. At a reduced budget (3.1M characters,
# 3 seeds) the standard deviation of test BPC across seeds was 0.010-0.034 for four models and
# 0.079 for the hybrid (results.json "rows" "seeds"): 0.05 is about twice the usual spread.
TIE_MARGIN = 0.05
BUDGETS = {"30s": 30, "1min": 60, "3min": 180}


class TextError(ValueError):
    """The text cannot be studied; the message says why and what would do."""


def check_text(text: str) -> str:
    """The text, if a study can be made of it (line ends normalised)."""
    if not isinstance(text, str):
        raise TextError("give the text as a string of characters")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise TextError("the text is empty: paste or upload at least "
                        f"{MIN_CHARS:,} characters")
    if len(text) < MIN_CHARS:
        raise TextError(f"the text has {len(text):,} characters; a study needs at least "
                        f"{MIN_CHARS:,} (validation and test each get a tenth)")
    if len(text) > MAX_CHARS:
        raise TextError(f"the text has {len(text):,} characters; the limit is {MAX_CHARS:,}: "
                        "cut it, or train with `cnngru train` on the command line")
    if len(set(text)) < 2:
        raise TextError("the text is one character repeated: there is nothing to predict")
    return text


def split_in_blocks(name: str, text: str, source: str) -> Corpus:
    """The text as a corpus: blocks 4 and 9 of every ten validate and test, the rest trains."""
    size = min(2000, max(100, len(text) // BLOCKS))
    blocks = [text[i:i + size] for i in range(0, len(text), size)]
    parts = {role: "".join(b for k, b in enumerate(blocks) if k % 10 in keep)
             for role, keep in (("train", set(range(10)) - {VALIDATION_BLOCK, TEST_BLOCK}),
                                ("validation", {VALIDATION_BLOCK}), ("test", {TEST_BLOCK}))}
    return Corpus.from_texts(name, parts["train"], parts["validation"], parts["test"], source)


@dataclass(frozen=True)
class Plan:
    """What each strategy trains: its size, characters and recipe."""

    params: int
    chars: int
    batch_size: int
    seq_len: int
    lr: float
    warmup_steps: int
    chars_per_s: float  # the slowest variant's, at this size, on one thread

    @property
    def steps(self) -> int:
        return max(1, self.chars // (self.batch_size * self.seq_len))


@functools.lru_cache(maxsize=16)
def slowest_rate(params: int, vocab_size: int, batch_size: int, seq_len: int) -> float:
    """Training characters/s of the slowest variant at this size, on one thread (cached)."""
    import torch

    from ..training.throughput import measure, trainer_for

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rng = np.random.default_rng(0)
        chars = "".join(chr(0x21 + i) for i in range(vocab_size))
        text = "".join(rng.choice(list(chars), 200_000))
        corpus = Corpus.from_texts("measure", text[:180_000], text[180_000:190_000],
                                   text[190_000:], "random characters")
        return min(measure(trainer_for(v, params, corpus, batch_size, seq_len), seconds=1.0)
                   for v in VARIANTS)
    finally:
        torch.set_num_threads(previous)


def plan_for(corpus: Corpus, seconds: float, rate=slowest_rate) -> Plan:
    """The plan for ``seconds`` of training per strategy on ``corpus`` (measured at the smallest
    size first, then again at the chosen size if it differs)."""
    vocab = len(corpus.vocab)

    def fit(params: int) -> tuple[int, int, object, float]:
        recipe = cpu_recipe(None)
        r = rate(params, vocab, recipe.batch_size, recipe.seq_len)
        chars = int(r * seconds)
        recipe = cpu_recipe(chars)
        if recipe.batch_size != cpu_recipe(None).batch_size:
            r = rate(params, vocab, recipe.batch_size, recipe.seq_len)
            chars = int(r * seconds)
        return chars, params, recipe, r

    chars, params, recipe, r = fit(PARAMS[0])
    wanted = int(min(chars / CHARS_PER_PARAM, len(corpus.train) / TEXT_PER_PARAM))
    wanted = int(min(max(wanted, PARAMS[0]), PARAMS[1]) // 10_000 * 10_000)
    if wanted != params:
        chars, params, recipe, r = fit(wanted)
    return Plan(params, chars, recipe.batch_size, recipe.seq_len, recipe.lr,
                recipe.warmup_steps, r)


@dataclass
class Progress:
    """One slice done: where every strategy stands."""

    strategy: str
    step: int
    steps: int
    val_bpc: float | None
    elapsed_s: float


class Interrupts:
    """Ctrl-C or SIGTERM during a study: the first asks it to stop after the round under way, so
    that all four strategies stop at one step (``on_first`` is told at once); a second stops it
    at once (KeyboardInterrupt). A trainer's run catches a signal itself and returns INTERRUPTED,
    which its caller passes on to ``note``; between runs ``caught()`` catches them."""

    def __init__(self, on_first: Callable[[], None] | None = None):
        self.count, self.on_first = 0, on_first

    def note(self) -> None:
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt
        if self.on_first:
            self.on_first()

    @contextmanager
    def caught(self):
        """While inside, the signals go to ``note`` (in the main thread: elsewhere, no change)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, lambda number, frame: self.note())
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def train_round_robin(corpus: Corpus, plan: Plan, out: Path,
                      on_progress: Callable[[Progress], None] | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      interrupts: Interrupts | None = None) -> dict[str, dict]:
    """Train the four strategies in turns, on one thread (as the plan measured); return each
    one's summary (stopped ones included). ``should_stop`` and a first interrupt stop it after
    the round under way: all four at one step, so the comparison stays fair."""
    from ..threads import pinned
    from ..training import language_model_run
    from ..training.snapshots import validations
    from ..training.trainer import INTERRUPTED

    interrupts = interrupts or Interrupts()
    slice_steps = max(1, math.ceil(plan.steps / SLICES))
    trainers = {}
    with pinned(1):
        for v in VARIANTS:
            config = TrainConfig(variant=v, corpus=corpus.name, params=plan.params,
                                 batch_size=plan.batch_size, seq_len=plan.seq_len,
                                 max_chars=plan.chars, lr=plan.lr, warmup_steps=plan.warmup_steps,
                                 eval_every=slice_steps, eval_chars=len(corpus.validation))
            trainers[v] = language_model_run(config, out / "runs" / v, progress=False,
                                             corpus=corpus)
            trainers[v].prepare()
        started = time.perf_counter()
        for until in range(slice_steps, plan.steps + slice_steps, slice_steps):
            for v, t in trainers.items():
                while t.run(until_step=until) == INTERRUPTED:  # then the rest of its slice
                    interrupts.note()
                if on_progress:  # the slice's own validation, so that overfitting shows
                    checks = validations(out / "runs" / v)
                    on_progress(Progress(v, t.step, plan.steps, checks[-1][1] if checks else None,
                                         time.perf_counter() - started))
            if interrupts.count or should_stop and should_stop():
                break
        stopped = any(t.step < plan.steps for t in trainers.values())
        return {v: {**t.finish(), "stopped": stopped} for v, t in trainers.items()}


def verdict(d: float, lo: float, hi: float) -> str:
    if hi < 0 and -d > TIE_MARGIN:
        return "helps"
    if lo > 0 and d > TIE_MARGIN:
        return "hurts"
    return "ties"


def evaluate(corpus: Corpus, out: Path) -> dict:
    """Every strategy's best model on the validation text: BPC, intervals, differences."""
    from .. import checkpoint
    from ..likelihood import nll_per_char

    chunk = max(50, len(corpus.validation) // 40)
    sums, rows = {}, []
    for v in VARIANTS:
        bundle = checkpoint.load(out / "runs" / v / "best", device="cpu")
        nll = nll_per_char(bundle.model, bundle.vocab.encode_tensor(corpus.validation), streams=16)
        sums[v], counts = chunk_sums(nll, chunk)
        lo, hi = bootstrap_bpc(sums[v], counts)
        rows.append({"name": v, "val_bpc": float(sums[v].sum() / counts.sum() / math.log(2)),
                     "val_bpc_ci": [lo, hi], "chars": bundle.metadata["run"]["chars"]
                     if "run" in bundle.metadata else bundle.metadata["train_chars"]})
    for row in rows[1:]:
        d, lo, hi = paired_difference(sums[row["name"]], sums["gru"], counts)
        row["delta_vs_gru"] = {"mean": d, "lo": lo, "hi": hi, "verdict": verdict(d, lo, hi)}
    return {"rows": rows, "chunk_chars": chunk, "validation_chars": int(counts.sum())}


def answer(table: dict) -> str:
    """One sentence (and its caveat) for this text."""
    rows = {r["name"]: r for r in table["rows"]}
    helped = [v for v in VARIANTS[1:] if rows[v]["delta_vs_gru"]["verdict"] == "helps"]
    hurt = [v for v in VARIANTS[1:] if rows[v]["delta_vs_gru"]["verdict"] == "hurts"]
    if helped:
        head = f"Yes, on this text: {', '.join(helped)} beat the plain GRU"
    else:
        head = "Not on this text: no CNN strategy clearly beat the plain GRU"
    if hurt:
        head += f"; {', '.join(hurt)} did worse"
    return (stopped_note(table) + head + ". One seed each: the intervals leave out training "
            f"randomness, so a difference under {TIE_MARGIN} bits per character counts as a tie.")


def stopped_note(table: dict) -> str:
    """For a study stopped before its budget (Cancel, Ctrl-C): how far it got, so the verdict
    is read as one on models that had not finished training."""
    if not table.get("stopped"):
        return ""
    trained = max(r["chars"] for r in table["rows"]) / table["plan"]["chars"]
    return (f"Training was stopped at {min(trained, 1):.0%} of its budget: this verdict is on the "
            "models as they were then. ")


def markdown(table: dict) -> str:
    lines = ["| strategy | validation BPC (95% CI) | vs gru (95% CI) | characters trained |",
             "|---|---|---|---:|"]
    for r in table["rows"]:
        d = r.get("delta_vs_gru")
        vs = "—" if d is None else f"{d['mean']:+.3f} ({d['lo']:+.3f}, {d['hi']:+.3f}) {d['verdict']}"
        lines.append(f"| {r['name']} | {r['val_bpc']:.3f} ({r['val_bpc_ci'][0]:.3f}, "
                     f"{r['val_bpc_ci'][1]:.3f}) | {vs} | {r['chars']:,} |")
    note = (f"\nValidation: one block in ten, spread over the text ({table['validation_chars']:,} "
            f"characters; eight in ten trained), in {table['chunk_chars']:,}-character chunks "
            "for the intervals. Each strategy is measured at its best checkpoint on it.")
    if table.get("unknown_symbol"):
        note += (" The vocabulary keeps the 255 most frequent characters; every rarer one is "
                 "one unknown symbol, whose probability counts in the BPC.")
    return "\n".join(lines) + "\n" + note + "\n\n" + table["answer"] + "\n"


def study_text(text: str, seconds: float, out: str | Path, name: str = "your text",
               on_progress: Callable[[Progress], None] | None = None,
               should_stop: Callable[[], bool] | None = None, rate=slowest_rate,
               on_plan: Callable[[Plan], None] | None = None,
               on_interrupt: Callable[[], None] | None = None) -> dict:
    """Check, plan, train, evaluate; write ``table.json``, ``table.md`` and the four
    checkpoints (``<out>/<strategy>``) into ``out``; return the table. ``rate`` measures the
    throughput the plan is made from (a caller may keep its measurements across processes)."""
    from ..training import ship
    from ..vocab import UNKNOWN

    text = check_text(text)
    out = Path(out)
    corpus = split_in_blocks(name, text, f"{name} ({len(text):,} characters, split in blocks)")
    started = time.perf_counter()
    plan = plan_for(corpus, seconds, rate)
    if on_plan:
        on_plan(plan)
    interrupts = Interrupts(on_interrupt)
    with interrupts.caught():  # from the first round to the table: a Ctrl-C never half-writes
        summaries = train_round_robin(corpus, plan, out, on_progress, should_stop, interrupts)
        for v in VARIANTS:
            ship(out / "runs" / v, out / v)
        table = evaluate(corpus, out)
        table.update(plan=asdict(plan), seconds_per_strategy=seconds,
                     stopped=any(s["stopped"] for s in summaries.values()),
                     unknown_symbol=UNKNOWN in corpus.vocab, text_chars=len(text),
                     took_s=round(time.perf_counter() - started, 1))
        table["answer"] = answer(table)
        (out / "table.json").write_text(json.dumps(table, indent=1))
        (out / "table.md").write_text(markdown(table))
    return table


def parse_budget(value: str) -> float:
    """``30s``, ``1min``, ``3min`` or a number of seconds."""
    if value in BUDGETS:
        return BUDGETS[value]
    try:
        seconds = float(value.removesuffix("s"))
    except ValueError:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)} or seconds, e.g. 45s, "
                         f"not {value!r}") from None
    if not 1 <= seconds <= 3600:
        raise ValueError(f"budget must be between 1 s and an hour, not {value!r}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="cnngru study", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", help="a UTF-8 text file")
    p.add_argument("--budget", default="1min", help="per strategy: 30s, 1min, 3min or seconds")
    p.add_argument("--out", required=True, help="folder for the four models and the table")
    args = p.parse_args(argv)
    path = Path(args.text)
    try:
        size = path.stat().st_size
        if size > 4 * MAX_CHARS:  # UTF-8 takes at most 4 bytes a character
            raise SystemExit(f"{path} has {size:,} bytes, more than "
                             f"{MAX_CHARS:,} characters can take: the limit is {MAX_CHARS:,}")
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise SystemExit(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise SystemExit(f"{path} is not UTF-8 text (byte {e.start}: {e.reason})") from None

    def show(p: Progress) -> None:
        val = "—" if p.val_bpc is None else f"{p.val_bpc:.3f}"
        print(f"  {p.strategy:>8} step {p.step}/{p.steps}: validation {val} BPC "
              f"({p.elapsed_s:.0f} s)", flush=True)

    def interrupted() -> None:
        print("  stopping after this round, so that all four stop at the same step "
              "(Ctrl-C again: stop at once, with no table)", flush=True)

    try:
        table = study_text(text, parse_budget(args.budget), args.out, path.stem, show,
                           on_interrupt=interrupted)
    except (TextError, ValueError) as e:
        raise SystemExit(str(e)) from None
    except KeyboardInterrupt:
        raise SystemExit(f"stopped at once: no table was written; to start over, use a new --out "
                         f"(or delete {args.out})") from None
    print(markdown(table))
