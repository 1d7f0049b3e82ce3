"""The training loop: a run writes its outputs, DDP keeps replicas equal, patience stops."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from training_runs import config, run

import cnngru
from cnngru.training import train


def test_a_run_writes_best_last_log_and_a_loadable_checkpoint(small_corpus, tmp_path):
    summary = train(config(), tmp_path, progress=False, corpus=small_corpus)
    assert summary["steps"] == 24 and summary["chars"] == 8 * 32 * 24
    assert {p.name for p in tmp_path.iterdir()} >= {"best", "last", "log.jsonl", "config.json", "summary.json"}
    bundle = cnngru.load(tmp_path / "best")
    assert bundle.metadata["run"]["chars"] == 8 * 32 * 24
    assert bundle.metadata["val_bpc"] == pytest.approx(summary["best_val_bpc"], abs=1e-4)
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").open()]
    assert [r["step"] for r in rows if "val_bpc" in r] == [6, 12, 18, 24]


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


def test_patience_stops_a_run_that_no_longer_improves(small_corpus, tmp_path):
    summary = run(small_corpus, tmp_path, lr=0.0, eval_every=2, patience=2).fit()
    assert summary["stopped_early"] and summary["steps"] == 6  # best at 2, no better at 4 and 6
    assert not run(small_corpus, tmp_path / "off", eval_every=2).fit()["stopped_early"]
