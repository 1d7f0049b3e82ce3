"""The refiner trains with the language models' trainer on its own task: denoising."""

import json

import pytest
import torch

from cnngru.corpus import Corpus
from cnngru.models import build_model
from cnngru.refiner import load_refiner
from cnngru.refiner.train import DenoiseTask, train_refiner
from cnngru.training import TrainConfig
from cnngru.vocab import Vocab


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small convolutions on a busy 2-core machine: two OpenMP threads stall each other (20x)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_task(text: str) -> tuple[DenoiseTask, torch.nn.Module]:
    corpus = Corpus.from_texts("tiny", text[:20_000], text[20_000:24_000], text[24_000:26_000], "t")
    config = TrainConfig(variant="refiner", batch_size=8, seq_len=64, max_chars=10**6)
    vocab = Vocab(corpus.vocab)
    torch.manual_seed(0)
    return DenoiseTask(corpus, vocab, config), build_model("refiner", len(vocab), hidden=64,
                                                            dilations=(1, 2))


def test_denoising_loss_goes_down_on_one_batch(corpus):
    task, model = tiny_task(corpus.train)
    rows = slice(None)
    assert torch.equal(task.loss(model, 5, rows), task.loss(model, 5, rows))  # a function of the step
    assert not torch.equal(task.loss(model, 5, rows), task.loss(model, 6, rows))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = task.loss(model, 0, rows).item()
    for _ in range(60):
        loss = task.loss(model, 0, rows)
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
    assert shipped.metadata["task"] == "denoise"
    rows = [json.loads(line) for line in (tmp_path / "ship" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert [r["step"] for r in rows if "val_bpc" in r] == [2, 4]
