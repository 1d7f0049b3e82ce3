"""Snapshots: a stopped or killed run resumes on exactly the same loss curve."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from training_runs import config, losses, run, stopping_at

from cnngru.training import train


def test_a_stopped_run_resumes_on_the_same_loss_curve(small_corpus, tmp_path):
    train(config(), tmp_path / "whole", progress=False, corpus=small_corpus)
    stopped = stopping_at(run(small_corpus, tmp_path / "parts")).fit()
    assert stopped == {"interrupted": True, "step": 10}
    train(config(), tmp_path / "parts", progress=False, corpus=small_corpus)
    assert losses(tmp_path / "parts") == losses(tmp_path / "whole")
    assert len(losses(tmp_path / "whole")) == 24


def test_resuming_with_another_recipe_is_refused(small_corpus, tmp_path):
    stopping_at(run(small_corpus, tmp_path)).fit()
    with pytest.raises(ValueError, match="another configuration"):
        run(small_corpus, tmp_path, lr=1e-3).fit()


def test_a_killed_process_resumes_from_its_last_save(tmp_path):
    """SIGKILL mid-run (no chance to save), then the same command finishes the curve exactly."""
    args = [sys.executable, "-m", "cnngru.cli", "train", "--variant", "gru", "--params", "60000",
            "--batch-size", "8", "--seq-len", "32", "--max-chars", str(8 * 32 * 40),
            "--eval-every", "5", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*args, "--out", str(tmp_path / "whole")], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([*args, "--out", str(tmp_path / "killed")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "killed" / "last" / "train_state.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (state.exists() and json.loads(state.read_text())["step"] >= 10):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(state.read_text())["step"]
    assert 10 <= killed_at < 40
    subprocess.run([*args, "--out", str(tmp_path / "killed")], check=True, env=env, capture_output=True)
    assert losses(tmp_path / "killed") == losses(tmp_path / "whole")
