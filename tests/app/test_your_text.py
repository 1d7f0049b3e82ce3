"""The "Your text" tab served on localhost and driven with ``gradio_client``: a real training
subprocess on a real text that is not Shakespeare (the GNU GPL, as Debian ships it) at the API's
3-second test budget, the session's models used in Generate, Compare and Score, kept from other
sessions, downloaded and uploaded; every bad input; a job cancelled, a job killed mid-way.

One session trains once for the whole module (``trained``); the other tests reuse it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from tiny_zoo import tiny_checkpoints, tiny_zoo

import cnngru
from cnngru.app import build_demo
from cnngru.app.checkpoint_zip import pack
from cnngru.app.session_models import SHIPPED, YOURS
from cnngru.app.training_jobs import hard_limit
from cnngru.app.validation import InputError
from cnngru.app.your_text import uploaded_path
from cnngru.bench.demo import free_port
from cnngru.checkpoint import META
from cnngru.vocab import UNKNOWN

pytestmark = pytest.mark.slow
GPL = Path("/usr/share/common-licenses/GPL-3")
if not GPL.is_file():
    pytest.skip("Debian's copy of the GNU GPL is not here", allow_module_level=True)
TEXT = GPL.read_text(encoding="utf-8")
# the GPL with 3,000 CJK characters in its middle: thousands of distinct characters
MANY_CHARACTERS = TEXT[:20_000] + "".join(chr(0x4E00 + k) for k in range(3000)) + TEXT[20_000:]
SETTINGS = (60, 0.8, 0, 1.0, 5)  # max_new_tokens, temperature, top_k, top_p, seed


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


@pytest.fixture(scope="module")
def server(zoo):
    demo = serve(build_demo(zoo))
    yield demo
    demo.close()


def serve(demo):
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                quiet=True, share=False, ssr_mode=False)
    return demo


def new_client(server) -> Client:
    return Client(server.local_url, analytics_enabled=False, verbose=False)


@pytest.fixture(scope="module")
def owner(server) -> Client:
    """The session that trains once for the module."""
    return new_client(server)


@pytest.fixture(scope="module")
def trained(owner):
    """The owner's training run: every streamed update, and the models it left."""
    job = owner.submit(TEXT, None, "3s", api_name="/train_your_text")
    updates = list(job)
    return updates, job.result(), owner.predict(api_name="/your_models")


def train_error(client, text, file=None, budget="3s") -> str:
    with pytest.raises(AppError) as e:
        client.predict(text, file, budget, api_name="/train_your_text")
    return str(e.value)


def test_training_streams_its_progress_then_the_table_and_the_answer(trained):
    updates, (status, progress, curves, table, examples), own = trained
    assert len(updates) >= 3
    assert any("%" in u[1] and "left" in u[1] for u in updates), "a progress bar with time left"
    assert any(u[2] is not None for u in updates[:-1]), "curves drawn while it trains"
    assert any("Measuring" in u[0] or "Training" in u[0] for u in updates[:-1])
    assert "Trained" in status and "your text" in status
    assert "100%" in progress
    assert curves is not None  # the validation curves
    for v in cnngru.VARIANTS:
        assert f"| {v} |" in table
    assert "One seed each" in table and "tie" in table
    assert own["models"] == list(cnngru.VARIANTS) and own["origin"] == "trained"
    assert own["examples"] and all(e in TEXT for e in own["examples"])
    rows = {r["name"]: r for r in own["table"]["rows"]}
    assert len({r["chars"] for r in rows.values()}) == 1  # every strategy saw the same characters
    assert all(r["val_bpc"] < 8 for r in rows.values())  # below a uniform guess over the vocabulary
    assert own["table"]["took_s"] < hard_limit(3)


def test_session_hybrid_generates_with_its_figures(owner, trained):
    prompt = trained[2]["examples"][0]
    text, status, attention, characters, *_ = owner.predict(
        "hybrid", prompt, *SETTINGS, False, False, YOURS, api_name="/generate")
    assert text.startswith(prompt) and len(text) == len(prompt) + 60
    assert attention is not None and characters is not None  # attention and CNN influence


def test_session_models_are_compared_and_score_differently_from_the_shipped(owner, trained):
    prompt = trained[2]["examples"][0]
    result = owner.predict(prompt, 40, 0.8, 0, 1.0, 3, False, False, YOURS, api_name="/compare")
    texts = result[:4]
    assert all(len(t) == 40 for t in texts)
    passage = TEXT[5000:5600]
    own = owner.predict(passage, "hybrid", "gru", False, YOURS, api_name="/score")[0]
    shipped = owner.predict(passage, "hybrid", "gru", True, SHIPPED, api_name="/score")[0]
    own_bpc = {r[0]: r[1] for r in own["data"]}
    assert set(own_bpc) == set(cnngru.VARIANTS)
    # trained on this very text, they read it better than the tiny random stand-ins do
    assert max(own_bpc.values()) < min(r[1] for r in shipped["data"])


def test_another_session_does_not_see_them(server, trained):
    other = new_client(server)
    assert other.predict(api_name="/your_models")["models"] == []
    with pytest.raises(AppError, match="no models of your own"):
        other.predict("hybrid", "The ", *SETTINGS, False, False, YOURS, api_name="/generate")
    with pytest.raises(AppError, match="no models of your own"):
        other.predict(api_name="/download_your_models")


def test_a_prompt_outside_the_session_vocabulary_is_refused_naming_the_characters(owner, trained):
    with pytest.raises(AppError, match="'ж'"):
        owner.predict("hybrid", "The жук", *SETTINGS, False, False, YOURS, api_name="/generate")
    text = owner.predict("hybrid", "The жук", *SETTINGS, True, False, YOURS,
                         api_name="/generate")[0]
    assert "ж" not in text  # replaced, as asked


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("a few words", "at least 10,000"),
    ("ab" * 2_500_001, "the limit is 5,000,000"),
    ("a" * 20_000, "one character repeated"),
])
def test_bad_texts_are_refused_with_a_clear_message(owner, text, message):
    assert message in train_error(owner, text)


def test_bad_files_and_budgets_are_refused(owner, tmp_path):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 100)
    assert "binary" in train_error(owner, "", handle_file(str(binary)))
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(("Caf\u00e9 cr\u00e8me. " * 2000).encode("latin-1"))
    assert "not UTF-8" in train_error(owner, "", handle_file(str(latin)))
    assert "budget must be one of" in train_error(owner, TEXT, budget="2h")


def test_a_file_path_that_is_not_an_upload_is_refused():
    """Events run without Gradio's preprocessing, so a request naming a server file by path
    (which gradio_client would upload first, hence the direct call) meets our own check."""
    with pytest.raises(InputError, match="not found among this server's uploads"):
        uploaded_path({"path": str(GPL), "meta": {"_type": "gradio.FileData"}})


def test_an_uploaded_text_file_is_read(owner):
    """The too-short check runs on the file's text, which shows that the file was read."""
    assert "has 14 characters" in train_error(
        owner, "", handle_file(str(write_tmp("short.txt", "Hello, world!\n"))))


def write_tmp(name: str, content: str | bytes) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_download_gives_checkpoints_that_load_and_upload_brings_them_back(server, owner, trained,
                                                                          tmp_path):
    zip_path = Path(owner.predict(api_name="/download_your_models"))
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(tmp_path)
    folder = tmp_path / "cnngru-your-text"
    assert cnngru.load(folder / "hybrid").variant == "hybrid"
    os.environ["CNNGRU_CHECKPOINTS"], old = str(folder), os.environ.get("CNNGRU_CHECKPOINTS")
    try:
        assert cnngru.load("cnn-post").path == folder / "cnn-post"
    finally:
        os.environ["CNNGRU_CHECKPOINTS"] = old or ""
    other = new_client(server)
    status, table, examples = other.predict(handle_file(str(zip_path)),
                                            api_name="/upload_your_models")
    assert "Uploaded" in status and "| hybrid |" in table and examples
    assert other.predict(api_name="/your_models")["origin"] == "uploaded"
    text = other.predict("gru", "The ", *SETTINGS, False, False, YOURS, api_name="/generate")[0]
    assert len(text) == 4 + 60


def test_closing_the_page_frees_its_models(server, owner, trained):
    """A page holds a heartbeat connection; when it closes, Gradio runs the unload event."""
    client = new_client(server)
    client.predict(handle_file(owner.predict(api_name="/download_your_models")),
                   api_name="/upload_your_models")
    folder = server.session_models.get(client.session_hash).folder
    url = f"{server.local_url}gradio_api/heartbeat/{client.session_hash}"
    with httpx.stream("GET", url, timeout=10) as page:
        next(page.iter_lines())  # the page is open
    wait_for(lambda: not folder.exists(), 15, "the models to be freed")
    assert client.predict(api_name="/your_models")["models"] == []
    assert owner.predict(api_name="/your_models")["models"]  # other sessions keep theirs


def zip_of(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def upload_error(client, path: Path) -> str:
    with pytest.raises(AppError) as e:
        client.predict(handle_file(str(path)), api_name="/upload_your_models")
    return str(e.value)


def test_uploads_that_are_not_our_checkpoints_are_refused(server, owner, trained, tmp_path):
    client = new_client(server)
    not_zip = tmp_path / "models.zip"
    not_zip.write_bytes(b"PK but not really a zip" * 10)
    assert "not a zip file" in upload_error(client, not_zip)
    assert "only .safetensors and .json" in upload_error(
        client, zip_of(tmp_path / "a.zip", {"gru/notes.txt": b"hello"}))
    assert "outside its folder" in upload_error(
        client, zip_of(tmp_path / "b.zip", {"../gru/checkpoint.json": b"{}"}))
    assert "at most 16" in upload_error(
        client, zip_of(tmp_path / "c.zip", {f"gru/{k}.json": b"{}" for k in range(17)}))
    assert "lacks the checkpoint" in upload_error(
        client, zip_of(tmp_path / "d.zip", {"gru/checkpoint.json": b"{}"}))
    # mismatched: the trained zip with its gru replaced by one trained on another text
    good = Path(owner.predict(api_name="/download_your_models"))
    stranger = tiny_checkpoints(tmp_path / "stranger") / "gru"
    with zipfile.ZipFile(good) as z:
        files = {n: z.read(n) for n in z.namelist() if "/gru/" not in n}
    files |= {f"cnngru-your-text/gru/{f.name}": f.read_bytes() for f in stranger.iterdir()}
    assert "do not belong together" in upload_error(client, zip_of(tmp_path / "e.zip", files))
    # a corrupt weights file is named
    with zipfile.ZipFile(good) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["cnngru-your-text/hybrid/model.safetensors"] = b"\x00" * 100
    assert "hybrid checkpoint in the zip cannot be loaded" in upload_error(
        client, zip_of(tmp_path / "f.zip", files))
    assert client.predict(api_name="/your_models")["models"] == []  # nothing half-loaded


def tiny_upload(folder: Path, table: str | None = None) -> Path:
    """A zip of four small checkpoints as Download gives it, with ``table`` as its table.json."""
    folder = tiny_checkpoints(folder)
    if table is not None:
        (folder / "table.json").write_text(table)
    return pack(folder, folder / "models.zip")


@pytest.mark.parametrize("table", ['{"answer": "x"}', '["answer"]',
                                   '{"rows": [{"name": "gru"}], "answer": "x"}', "{not json"])
def test_a_table_that_cannot_be_shown_is_left_out_and_the_models_upload(server, tmp_path, table):
    client = new_client(server)
    status, shown, _examples = client.predict(handle_file(str(tiny_upload(tmp_path, table))),
                                              api_name="/upload_your_models")
    assert status.startswith("Uploaded: gru, cnn-pre, cnn-post, hybrid")
    assert "table.json could not be read and was left out" in status
    assert shown == ""
    own = client.predict(api_name="/your_models")
    assert own["models"] == list(cnngru.VARIANTS) and own["table"] is None


def test_an_upload_whose_config_claims_a_huge_model_is_refused_naming_the_file(server, tmp_path):
    """The shapes are compared before the model is built: a hidden size of two million (48 TB
    of weights) costs nothing and is named as weights that do not fit the config."""
    folder = tiny_checkpoints(tmp_path / "huge")
    meta = json.loads((folder / "hybrid" / META).read_text())
    meta["config"]["hidden"] = 2_000_000
    (folder / "hybrid" / META).write_text(json.dumps(meta))
    client = new_client(server)
    started = time.perf_counter()
    message = upload_error(client, pack(folder, tmp_path / "huge.zip"))
    assert ("The hybrid checkpoint in the zip cannot be loaded: hybrid/model.safetensors: "
            "weights do not fit the config") in message
    assert time.perf_counter() - started < 30
    assert client.predict(api_name="/your_models")["models"] == []


def stream_in_background(job) -> list:
    updates: list = []
    threading.Thread(target=lambda: updates.extend(job), daemon=True).start()
    return updates


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_job_killed_midway_keeps_its_models_and_the_line_goes_on(server, trained):
    """A text of thousands of distinct characters trains (its rarer characters become one
    unknown symbol); a second job waits its place in line and is cancelled there; the first
    one's process is killed after its first round, and what it had saved is kept."""
    line = server.training_line
    killed = new_client(server)
    job = killed.submit(MANY_CHARACTERS, None, "30s", api_name="/train_your_text")
    first = stream_in_background(job)
    wait_for(lambda: first, 60, "the first update")
    assert "255 most frequent are kept" in first[0][0]

    waiting = new_client(server)
    second = waiting.submit(TEXT, None, "3s", api_name="/train_your_text")
    seen = stream_in_background(second)
    wait_for(lambda: any("place 2" in u[0] for u in seen), 30, "the place in line")
    assert "already in the line" in train_error(waiting, TEXT)  # one job per session
    assert "taken out of the line" in waiting.predict(api_name="/cancel_training")
    assert "Cancelled before it started" in second.result(timeout=30)[0]

    wait_for(lambda: line.running is not None and len(line.running.progress) >= 4, 120,
             "a first round of slices")
    os.killpg(line.running.pid, signal.SIGKILL)
    status = job.result(timeout=60)[0]
    assert "killed" in status and "kept" in status
    own = killed.predict(api_name="/your_models")
    assert own["models"] and own["table"] is None
    text = killed.predict(own["models"][-1], "The ", *SETTINGS, False, False, YOURS,
                          api_name="/generate")[0]
    assert len(text) == 4 + 60
    assert UNKNOWN in cnngru.load(server.session_models.get(
        own_hash(killed)).folder / own["models"][0]).vocab.chars


def own_hash(client: Client) -> str:
    return client.session_hash


def test_a_job_that_saved_only_some_strategies_leaves_the_models_the_session_had(server,
                                                                                  tmp_path):
    """Killed after gru's first slice, before cnn-pre's: a set of one strategy would leave
    Generate's default (hybrid), Compare and Download broken, so none is kept, and the four
    models the session had stay in use."""
    line = server.training_line
    client = new_client(server)
    client.predict(handle_file(str(tiny_upload(tmp_path))), api_name="/upload_your_models")
    job = client.submit(TEXT, None, "1min", api_name="/train_your_text")
    stream_in_background(job)
    wait_for(lambda: line.running is not None and line.running.owner == client.session_hash
             and line.running.progress, 120, "gru's first slice")
    os.killpg(line.running.pid, signal.SIGKILL)
    status = job.result(timeout=60)[0]
    assert "Only gru had saved a checkpoint" in status and "none was kept" in status
    assert "The models you had before are still under *models: your text*" in status
    own = client.predict(api_name="/your_models")
    assert own["models"] == list(cnngru.VARIANTS) and own["origin"] == "uploaded"
    text = client.predict("hybrid", "the ", *SETTINGS, False, False, YOURS,
                          api_name="/generate")[0]
    assert len(text) == 4 + 60
    again = new_client(server)  # what Download gives, Upload takes back
    status = again.predict(handle_file(client.predict(api_name="/download_your_models")),
                           api_name="/upload_your_models")[0]
    assert status.startswith("Uploaded: gru, cnn-pre, cnn-post, hybrid")


@pytest.fixture(scope="module")
def cancelled(server, trained):
    """A job cancelled after its first slice: its session and its final update. After the
    kill above, the line still runs jobs."""
    line = server.training_line
    client = new_client(server)
    job = client.submit(MANY_CHARACTERS, None, "3s", api_name="/train_your_text")
    stream_in_background(job)
    wait_for(lambda: line.running is not None and line.running.owner == client.session_hash
             and line.running.progress, 60, "the first slice")
    assert "stop after the round" in client.predict(api_name="/cancel_training")
    return client, job.result(timeout=60)


def test_cancel_stops_every_strategy_at_the_same_point_and_keeps_them(cancelled, trained):
    """The table's note says how the rarer of thousands of distinct characters were counted."""
    client, (status, _progress, _curves, table, _examples) = cancelled
    assert "Cancelled" in status and "| hybrid |" in table
    assert "one unknown symbol, whose probability counts in the BPC" in table
    rows = client.predict(api_name="/your_models")["table"]["rows"]
    chars = {r["chars"] for r in rows}
    assert len(chars) == 1  # the same point for all four
    assert chars.pop() < json.loads(json.dumps(trained[2]["table"]))["plan"]["chars"]


def test_a_cancelled_job_answers_for_the_models_as_they_were_when_stopped(cancelled, trained):
    client, (_status, _progress, _curves, table, _examples) = cancelled
    own = client.predict(api_name="/your_models")["table"]
    share = own["rows"][0]["chars"] / own["plan"]["chars"]
    note = (f"Training was stopped at {share:.0%} of its budget: this verdict is on the models "
            "as they were then.")
    assert own["answer"].startswith(note) and note in table
    assert "Training was stopped" not in trained[2]["table"]["answer"]  # one that finished
