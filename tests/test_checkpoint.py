"""Checkpoints round-trip, and every way a checkpoint can be broken gives an error naming the file."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import SMALL

import cnngru
from cnngru.checkpoint import META, WEIGHTS, CheckpointError
from cnngru.models import build_model


@pytest.fixture
def saved(tmp_path, vocab):
    torch.manual_seed(0)
    model = build_model("hybrid", len(vocab), params=SMALL).eval()
    cnngru.save(tmp_path / "ckpt", model, vocab, {"train_chars": 123})
    return tmp_path / "ckpt", model


def test_round_trip_gives_the_same_model(saved, vocab):
    folder, model = saved
    bundle = cnngru.load(folder)
    tokens = torch.randint(0, len(vocab), (1, 40))
    with torch.no_grad():
        torch.testing.assert_close(bundle.model(tokens).logits, model(tokens).logits)
    assert bundle.vocab.chars == vocab.chars and bundle.metadata["train_chars"] == 123
    assert bundle.variant == "hybrid" and not bundle.model.training


def test_fp16_storage_is_upcast_to_fp32(tmp_path, vocab):
    model = build_model("gru", len(vocab), params=SMALL).eval()
    cnngru.save(tmp_path, model, vocab, dtype=torch.float16)
    bundle = cnngru.load(tmp_path)
    assert all(p.dtype == torch.float32 for p in bundle.model.parameters())
    tokens = torch.randint(0, len(vocab), (1, 20))
    with torch.no_grad():
        torch.testing.assert_close(bundle.model(tokens).logits, model(tokens).logits, atol=2e-2, rtol=0)


def test_no_pickle_files_anywhere(saved):
    folder, _ = saved
    assert sorted(p.name for p in folder.iterdir()) == [META, WEIGHTS]
    assert json.loads((folder / META).read_text())["variant"] == "hybrid"


def test_truncated_weights_name_the_file(saved):
    folder, _ = saved
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=str(folder / WEIGHTS)):
        cnngru.load(folder)


def test_corrupted_byte_is_caught(saved):
    folder, _ = saved
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-100] ^= 0xFF
    (folder / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="do not match"):
        cnngru.load(folder)


def test_broken_json_names_the_file(saved):
    folder, _ = saved
    (folder / META).write_text("{not json")
    with pytest.raises(CheckpointError, match=f"{folder / META}.*not valid JSON"):
        cnngru.load(folder)


def test_weights_from_another_checkpoint_are_rejected(saved, tmp_path, vocab):
    folder, _ = saved
    other = build_model("gru", len(vocab), params=SMALL)
    cnngru.save(tmp_path / "other", other, vocab)
    shutil.copy(tmp_path / "other" / WEIGHTS, folder / WEIGHTS)
    with pytest.raises(CheckpointError, match="do not match"):
        cnngru.load(folder)


def test_mismatched_config_and_weights_are_named(saved):
    folder, _ = saved
    meta = json.loads((folder / META).read_text())
    meta["config"]["hidden"] += 8
    (folder / META).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not fit the config"):
        cnngru.load(folder)


# Loads a checkpoint in a process allowed 1 GB of address space beyond what it holds after its
# imports, and prints the error: whatever the machine, a 38 GB model cannot be built there.
LOAD_WITHIN_A_GIGABYTE = """
import resource, sys
import cnngru
held = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
            if line.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, (held + 2**30, resource.RLIM_INFINITY))
try:
    cnngru.load(sys.argv[1], device="cpu")
except cnngru.CheckpointError as e:
    print(e)
"""


def test_a_config_claiming_a_huge_model_is_refused_before_it_is_built(saved):
    """A hand-made checkpoint.json with hidden 20,000 in four layers describes about 38 GB of
    weights: the shapes are compared with the file's before the model is built, so it is
    refused with the message that names the weights file, within a gigabyte."""
    folder, _ = saved
    meta = json.loads((folder / META).read_text())
    meta["config"].update(hidden=20_000, layers=4)
    (folder / META).write_text(json.dumps(meta))
    done = subprocess.run([sys.executable, "-c", LOAD_WITHIN_A_GIGABYTE, str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{folder / WEIGHTS}: weights do not fit the config" in done.stdout, done.stdout


def test_a_config_listing_thousands_of_layers_is_refused_before_any_is_built(saved):
    folder, _ = saved
    meta = json.loads((folder / META).read_text())
    meta["config"]["widths"] = [2] * 10_000
    (folder / META).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"config asks for more than 64 layers \(widths\)"):
        cnngru.load(folder)
    meta["config"].update(widths=[2, 3], layers=10**7)
    (folder / META).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"more than 64 layers \(layers\)"):
        cnngru.load(folder)


def test_vocabulary_size_mismatch_is_named(saved):
    folder, _ = saved
    meta = json.loads((folder / META).read_text())
    meta["vocab"] = meta["vocab"][:-1]
    (folder / META).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="vocabulary has"):
        cnngru.load(folder)


def test_unknown_names_and_missing_folders(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint 'nope'"):
        cnngru.load("nope")
    with pytest.raises(CheckpointError, match="missing"):
        cnngru.load(tmp_path)


def test_user_checkpoint_folders_are_found_by_name(saved, monkeypatch):
    folder, _ = saved
    monkeypatch.setenv("CNNGRU_CHECKPOINTS", str(folder.parent))
    assert cnngru.load("ckpt").variant == "hybrid"


def test_an_interrupted_save_leaves_the_old_checkpoint_loadable(saved, vocab, monkeypatch):
    folder, _ = saved
    import cnngru.checkpoint as ck

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ck, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        cnngru.save(folder, build_model("gru", len(vocab), params=SMALL), vocab)
    assert cnngru.load(folder).variant == "hybrid"
    assert not any(p.name.startswith(".saving") for p in folder.iterdir())
