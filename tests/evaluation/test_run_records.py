"""Run records are reused only when made by the same code; documentation edits do not count."""

from cnngru.evaluation import run_records
from cnngru.evaluation.run_records import code_version, read, source_fingerprint, write
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


def test_a_record_round_trips_and_is_not_reused_by_other_code_or_another_recipe(tmp_path):
    config = TrainConfig(variant="cnn-pre", params=300_000, max_chars=1_000_000, lr=5e-3, seed=1)
    write(config, {"val_bpc": 2.5, "curve": [[0, 4.0], [1_000_000, 2.5]]}, tmp_path, code="v1")
    record = read(config, tmp_path, code="v1")
    assert record["val_bpc"] == 2.5 and record["config"]["lr"] == 5e-3
    assert read(config, tmp_path, code="v2") is None
    other = TrainConfig(variant="cnn-pre", params=300_000, max_chars=1_000_000, lr=1e-2, seed=1)
    assert read(other, tmp_path, code="v1") is None
    assert not list(tmp_path.glob("*.tmp"))
