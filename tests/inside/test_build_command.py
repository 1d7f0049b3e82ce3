"""``cnngru inside build`` on a fresh checkpoint of a design that is not shipped: the table
follows the model's structure and the checkpoint's own corpus, and is refused once the weights
change."""

import json

import pytest
import torch

from cnngru import save
from cnngru.cli import main
from cnngru.inside import FILE, InsideTableError, load_table
from cnngru.models import build_model


@pytest.fixture
def checkpoint(tmp_path, corpus, vocab):
    """A small untrained hybrid of the long-window, three-way design, and its corpus file."""
    text_file = tmp_path / "plays.txt"
    text_file.write_text(corpus.split("validation")[:60_000], encoding="utf-8")
    torch.manual_seed(0)
    model = build_model("hybrid", len(vocab), params=120_000, sources=("cnn", "memory"),
                        window=16, gate="split").eval()
    folder = save(tmp_path / "mine", model, vocab, {"corpus": str(text_file),
                                                     "train_config": {"split": [0.8, 0.1, 0.1]}})
    return folder


def test_build_writes_a_table_for_the_checkpoint_beside_it(checkpoint, capsys):
    main(["inside", "build", str(checkpoint)])
    assert str(checkpoint / FILE) in capsys.readouterr().out
    table = load_table(checkpoint)
    model_config = json.loads((checkpoint / "checkpoint.json").read_text())["config"]
    banks = table.data["filters"]["banks"]
    assert [b["window"] for b in banks] == model_config["widths"]
    assert len(table.filters) == len(model_config["widths"]) * model_config["filters"]
    assert table.data["units"]["count"] == model_config["hidden"]
    assert table.data["samples"]["train"]["chars"] <= 48_000  # the file's own 80% train split
    assert all(len(f["top"]) == 10 and len(f["top"][0][0]) == f["window"] for f in table.filters)


def test_a_rebuild_of_the_same_weights_gives_the_same_numbers(checkpoint):
    main(["inside", "build", str(checkpoint)])
    first = json.loads((checkpoint / FILE).read_text())
    main(["inside", "build", str(checkpoint)])
    again = json.loads((checkpoint / FILE).read_text())
    first.pop("built"), again.pop("built")  # the date of the build
    assert again == first


def test_new_weights_make_the_old_table_stale(checkpoint, vocab):
    main(["inside", "build", str(checkpoint)])
    stale = (checkpoint / FILE).read_text()
    model = build_model("hybrid", len(vocab), params=120_000, sources=("cnn", "memory"),
                        window=16, gate="split")
    save(checkpoint, model, vocab, {})  # new weights, new hash
    (checkpoint / FILE).write_text(stale)
    with pytest.raises(InsideTableError, match="built for other weights"):
        load_table(checkpoint)


def test_an_unknown_checkpoint_ends_with_a_clear_message(tmp_path):
    with pytest.raises(SystemExit, match="no checkpoint"):
        main(["inside", "build", str(tmp_path / "nothing")])
