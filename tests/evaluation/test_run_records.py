"""Run records are reused only when made by the same code; documentation edits do not count."""

import inspect
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cnngru.corpus import Corpus
from cnngru.evaluation import run_records
from cnngru.evaluation.run_records import (
    Records,
    code_version,
    data_version,
    precision_of,
    source_fingerprint,
)
from cnngru.training import TrainConfig

CODE = '''
def step(x):
    """Why it does this."""
    return x + 1  # a comment
'''


def test_docstrings_comments_and_layout_do_not_change_the_fingerprint():
    reworded = CODE.replace("Why it does this.", "Reworded.").replace("# a comment", "")
    assert source_fingerprint(reworded) == source_fingerprint(CODE)
    assert source_fingerprint(reworded.replace("return x + 1", "return (x\n        + 1)")) == \
        source_fingerprint(CODE)


def test_a_change_to_the_code_changes_the_fingerprint():
    assert source_fingerprint(CODE.replace("x + 1", "x + 2")) != source_fingerprint(CODE)


def test_the_code_version_covers_the_model_and_training_files(tmp_path):
    for name in run_records.CODE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(CODE)
    before = code_version(root=tmp_path)
    (tmp_path / "cnngru/models/recurrent.py").write_text(CODE.replace("x + 1", "x - 1"))
    assert code_version(root=tmp_path) != before
    assert len(code_version()) == 12  # today's repository


def test_the_scoring_has_its_own_version_and_a_record_scored_otherwise_is_not_reused(tmp_path):
    assert run_records.SCORING == ("cnngru/evaluation/scoring.py",)
    assert not set(run_records.SCORING) & set(run_records.CODE)
    config = TrainConfig(variant="gru", params=100_000, max_chars=1_000_000, lr=1e-2)
    Records(tmp_path, "v1", "d1", "fp32", scoring="s1").write(config, {"val_bpc": 2.5})
    assert Records(tmp_path, "v1", "d1", "fp32", scoring="s1").read(config)["scoring"] == "s1"
    assert Records(tmp_path, "v1", "d1", "fp32", scoring="s2").read(config) is None
    assert Records(tmp_path, "v1", "d1", "fp32").scoring == run_records.scoring_version()


def test_a_record_round_trips_and_is_not_reused_by_other_code_data_precision_or_recipe(tmp_path):
    config = TrainConfig(variant="cnn-pre", design="depthwise4", params=300_000,
                         max_chars=1_000_000, lr=5e-3, seed=1)
    Records(tmp_path, "v1", "d1", "fp32").write(
        config, {"val_bpc": 2.5, "curve": [[0, 4.0], [1_000_000, 2.5]]})
    record = Records(tmp_path, "v1", "d1", "fp32").read(config)
    assert record["val_bpc"] == 2.5 and record["config"]["lr"] == 5e-3
    assert record["name"].startswith("cnn-pre-depthwise4-300k-lr0.005-1000000-s1-fp32-")
    assert Records(tmp_path, "v2", "d1", "fp32").read(config) is None  # other code
    assert Records(tmp_path, "v1", "d2", "fp32").read(config) is None  # other text
    assert Records(tmp_path, "v1", "d1", "bf16").read(config) is None  # other precision
    other = TrainConfig(variant="cnn-pre", design="depthwise4", params=300_000,
                        max_chars=1_000_000, lr=1e-2, seed=1)
    assert Records(tmp_path, "v1", "d1", "fp32").read(other) is None
    assert not list(tmp_path.glob("*.tmp"))
    name = record["name"]
    assert Records(tmp_path, "v1", "d1", "fp32").holds(name)
    assert not Records(tmp_path, "v2", "d1", "fp32").holds(name)
    path = tmp_path / f"{name}.json"  # a record whose own field says another precision
    path.write_text(json.dumps({**json.loads(path.read_text()), "precision": "bf16"}))
    assert Records(tmp_path, "v1", "d1", "fp32").read(config) is None


def test_the_data_version_follows_the_text_and_the_precision_the_device():
    a = Corpus("a", "train text", "valid", "test", ["a", "b"], "")
    b = Corpus("a", "train text", "valid", "test!", ["a", "b"], "")
    assert data_version(a) == data_version(a) != data_version(b)
    assert precision_of("cpu") == "fp32" and precision_of("cuda:0") == "bf16"


def test_records_are_not_ignored_by_git():
    """They are the study's results: a sitting on another machine reads them from the clone."""
    import shutil
    import subprocess

    from cnngru.paths import REPO

    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", "results/runs/any-run.json"], cwd=REPO)
    assert ignored.returncode == 1, "results/runs/ is ignored by .gitignore"



OTHER_PYTHONS = [*sorted(Path("/root/.pyenv/versions").glob("3.1[1-9]*/bin/python")),
                 *filter(None, map(shutil.which, ("python3.11", "python3.12", "python3.13")))]


def test_every_python_version_gives_the_same_fingerprint():
    """A record made on a machine with another Python (a GPU machine's 3.12, say) is reused:
    ``ast.dump`` differs between versions, the fingerprint must not. Checked against the value
    that 3.11, 3.12 and 3.13 give, and against each of them that is installed here."""
    source = CODE + ("\n\nclass Holder:\n    def method(self, *a, k=1, **kw) -> int:\n"
                     "        return f'{k!r:>3}' if a else {**kw}\n")
    here = source_fingerprint(source)
    assert here[:16] == "929c39aefa855191"
    program = ("import ast, hashlib, sys\n" + inspect.getsource(run_records._canonical)
               + inspect.getsource(source_fingerprint)
               + "print(source_fingerprint(sys.stdin.read()))\n")
    for python in OTHER_PYTHONS:
        run = subprocess.run([str(python), "-c", program], input=source, capture_output=True,
                             text=True)
        if run.returncode == 0:  # a pyenv shim of a version not selected answers with an error
            assert run.stdout.strip() == here, python
