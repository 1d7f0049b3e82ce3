"""The store of visitors' own models: keyed by session, bounded by count, memory and idle time,
least recently used dropped first, each drop explained; and the training line's hard limit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tiny_zoo import tiny_checkpoints

from cnngru.app import training_jobs
from cnngru.app.session_models import SHIPPED, YOURS, SessionModels, draw_examples
from cnngru.app.training_jobs import DONE, FAILED, Job, TrainingLine, new_job
from cnngru.app.validation import InputError
from cnngru.app.your_text import loader

GPL = Path("/usr/share/common-licenses/GPL-3")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    return tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


def copy_of(checkpoints: Path, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(checkpoints, tmp_path / name))


def test_models_belong_to_their_session_only(checkpoints, tmp_path):
    store = SessionModels()
    own = store.put("alice", copy_of(checkpoints, tmp_path, "a"), None, "uploaded")
    assert store.pick(YOURS, None, "alice") is own.models
    assert store.pick(SHIPPED, "the shipped ones", "alice") == "the shipped ones"
    with pytest.raises(InputError, match="no models of your own"):
        store.pick(YOURS, None, "bob")
    with pytest.raises(InputError, match="models must be one of"):
        store.pick("everyone's", None, "alice")


def test_the_least_recently_used_session_is_dropped_first_and_told_why(checkpoints, tmp_path):
    store = SessionModels(max_sessions=2)
    folders = {o: copy_of(checkpoints, tmp_path, o) for o in "abc"}
    store.put("a", folders["a"], None, "trained")
    store.put("b", folders["b"], None, "trained")
    store.models("a")  # a is used again: b is now the least recent
    store.put("c", folders["c"], None, "trained")
    assert store.owners == ["a", "c"]
    with pytest.raises(InputError, match="2 other sessions have trained models"):
        store.models("b")
    assert not folders["b"].exists()  # its files go with it


def test_the_memory_cap_keeps_the_newest(checkpoints, tmp_path):
    one = SessionModels().put("x", copy_of(checkpoints, tmp_path, "x"), None, "trained").nbytes
    store = SessionModels(memory_cap=int(1.5 * one))
    store.put("a", copy_of(checkpoints, tmp_path, "a"), None, "trained")
    store.put("b", copy_of(checkpoints, tmp_path, "b"), None, "trained")
    assert store.owners == ["b"] and store.nbytes <= 1.5 * one
    with pytest.raises(InputError, match="needed the memory"):
        store.models("a")


def test_idle_sessions_lose_their_models(checkpoints, tmp_path):
    store = SessionModels(idle_timeout=0.2)
    store.put("a", copy_of(checkpoints, tmp_path, "a"), None, "trained")
    time.sleep(0.3)
    with pytest.raises(InputError, match="unused for"):
        store.models("a")


def test_example_prompts_are_line_starts_from_the_text():
    text = GPL.read_text() if GPL.is_file() else "\n".join(f"line {k} of a text" for k in range(500))
    examples = draw_examples(text)
    assert len(examples) == 5 and all(e in text and e.strip() for e in examples)


def test_compare_counts_real_words_against_the_visitors_whole_text(checkpoints, tmp_path):
    """Not against the few example prompts: a model that writes the text's words scores them."""
    from cnngru.app.checkpoint_zip import pack, unpack_into_fresh
    from cnngru.app.session_models import write_examples, write_words
    from cnngru.sample_quality import real_word_rate, words_in

    text = GPL.read_text() if GPL.is_file() else "\n".join(f"line {k} of a text" for k in range(500))
    folder = copy_of(checkpoints, tmp_path, "trained")
    write_examples(folder, text)
    write_words(folder, text)
    own = SessionModels().put("alice", folder, None, "trained")
    assert own.models.words == frozenset(words_in(text))  # under MAX_WORDS: all of them
    later = " ".join(text.split()[-400:])  # far from every example prompt
    assert real_word_rate(later, own.models.words) > 0.9
    unpacked = unpack_into_fresh(pack(folder, tmp_path / "mine.zip"), tmp_path / "up").folder
    assert SessionModels().put("bob", unpacked, None, "uploaded").models.words == own.models.words
    (unpacked / "words.json").unlink()  # a zip from before the words were kept: no rate at all
    assert SessionModels().put("carol", unpacked, None, "uploaded").models.words == frozenset()


def test_a_job_past_its_hard_limit_is_killed_and_says_so(tmp_path, monkeypatch):
    """The limit really kills: with no margin, a half-second budget gets 2 s, too little even to
    start training, and the process group is gone after."""
    monkeypatch.setattr(training_jobs, "HARD_LIMIT_MARGIN", 0)
    text = GPL.read_text() if GPL.is_file() else "".join(chr(97 + k % 26) for k in range(20_000))
    ended = []
    line = TrainingLine(tmp_path / "rates.json", on_end=ended.append)
    job = line.submit(new_job("alice", text, 0.5, tmp_path))
    assert job.done.wait(30)
    assert job.state == FAILED and ended == [job]
    assert "hard time limit of 2 s" in job.message and "nothing could be kept" in job.message
    assert job.ended - job.started < 4
    with pytest.raises(ProcessLookupError):
        os.killpg(job.pid, 0)


def test_idle_sessions_are_swept_even_when_nobody_visits(checkpoints, tmp_path):
    store = SessionModels(idle_timeout=0.1)
    folder = copy_of(checkpoints, tmp_path, "a")
    store.put("a", folder, None, "trained")
    threading.Thread(target=store.sweep_forever, args=(0.05,), daemon=True).start()
    time.sleep(0.5)
    assert store.owners == [] and not folder.exists()


def test_a_job_that_ends_after_its_page_closed_leaves_nothing(checkpoints, tmp_path):
    store = SessionModels()
    store.close("gone")
    job = Job("gone", copy_of(checkpoints, tmp_path, "job"), 3.0, state=DONE)
    loader(store)(job)
    assert store.owners == [] and not job.folder.exists()


def test_a_job_that_left_only_some_strategies_does_not_replace_the_sessions_models(
        checkpoints, tmp_path):
    store = SessionModels()
    held = store.put("alice", copy_of(checkpoints, tmp_path, "held"), None, "uploaded")
    partial = copy_of(checkpoints, tmp_path, "partial")
    for v in ("cnn-pre", "cnn-post", "hybrid"):
        shutil.rmtree(partial / v)
    with pytest.raises(InputError, match="cnn-pre, cnn-post, hybrid had saved no checkpoint"):
        store.put("alice", partial, None, "trained")
    loader(store)(Job("alice", partial, 3.0, state=FAILED))
    assert store.get("alice") is held and held.folder.exists()
    assert not partial.exists()  # the job's remains are cleared away


def test_a_training_process_ends_when_its_app_is_gone(tmp_path):
    """The app is killed (no clean-up runs); its training process notices and exits."""
    (tmp_path / "text.txt").write_text(GPL.read_text() if GPL.is_file() else "ab" * 10_000)
    app = subprocess.run(
        [sys.executable, "-c", "import os, subprocess, sys; p = subprocess.Popen([sys.executable, "
         "'-m', 'cnngru.evaluation.study_worker', sys.argv[1], '30'], stdout=subprocess.DEVNULL, "
         "stderr=subprocess.DEVNULL, env={**os.environ, 'CNNGRU_APP_PID': str(os.getpid())}); "
         "print(p.pid)", str(tmp_path)],
        capture_output=True, text=True, check=True)
    worker = int(app.stdout)
    deadline = time.time() + 15
    while Path(f"/proc/{worker}").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{worker}").exists() or "Z" in Path(f"/proc/{worker}/stat").read_text()
