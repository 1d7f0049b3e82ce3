"""The GPU step bench runs on a machine without a GPU too: the CPU rows, then its table."""

import json

import torch

from cnngru.bench import cuda_step


def test_the_bench_measures_the_cpu_rows_and_tables_its_file(tmp_path, capsys):
    out = tmp_path / "step.json"
    cuda_step.main(["--variants", "gru", "hybrid", "--batches", "1", "3", "--steps", "5",
                    "--json", str(out)])
    record = json.loads(out.read_text())
    ways = {r["way"] for r in record["rows"]}
    assert ways == ({"cpu fused", "cuda forward", "cuda graph"} if torch.cuda.is_available()
                    else {"cpu fused"})
    assert all(isinstance(r["chars_per_s"], int) and r["chars_per_s"] > 0 for r in record["rows"])
    capsys.readouterr()
    cuda_step.main(["--report", str(out), "--write", str(tmp_path / "step.txt")])
    table = (tmp_path / "step.txt").read_text()
    assert "| model | way | 1 row | 3 rows |" in table and "| hybrid | cpu fused |" in table


def test_a_way_that_fails_says_why_in_its_row():
    def broken():
        raise RuntimeError("capture refused")
    row = cuda_step.measured("gru", "cuda graph", 16, broken)
    assert row["chars_per_s"] == "failed: RuntimeError: capture refused"
    assert "failed: RuntimeError" in cuda_step.table([row], (16,))
