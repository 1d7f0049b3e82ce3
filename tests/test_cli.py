"""The ``cnngru`` command as a user runs it."""

import json
import subprocess
import sys

import pytest
import torch


def cnngru(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "cnngru.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_generate_streams_the_prompt_and_new_text():
    out = cnngru("generate", "ROMEO.\n", "--model", "cnn-post", "--max-new-tokens", "50", "--seed", "3")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ROMEO.\n") and len(out.stdout) == len("ROMEO.\n") + 50 + 1
    again = cnngru("generate", "ROMEO.\n", "--model", "cnn-post", "--max-new-tokens", "50", "--seed", "3")
    assert again.stdout == out.stdout


def test_generate_names_unknown_characters_without_a_traceback():
    out = cnngru("generate", "Roméo", "--max-new-tokens", "5")
    assert out.returncode != 0 and "'é'" in out.stderr and "Traceback" not in out.stderr
    replaced = cnngru("generate", "Roméo", "--max-new-tokens", "5", "--unknown", "replace")
    assert replaced.returncode == 0 and replaced.stdout.startswith("Romeo")


def test_a_corrupt_checkpoint_is_a_one_line_error(tmp_path):
    (tmp_path / "checkpoint.json").write_text("{")
    out = cnngru("generate", "A", "--model", str(tmp_path))
    assert out.returncode != 0 and "not valid JSON" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args, message", [
    (("generate", "--device", "foo"), "unknown device 'foo'"),
    (("generate", "-n", "0"), "-n/--samples: expected from 1 to 1,024, not 0"),
    (("generate", "-n", "5000"), "expected from 1 to 1,024, not 5,000"),
    (("generate", "--seed", "-1"), "--seed: expected at least 0, not -1"),
    (("generate", "--temperature", "1e-40"), "temperature must be 0 (greedy) or a number from 0.001"),
    (("generate", "--model", "refiner"), "not a language model"),
    (("train", "--out", "x", "--batch-size", "0"), "--batch-size: expected at least 1, not 0"),
    (("train", "--out", "x", "--model-config", "[1]"), "--model-config: expected a JSON object"),
    (("train", "--out", "x", "--model-config", "{bad"), "--model-config: not valid JSON"),
    (("train", "--out", "x", "--max-minutes", "inf"), "--max-minutes: expected a finite number"),
    (("train", "--out", "x", "--split", "0.9"), "--split:"),
])
def test_bad_arguments_are_named_in_one_line_without_a_traceback(args, message):
    out = cnngru(*args)
    assert out.returncode != 0 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_checkpoint_description_of_the_wrong_shape_is_named(tmp_path):
    import shutil

    from cnngru.paths import SHIPPED

    for change in ({"metadata": None}, {"config": None}, {"variant": ["gru"]},
                   {"config": {"hidden": "x"}}):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        shutil.copytree(SHIPPED / "gru", folder)
        meta = json.loads((folder / "checkpoint.json").read_text())
        (folder / "checkpoint.json").write_text(json.dumps({**meta, **change}))
        out = cnngru("generate", "A", "--model", str(folder), "--max-new-tokens", "2")
        assert out.returncode != 0 and "checkpoint.json" in out.stderr, (change, out.stderr)
        assert "Traceback" not in out.stderr, (change, out.stderr)


def test_a_reader_that_leaves_early_gets_no_traceback():
    shell = f"{sys.executable} -m cnngru.cli generate --max-new-tokens 2000 | head -c 20"
    out = subprocess.run(shell, shell=True, capture_output=True, text=True, timeout=300)
    assert len(out.stdout) == 20 and "Traceback" not in out.stderr, out.stderr


def test_bench_prints_speed_and_the_cost_ratio():
    out = cnngru("bench", "--models", "gru", "--repeats", "1")
    assert out.returncode == 0, out.stderr
    assert "| gru | cpu | numpy | off |" in out.stdout and "| gru | cpu | forward | off |" in out.stdout
    assert "cost/char 4000 vs 250" in out.stdout and "16 streams" in out.stdout


def test_bench_train_prints_characters_per_second_threads_and_idleness():
    out = cnngru("bench", "--train", "--variants", "gru", "--params", "100000", "--seconds", "0.5")
    assert out.returncode == 0, out.stderr
    assert "thread(s)" in out.stdout and "machine otherwise idle:" in out.stdout
    row = next(line for line in out.stdout.splitlines() if line.startswith("| gru |"))
    assert int(row.split("|")[3].replace(",", "")) > 0


def test_bench_train_ceiling_measures_the_gru_with_its_gates_free_and_puts_the_real_one_back():
    from cnngru.bench.training_floor import gates_free
    from cnngru.models import gru_sequence

    real = gru_sequence._GRULayer
    gru = torch.nn.GRU(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    with gates_free():
        free, _ = gru_sequence.gru_sequence(gru, x, None)
        free.sum().backward()  # every parameter gets a gradient of its shape
        assert all(p.grad is not None and p.grad.shape == p.shape for p in gru.parameters())
    assert gru_sequence._GRULayer is real
    assert not torch.allclose(free, gru_sequence.gru_sequence(gru, x, None)[0])  # not the GRU
    out = cnngru("bench", "--train", "--variants", "gru", "--params", "100000", "--seconds",
                 "0.5", "--ceiling")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("| gru |"))
    assert "gates free (ceiling)" in out.stdout and row.count("|") == 5 and "x)" in row


def test_train_with_a_time_budget_records_the_characters_it_measured(tmp_path):
    out = cnngru("train", "--variant", "gru", "--params", "60000", "--max-minutes", "0.05",
                 "--eval-every", "1000", "--out", str(tmp_path / "run"), "--quiet")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["max_chars"] == summary["planned_chars"] and summary["measured_chars_per_s"] > 0
    assert recorded["batch_size"] * recorded["seq_len"] * summary["steps"] == summary["chars"]


def test_eval_gives_intervals_and_paired_differences(tmp_path, corpus):
    text = tmp_path / "plays.txt"
    text.write_text(corpus.test[:60_000])
    out = cnngru("eval", "gru", "hybrid", "--corpus", str(text), "--split", "0.5,0.25,0.25",
                 "--no-samples")
    assert out.returncode == 0, out.stderr
    assert "gru: " in out.stdout and "vs gru" in out.stdout and "95% CI" in out.stdout


def test_train_refuses_a_bad_corpus_clearly(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    out = cnngru("train", "--corpus", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "run"))
    assert out.returncode != 0 and "empty" in out.stderr.lower() and "Traceback" not in out.stderr


@pytest.mark.parametrize("command", ["reproduce", "bench", "eval", "train-refiner", "serve"])
def test_every_subcommand_has_help(command):
    out = cnngru(command, "--help")
    assert out.returncode == 0 and "usage" in out.stdout.lower()


def test_training_versions_times_an_earlier_revision_beside_this_checkout(capsys):
    from cnngru.bench.training_versions import main

    main(["HEAD", "--batch-sizes", "4", "--seconds", "0.3", "--threads", "1", "--params", "60000"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 4 |")]
    assert [r.split("|")[2].strip() for r in rows] == ["HEAD", "this checkout"]
    spells = [[float(v.replace(",", "")) for v in r.split("|")[4].split(", ")] for r in rows]
    assert all(len(s) == 3 and min(s) > 0 for s in spells)
    assert rows[1].split("|")[5].strip().endswith("x")
