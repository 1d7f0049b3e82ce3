"""The ``cnngru`` command: generate, train, train-refiner, eval, study, reproduce, inside, bench,
serve."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .models import LANGUAGE_MODELS, VARIANTS
from .sampling import MIN_TEMPERATURE

DEFAULT_CHARS = 24_000_000  # training characters when no budget is given
MAX_SAMPLES = 1024  # -n: one batch holds every sample until the last one ends


def whole(least: int, most: int | None = None):
    """An argparse type: a whole number from ``least`` (to ``most``); argparse names the option
    in the message when it is not."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < least or most is not None and value > most:
            span = f"at least {least:,}" if most is None else f"from {least:,} to {most:,}"
            raise argparse.ArgumentTypeError(f"expected {span}, not {value:,}")
        return value
    return parse


def positive(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number above 0, not {text}")
    return value


class DefaultsShown(argparse.HelpFormatter):
    """Help that ends with an option's default, unless it has none or its help says it."""

    def _get_help_string(self, action) -> str:
        text = action.help or ""
        if not action.option_strings or action.default in (None, argparse.SUPPRESS) \
                or "default" in text:
            return text
        return f"{text} (default: {action.default})".lstrip()


def json_object(text: str) -> dict:
    """An argparse type: a JSON object, e.g. '{"dropout": 0.2}'."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object ({{...}}), not {text!r}")
    return value


def cmd_generate(args) -> None:
    try:
        stream_generation(args)
    except BrokenPipeError:  # the reader left (| head): nothing more to say, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def stream_generation(args) -> None:
    from . import generate, load

    bundle = load(args.model, device=args.device)
    if args.samples > 1:
        return write_samples(bundle, args)
    gen = generate(bundle, args.prompt, max_new_tokens=args.max_new_tokens,
                   temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                   seed=args.seed, unknown=args.unknown)
    sys.stdout.write(gen.continuation.text)
    for step in gen:
        sys.stdout.write(step.char)
        sys.stdout.flush()
    sys.stdout.write("\n")


def write_samples(bundle, args) -> None:
    """``-n N``: N samples generated together in one batch (seeds seed, seed+1, ...), each under a
    header line naming its number and seed."""
    from . import generate
    from .batched_generation import engine_for, read_together
    from .models.half_product import batch_threads

    seeds = [None if args.seed is None else args.seed + i for i in range(args.samples)]
    settings = dict(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                    top_k=args.top_k, top_p=args.top_p, unknown=args.unknown)
    if bundle.variant in VARIANTS:
        with batch_threads(os.cpu_count() or 1):  # a batch's products share the cores
            streams = [engine_for(bundle).generate(args.prompt, seed=seed, **settings)
                       for seed in seeds]
            texts = [s.start.text + new for s, new in zip(streams, read_together(streams),
                                                          strict=True)]
    else:  # no batched step for this architecture: one after another
        texts = []
        for seed in seeds:
            gen = generate(bundle, args.prompt, seed=seed, **settings)
            texts.append(gen.continuation.text + "".join(step.char for step in gen))
    for i, (seed, text) in enumerate(zip(seeds, texts, strict=True)):
        if i:
            sys.stdout.write("\n")
        seed_note = "random seed" if seed is None else f"seed {seed}"
        sys.stdout.write(f"=== sample {i + 1} of {len(texts)} ({seed_note}) ===\n{text}\n")


def cmd_train(args) -> None:
    from .checkpoint import checked_device
    from .training import TrainConfig, train

    checked_device(args.device or "cpu")
    config = TrainConfig(
        variant=args.variant, corpus=args.corpus, split=args.split, params=args.params,
        design=args.design, model=args.model_config, max_chars=args.max_chars,
        max_minutes=args.max_minutes, seed=args.seed, device=args.device or "cpu",
        eval_every=args.eval_every, patience=args.patience, **training_recipe(args))
    if config.max_chars is None and config.max_minutes is None:
        config.max_chars = DEFAULT_CHARS
    summary = train(config, args.out, progress=not args.quiet)
    print(json.dumps(summary, indent=1))


def training_recipe(args) -> dict:
    """Batch shape, learning rate and warmup: as given, else the CPU recipe for the budget."""
    given = {"batch_size": args.batch_size, "seq_len": args.seq_len, "lr": args.lr,
             "warmup_steps": args.warmup_steps}
    if None not in given.values():
        return given
    from .training.cpu_recipe import cpu_recipe, cpu_recipe_for_time

    if args.max_chars is not None or args.max_minutes is None:
        recipe = cpu_recipe(args.max_chars or DEFAULT_CHARS)
    else:
        from .corpus import load_corpus
        from .training import throughput
        from .training.throughput import trainer_for

        corpus = load_corpus(args.corpus, args.split)
        recipe = cpu_recipe_for_time(args.max_minutes * 60, lambda batch: throughput.measure(
            trainer_for(args.variant, args.params, corpus, batch, args.seq_len or 128), 2.0))
    return {k: v if v is not None else getattr(recipe, k) for k, v in given.items()}


def serve(argv: list[str]) -> None:
    """``cnngru serve``: what ``python app.py`` does, with the address as options."""
    p = argparse.ArgumentParser(prog="cnngru serve", description="start the Gradio demo")
    p.add_argument("--host", default=None, help="0.0.0.0 to listen on every interface "
                   "(default: GRADIO_SERVER_NAME, else 0.0.0.0 on a Space, else 127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="default: GRADIO_SERVER_PORT, else PORT, else 7860")
    args = p.parse_args(argv)
    from .app import launch  # it keeps Gradio offline before importing it (app/offline.py)

    launch(host=args.host, port=args.port)


def _split(text: str):
    from .corpus import parse_split

    try:
        return parse_split(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnngru", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    defaults = DefaultsShown
    g = sub.add_parser("generate", help="stream text from a checkpoint", formatter_class=defaults)
    g.add_argument("prompt", nargs="?", default="ROMEO.\n",
                   help="the text to continue (default: a speaker's name, ROMEO. and a new line)")
    g.add_argument("--model", default="hybrid", help="a shipped model "
                   f"({', '.join(LANGUAGE_MODELS)}) or a checkpoint folder")
    g.add_argument("--max-new-tokens", type=whole(0), default=300)
    g.add_argument("--temperature", type=float, default=0.8,
                   help=f"0: greedy, else {MIN_TEMPERATURE} to 100")
    g.add_argument("--top-k", type=whole(0), default=0, help="0: off")
    g.add_argument("--top-p", type=float, default=1.0, help="in (0, 1]; 1: off")
    g.add_argument("--seed", type=whole(0), default=None, help="default: random")
    g.add_argument("--unknown", choices=["error", "replace"], default="error",
                   help="prompt characters outside the vocabulary: reject, or replace")
    g.add_argument("--device", default=None, help="default: CNNGRU_DEVICE, else cpu")
    g.add_argument("-n", "--samples", type=whole(1, MAX_SAMPLES), default=1, help="how many samples (at "
                   f"most {MAX_SAMPLES:,}), generated together in one batch (seeds --seed, "
                   "--seed + 1, ...)")
    g.set_defaults(func=cmd_generate)

    t = sub.add_parser("train", help="train one model (resumes if --out holds a stopped run)",
                       formatter_class=defaults)
    t.add_argument("--variant", choices=VARIANTS, default="gru")
    t.add_argument("--corpus", default="shakespeare", help="'shakespeare' or a UTF-8 text file")
    t.add_argument("--split", type=_split, default=None, help="ratios for a text file, e.g. 0.9,0.05,0.05")
    t.add_argument("--params", type=whole(1000, 100_000_000), default=1_000_000,
                   help="parameter budget")
    t.add_argument("--design", default=None, help="a candidate design of the variant, e.g. "
                   "cnn-memory256 (cnngru/models/designs.py; default: the shipped one)")
    t.add_argument("--model-config", type=json_object, default={},
                   help='JSON overrides, e.g. \'{"dropout": 0.2}\'')
    t.add_argument("--batch-size", type=whole(1), default=None, help="streams (default: the CPU recipe)")
    t.add_argument("--seq-len", type=whole(1), default=None, help="default: the CPU recipe")
    t.add_argument("--lr", type=positive, default=None, help="peak rate (default: the CPU recipe)")
    t.add_argument("--warmup-steps", type=whole(0), default=None, help="default: the CPU recipe")
    t.add_argument("--max-chars", type=whole(1), default=None,
                   help=f"training characters (default {DEFAULT_CHARS:,} unless --max-minutes)")
    t.add_argument("--max-minutes", type=positive, default=None,
                   help="training-time budget: measured throughput turns it into characters")
    t.add_argument("--patience", type=whole(1), default=None,
                   help="stop after this many validations without improvement (default: off)")
    t.add_argument("--seed", type=whole(0), default=0)
    t.add_argument("--eval-every", type=whole(1), default=200, help="steps between validations")
    t.add_argument("--device", default=None, help="default: cpu")
    t.add_argument("--out", required=True, help="output folder (best/, last/, log.jsonl)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)
    for name, (_, _, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text + f" (cnngru {name} --help)", add_help=False)
    return parser


# Commands with parsers of their own: name -> (module, function, help).
DELEGATED = {
    "reproduce": ("cnngru.evaluation.reproduce", "main", "train, evaluate and tabulate every row (resumable)"),
    "study": ("cnngru.evaluation.text_study", "main", "the four strategies on your own text, within a time budget"),
    "eval": ("cnngru.evaluation.measures", "main", "evaluate checkpoints on the test split"),
    "bench": ("cnngru.bench.generation_speed", "main", "generation speed per variant; --train: training characters/s"),
    "serve": ("cnngru.cli", "serve", "start the Gradio demo"),
    "train-refiner": ("cnngru.refiner.train", "cli_train_refiner", "train the CNN refiner"),
    "inside": ("cnngru.inside.build", "main", "build the tables of what each CNN filter and "
               "GRU unit detects (the demo's Inside tab)"),
}


def main(argv: list[str] | None = None) -> None:
    """Run a subcommand; bad input (a corrupt checkpoint, unknown characters, a missing corpus)
    ends with its message on one line, not a traceback."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in DELEGATED:
            import importlib

            module, function, _ = DELEGATED[argv[0]]
            getattr(importlib.import_module(module), function)(argv[1:])
            return
        args = build_parser().parse_args(argv)
        args.func(args)
    except ValueError as e:  # CheckpointError, UnknownCharactersError, CorpusError included
        sys.exit(f"cnngru: error: {e}")
    except KeyboardInterrupt:  # (a training run catches its own, saves and says so)
        sys.exit("cnngru: stopped")


if __name__ == "__main__":
    main()
