"""Small language-model runs the training tests share: seconds each on a slice of the corpus."""

import json

from cnngru.training import TrainConfig, language_model_run


def config(**kw):
    base = dict(variant="hybrid", params=120_000, batch_size=8, seq_len=32, max_chars=8 * 32 * 24,
                eval_every=6, eval_chars=4_000, warmup_steps=3, lr=3e-3)
    return TrainConfig(**{**base, **kw})


def losses(out):
    return [r["loss"] for r in map(json.loads, (out / "log.jsonl").open()) if "loss" in r]


def run(small_corpus, out, **kw):
    return language_model_run(config(**kw), out, progress=False, corpus=small_corpus)


def stopping_at(trainer, stop_at: int = 10):
    """The trainer, with a Ctrl-C arriving after ``stop_at`` steps."""
    step = trainer.train_step

    def train_step():
        if trainer.step == stop_at:
            raise KeyboardInterrupt
        return step()

    trainer.train_step = train_step
    return trainer
