"""Training the refiner: DenoiserTrainer and train_refiner (the other refiner tests are in
tests/refiner/, one module per refiner module)."""

import json

import pytest
import torch

from cnngru.corpus import Corpus
from cnngru.models import build_model
from cnngru.refiner import load_refiner
from cnngru.refiner.train import DenoiserTrainer, train_refiner
from cnngru.training.trainer import TrainConfig


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small convolutions on a busy 2-core machine: two OpenMP threads stall each other (20x)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_trainer(tmp_path, text: str) -> DenoiserTrainer:
    corpus = Corpus.from_texts("tiny", text[:20_000], text[20_000:24_000], text[24_000:26_000], "t")
    config = TrainConfig(variant="refiner", params=None, model={"hidden": 64, "dilations": (1, 2)},
                         batch_size=8, seq_len=64, max_chars=10**6, lr=1e-2, warmup_steps=1)
    return DenoiserTrainer(config, tmp_path, progress=False, corpus=corpus,
                           model_factory=lambda v, n, p, **kw: build_model(v, n, **kw))


def test_denoising_loss_goes_down_on_one_batch(tmp_path, corpus):
    trainer = tiny_trainer(tmp_path, corpus.train)
    assert torch.equal(trainer.compute_loss(5), trainer.compute_loss(5))  # a function of the step
    opt = torch.optim.Adam(trainer.model.parameters(), lr=1e-2)
    first = trainer.compute_loss(0).item()
    for _ in range(60):
        loss = trainer.compute_loss(0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 4, (first, loss.item())


def test_train_refiner_ships_a_checkpoint_with_its_figures(tmp_path, corpus):
    text_file = tmp_path / "plays.txt"
    text_file.write_text(corpus.train[:60_000], encoding="utf-8")
    summary = train_refiner(tmp_path / "run", corpus=str(text_file), max_chars=4 * 8 * 64,
                            params=60_000, batch_size=8, seq_len=64, eval_every=2,
                            ship=tmp_path / "ship", progress=False)
    assert summary["steps"] == 4 and {r["noise"] for r in summary["validation"]["cer"]} == {0.02, 0.05, 0.1}
    shipped = load_refiner(tmp_path / "ship")
    assert shipped.metadata["validation"]["clean_change_rate"] >= 0
    assert shipped.metadata["noise"]["levels"][0] == 0.0
    rows = [json.loads(line) for line in (tmp_path / "ship" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert [r["step"] for r in rows if "val_bpc" in r] == [2, 4]
