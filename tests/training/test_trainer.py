"""Training: it learns, it resumes exactly after a stop or a kill, and DDP keeps replicas equal."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import cnngru
from cnngru.corpus import Corpus
from cnngru.training import TrainConfig, language_model_run, train


@pytest.fixture(scope="module")
def small_corpus(corpus):
    """A slice of the real corpus (same vocabulary), so runs take seconds."""
    return Corpus(corpus.name, corpus.train[:200_000], corpus.validation[:20_000],
                  corpus.test[:20_000], corpus.vocab, corpus.source)


def config(**kw):
    base = dict(variant="hybrid", params=120_000, batch_size=8, seq_len=32, max_chars=8 * 32 * 24,
                eval_every=6, eval_chars=4_000, warmup_steps=3, lr=3e-3)
    return TrainConfig(**{**base, **kw})


def losses(out):
    return [r["loss"] for r in map(json.loads, (out / "log.jsonl").open()) if "loss" in r]


def run(small_corpus, out, **kw):
    return language_model_run(config(**kw), out, progress=False, corpus=small_corpus)


def test_loss_falls_on_one_repeated_batch(small_corpus, variant, tmp_path):
    trainer = run(small_corpus, tmp_path, variant=variant, lr=1e-2)
    first = None
    for _ in range(30):
        trainer.task.restore_carried({})
        loss = trainer.task.loss(trainer.net, 0, trainer.rows)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        first = first or loss.item()
    assert loss.item() < 0.6 * first


def test_the_carried_state_has_no_gradient_history_after_a_step(small_corpus, tmp_path):
    """Truncated BPTT: the state carried into the next chunk is cut from the graph, so the next
    backward pass stops at the chunk boundary (without the cut it would reach back forever)."""
    trainer = run(small_corpus, tmp_path)
    trainer.train_step()
    assert trainer.task.carried, "a language model carries its state between chunks"
    for name, tensor in trainer.task.carried.items():
        assert tensor.grad_fn is None and not tensor.requires_grad, name
    trainer.train_step()  # would raise "backward through the graph a second time" otherwise


@torch.no_grad()
def test_a_new_epoch_starts_the_streams_from_an_empty_state(small_corpus, tmp_path):
    """Mid-epoch the carried state changes the loss; at a new epoch it is dropped."""
    a, b = run(small_corpus, tmp_path / "a"), run(small_corpus, tmp_path / "b")
    b.model.load_state_dict(a.model.state_dict())
    a.model.eval(), b.model.eval()
    a.task.loss(a.net, 0, a.rows)  # a carries the state after chunk 0, b carries nothing
    assert not torch.equal(a.task.loss(a.net, 1, a.rows), b.task.loss(b.net, 1, b.rows))
    new_epoch = a.task.batches.chunks_per_epoch
    assert torch.equal(a.task.loss(a.net, new_epoch, a.rows), b.task.loss(b.net, new_epoch, b.rows))


def test_a_run_writes_best_last_log_and_a_loadable_checkpoint(small_corpus, tmp_path):
    summary = train(config(), tmp_path, progress=False, corpus=small_corpus)
    assert summary["steps"] == 24 and summary["chars"] == 8 * 32 * 24
    assert {p.name for p in tmp_path.iterdir()} >= {"best", "last", "log.jsonl", "config.json", "summary.json"}
    bundle = cnngru.load(tmp_path / "best")
    assert bundle.metadata["run"]["chars"] == 8 * 32 * 24
    assert bundle.metadata["val_bpc"] == pytest.approx(summary["best_val_bpc"], abs=1e-4)
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").open()]
    assert [r["step"] for r in rows if "val_bpc" in r] == [6, 12, 18, 24]


def stopping_at(trainer, stop_at: int = 10):
    """The trainer, with a Ctrl-C arriving after ``stop_at`` steps."""
    step = trainer.train_step

    def train_step():
        if trainer.step == stop_at:
            raise KeyboardInterrupt
        return step()

    trainer.train_step = train_step
    return trainer


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


def test_ddp_on_two_cpu_processes_keeps_replicas_equal_and_only_rank_0_writes(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent("""
        import hashlib, os, sys
        import torch.distributed as dist
        from cnngru.corpus import load_shakespeare, Corpus
        from cnngru.training import TrainConfig, language_model_run
        c = load_shakespeare()
        c = Corpus(c.name, c.train[:100_000], c.validation[:5_000], c.test[:5_000], c.vocab, c.source)
        dist.init_process_group("gloo")
        rank = dist.get_rank()
        cfg = TrainConfig(variant="cnn-post", params=120_000, batch_size=8, seq_len=32,
                          max_chars=8 * 32 * 6, eval_every=3, eval_chars=2_000)
        trainer = language_model_run(cfg, os.path.join(sys.argv[1], f"out-rank{rank}"), False, c)
        trainer.fit()
        weights = b"".join(p.detach().numpy().tobytes() for p in trainer.model.parameters())
        with open(os.path.join(sys.argv[1], f"digest{rank}"), "w") as f:
            f.write(hashlib.sha256(weights).hexdigest() + " " + str(trainer.step))
        dist.destroy_process_group()
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
                    f"--master-port={port}", str(script), str(tmp_path)], check=True, env=env,
                   capture_output=True, timeout=300)
    d0, d1 = ((tmp_path / f"digest{r}").read_text() for r in (0, 1))
    assert d0 == d1 and d0.endswith(" 6")
    assert (tmp_path / "out-rank0" / "best").is_dir() and (tmp_path / "out-rank0" / "log.jsonl").is_file()
    assert not (tmp_path / "out-rank1").exists()
    # the whole batch's carried state was saved, not only rank 0's rows
    from safetensors.torch import load_file
    carried = load_file(tmp_path / "out-rank0" / "last" / "train_state.safetensors")["carried.gru"]
    assert carried.shape[0] == 8


def test_bf16_autocast_is_used_only_on_cuda(small_corpus, tmp_path):
    trainer = run(small_corpus, tmp_path)
    assert not isinstance(trainer.autocast, torch.autocast)


def test_a_time_budget_becomes_a_recorded_character_budget_that_repeats_the_run(
        small_corpus, tmp_path):
    """The trainer measures its throughput, trains the characters that fit, ends annealed, and
    records them: the same config with that character budget gives the same loss curve."""
    timed = run(small_corpus, tmp_path / "timed", max_chars=None, max_minutes=0.04, eval_every=50)
    summary = timed.fit()
    recorded = json.loads((tmp_path / "timed" / "config.json").read_text())
    assert recorded["max_chars"] == summary["planned_chars"] == summary["chars"]
    assert summary["chars"] % (8 * 32) == 0 and summary["measured_chars_per_s"] > 0
    assert not summary["time_limited"] and summary["steps"] > 10
    lrs = [r["lr"] for r in map(json.loads, (tmp_path / "timed" / "log.jsonl").open()) if "lr" in r]
    assert lrs[-1] == pytest.approx(3e-3 * 0.1, rel=0.05), "the schedule ran to its end"
    again = run(small_corpus, tmp_path / "again", max_chars=recorded["max_chars"], eval_every=50)
    again.fit()
    assert losses(tmp_path / "again") == losses(tmp_path / "timed")


def test_a_stopped_time_budgeted_run_resumes_with_the_budget_it_measured(small_corpus, tmp_path):
    first = stopping_at(run(small_corpus, tmp_path, max_chars=None, max_minutes=0.04), 5)
    first.fit()
    planned = first.config.max_chars
    resumed = run(small_corpus, tmp_path, max_chars=None, max_minutes=0.04)
    summary = resumed.fit()
    assert summary["chars"] == planned and "measured_chars_per_s" not in summary


def test_the_time_limit_is_a_safety_stop_that_marks_the_run(small_corpus, tmp_path):
    trainer = run(small_corpus, tmp_path, max_chars=None, max_minutes=0.02)
    step = trainer.train_step

    def slow_step():  # the machine got busy after the throughput was measured
        time.sleep(0.2)
        return step()

    trainer.train_step = slow_step
    summary = trainer.fit()
    assert summary["time_limited"] and summary["chars"] < summary["planned_chars"]
    assert summary["time"] >= 0.02 * 60 * 1.25


def test_patience_stops_a_run_that_no_longer_improves(small_corpus, tmp_path):
    summary = run(small_corpus, tmp_path, lr=0.0, eval_every=2, patience=2).fit()
    assert summary["stopped_early"] and summary["steps"] == 6  # best at 2, no better at 4 and 6
    assert not run(small_corpus, tmp_path / "off", eval_every=2).fit()["stopped_early"]
