"""``cnngru reproduce --smoke``: the whole pipeline on a tiny budget, and its reuse of runs."""

import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    args = [sys.executable, "-m", "cnngru.cli", "reproduce", "--smoke", "--runs", str(root / "runs"),
            "--results", str(root / "results"), "--checkpoints", str(root / "checkpoints")]
    first = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    again = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    return root, first.stdout, again.stdout


def test_smoke_writes_every_row_and_the_answer(smoke):
    root, out, _ = smoke
    results = json.loads((root / "results" / "results.json").read_text())
    names = [r["name"] for r in results["rows"]]
    assert names == ["gru", "cnn-pre", "cnn-post", "hybrid", "transformer", "transformer (equal time)"]
    for r in results["rows"]:
        assert r["test_bpc"] > 0 and r["test_bpc_ci"][0] <= r["test_bpc"] <= r["test_bpc_ci"][1]
    assert all(len(results["rows"][i]["seeds"]["values"]) == 3 for i in range(5))
    assert results["answer"].startswith(("**Yes", "**No"))
    md = (root / "results" / "results.md").read_text()
    assert "| gru |" in md and "The refiner" in md
    assert results["refiner"]["heldout"]["cer"]
    for name in ("gru", "cnn-pre", "cnn-post", "hybrid", "transformer", "refiner"):
        assert (root / "checkpoints" / name / "model.safetensors").is_file()


def test_a_second_run_reuses_every_finished_run(smoke):
    _, first, again = smoke
    assert "to train" in first and " 0 to train" not in first.splitlines()[1]
    trained = [line for line in again.splitlines() if "to train" in line]
    assert trained and all(line.endswith(" 0 to train") for line in trained)
    assert "the shipped refiner has this recipe: reused" in again
