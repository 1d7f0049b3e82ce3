"""The demo served on localhost from the shipped checkpoints, driven with ``gradio_client``:
every named endpoint, streaming, response sizes, every kind of invalid input, and the queue: room
for a crowd, and a bound that holds."""

from __future__ import annotations

import gc
import json
import socket
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import QueueError
from tiny_zoo import tiny_checkpoints

import cnngru
from cnngru.app import build_demo, common, launch
from cnngru.app.checkpoint_zip import MAX_ZIP, pack
from cnngru.app.loaded_models import load_models
from cnngru.app.session_models import YOURS
from cnngru.app.validation import MAX_NEW_TOKENS
from cnngru.app.your_text import LARGEST_UPLOAD
from cnngru.bench.demo import response_size

pytestmark = pytest.mark.slow
GENERIC = "upstream Gradio app has raised an exception"
SETTINGS = dict(max_new_tokens=120, temperature=0.8, top_k=0, top_p=1.0, seed=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def models():
    return load_models()  # the shipped checkpoints (plus CNNGRU_CHECKPOINTS, if set)


def serve(demo):
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                quiet=True, share=False, ssr_mode=False)
    return demo


@pytest.fixture(scope="module")
def server(models):
    demo = serve(build_demo(models))
    yield demo
    demo.close()


@pytest.fixture
def client(server) -> Client:
    return Client(server.local_url, analytics_enabled=False, verbose=False)


def generate_args(prompt="ROMEO.\n", strategy="hybrid", replace=False, refine=False, **changes):
    s = {**SETTINGS, **changes}
    return (strategy, prompt, s["max_new_tokens"], s["temperature"], s["top_k"], s["top_p"],
            s["seed"], replace, refine)


def test_every_action_is_a_named_endpoint(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/generate", "/continue_generation", "/compare", "/score",
                              "/results", "/refine", "/numbers", "/engine_stats",
                              "/train_your_text", "/cancel_training", "/download_your_models",
                              "/upload_your_models", "/your_models", "/inside_filters",
                              "/filter_search", "/inside_units", "/unit_view", "/unit_values"}
    names = [p["parameter_name"] for p in endpoints["/generate"]["parameters"]]
    assert names[:7] == ["strategy", "prompt", "max_new_tokens", "temperature", "top_k", "top_p",
                         "seed"]


def test_launch_refuses_an_upload_over_the_largest_limit_while_it_arrives(models):
    """``launch`` (what app.py and ``cnngru serve`` run) gives Gradio the largest upload the
    demo takes, the 64 MB zip: one byte more is refused as it streams in, never kept."""
    assert LARGEST_UPLOAD == MAX_ZIP
    demo = launch("127.0.0.1", free_port(), models=models, prevent_thread_lock=True, quiet=True)
    try:
        url = f"{demo.local_url}gradio_api/upload"
        fits = httpx.post(url, files={"files": ("models.zip", b"PK" * 1000)}, timeout=60)
        assert fits.status_code == 200
        over = httpx.post(url, files={"files": ("models.zip", bytes(LARGEST_UPLOAD + 1))},
                          timeout=60)
        assert over.status_code == 413 and "maximum allowed size" in over.text
    finally:
        demo.close()
        gc.unfreeze()  # launch froze what the server held at start


def test_generations_run_in_the_engine_which_counts_its_batched_steps(client):
    before = client.predict(api_name="/engine_stats")["gru"]
    jobs = [client.submit(*generate_args("The ", "gru", max_new_tokens=60, seed=k),
                          api_name="/generate") for k in range(4)]
    texts = [job.result(timeout=120)[0] for job in jobs]
    after = client.predict(api_name="/engine_stats")["gru"]
    assert all(len(t) == 4 + 60 for t in texts)
    assert after["characters"] - before["characters"] == 4 * 60
    assert 1 <= after["steps"] - before["steps"] <= 4 * 60
    assert after["active_rows"] == 0  # every finished request freed its row


def test_generate_streams_the_text_then_the_figures_and_numbers_on_request(client):
    job = client.submit(*generate_args(max_new_tokens=2000), api_name="/generate")
    updates = list(job)
    texts = [u[0] for u in updates]
    assert len(updates) >= 3, "the text should arrive in several updates"
    assert texts[0].startswith("ROMEO.\n") and len(texts[0]) < len(texts[-1])
    assert all(len(a) <= len(b) for a, b in zip(texts, texts[1:], strict=False))
    text, status, attention, characters, numbers, _refined, coloured = job.result()
    assert len(text) == len("ROMEO.\n") + 2000 and "seed 5" in status
    assert coloured.count("<i class=") == len(text)  # the text coloured per character
    assert json.loads(attention["plot"])["data"][0]["type"] == "heatmap"
    assert numbers is None  # the JSON is written when asked for, by /numbers
    data = json.loads(Path(client.predict(api_name="/numbers")).read_text())
    assert data["text"] == text and len(data["probability"]) == len(text)
    assert data["settings"]["temperature"] == 0.8


def test_a_200_character_hybrid_answer_is_at_most_100_kb_figures_included(client):
    text, status, attention, characters, *_ = client.predict(
        *generate_args(max_new_tokens=200, seed=11), api_name="/generate")
    assert len(text) == len("ROMEO.\n") + 200
    assert json.loads(attention["plot"])["data"][0]["z"]  # the figures are in it
    assert len(json.loads(characters["plot"])["data"]) == 3
    size = response_size((text, status, attention, characters, *_))
    assert size <= 100_000, f"{size:,} bytes"


def test_numbers_before_generating_are_refused(server):
    fresh = Client(server.local_url, analytics_enabled=False, verbose=False)
    with pytest.raises(AppError, match="no numbers yet"):
        fresh.predict(api_name="/numbers")


def test_the_same_seed_gives_the_same_text(client):
    first = client.predict(*generate_args(strategy="gru"), api_name="/generate")[0]
    again = client.predict(*generate_args(strategy="gru"), api_name="/generate")[0]
    other = client.predict(*generate_args(strategy="gru", seed=6), api_name="/generate")[0]
    assert first == again != other


def test_continue_picks_up_where_the_text_stopped(client):
    first = client.predict(*generate_args(temperature=0), api_name="/generate")[0]
    more = client.predict(100, 0, 0, 1.0, 5, False, api_name="/continue_generation")[0]
    whole = client.predict(*generate_args(temperature=0, max_new_tokens=220),
                           api_name="/generate")[0]
    assert more.startswith(first) and len(more) == len(first) + 100
    assert more == whole  # greedy: the carried state continues exactly


def test_continue_refuses_to_refine_the_visitors_own_models_as_generate_does(models, server,
                                                                             tmp_path):
    """The refiner was trained on the shipped corpus: neither Generate nor Continue applies it
    to a visitor's own models, while a shipped model's text is still refined when continued."""
    if models.refiner is None:
        pytest.skip(f"no shipped refiner here: {models.refiner_note}")
    client = Client(server.local_url, analytics_enabled=False, verbose=False)
    client.predict(handle_file(str(pack(tiny_checkpoints(tmp_path), tmp_path / "mine.zip"))),
                   api_name="/upload_your_models")
    with pytest.raises(AppError, match="not offered for your own models"):
        client.predict(*generate_args("the ", "gru", refine=True), YOURS, api_name="/generate")
    client.predict(*generate_args("the ", "gru"), YOURS, api_name="/generate")
    with pytest.raises(AppError, match="not offered for your own models"):
        client.predict(40, 0.8, 0, 1.0, 5, True, api_name="/continue_generation")
    client.predict(*generate_args(strategy="gru"), api_name="/generate")  # shipped
    diff = client.predict(40, 0.8, 0, 1.0, 5, True, api_name="/continue_generation")[5]
    assert "Before" in diff  # the refiner's diff of the shipped model's text


def test_continue_before_generating_is_refused(server):
    fresh = Client(server.local_url, analytics_enabled=False, verbose=False)  # a new session
    with pytest.raises(AppError, match="nothing to continue"):
        fresh.predict(100, 0.8, 0, 1.0, 5, False, api_name="/continue_generation")


def test_compare_fills_every_column_together(client):
    job = client.submit("KING.\n", 200, 0.8, 0, 1.0, 3, False, False, api_name="/compare")
    updates = list(job)
    n = len(cnngru.VARIANTS)
    early = updates[0][:n]
    assert all(len(t) > 0 for t in early), "the first update must hold text in every column"
    assert len(updates) >= 2
    final = job.result()
    assert all(len(t) == 200 for t in final[:n])
    assert all("chars/s" in s and "mean log₂ p" in s for s in final[n:2 * n])
    # each column's speed is its own model's (the models run a few thousand characters a
    # second, within a small factor of each other), not its share of a round of all four
    speeds = [float(s.split(" chars/s")[0].replace(",", "")) for s in final[n:2 * n]]
    assert min(speeds) > 100 and max(speeds) < 10 * min(speeds), speeds


def test_score_gives_bits_per_char_for_every_model(client):
    table, coloured, difference = client.predict(
        "To be, or not to be, that is the question.", "hybrid", "gru", False, api_name="/score")
    assert [row[0] for row in table["data"]] == list(cnngru.VARIANTS)
    assert all(0 < row[1] < 10 for row in table["data"])
    assert coloured.count('class="ch ') == 4 * (len("To be, or not to be, that is the question.")
                                                - 1)
    assert json.loads(difference["plot"])["data"][0]["type"] == "bar"


def test_results_endpoint_answers_with_the_files_or_says_how_to_make_them(client):
    table, answer, curves, scaling, details = client.predict(api_name="/results")
    results_dir = Path(cnngru.__file__).resolve().parent.parent / "results"
    if (results_dir / "results.json").is_file():
        assert "|" in table and "|" in details and answer
        assert (scaling is not None) == (results_dir / "scaling.png").is_file()
    else:
        assert "cnngru reproduce" in table


def test_refine_endpoint_works_or_says_why_not(server, client):
    from cnngru.app.loaded_models import load_optional_refiner

    refiner, note = load_optional_refiner()
    if refiner is None:
        with pytest.raises(AppError, match="not available"):
            client.predict("Thee kyng is dead.", 0.9, api_name="/refine")
    else:
        text, edits, diff = client.predict("Thee kyng is dead.", 0.9, api_name="/refine")
        assert isinstance(text, str) and isinstance(edits, list) and "Before" in diff


MEGABYTE = "a" * 1_048_576


@pytest.mark.parametrize("args, message", [
    (generate_args(prompt=""), "The prompt is empty"),
    (generate_args(prompt="Ça va? ☃"), "never saw in training: 'Ç' '☃'"),
    (generate_args(prompt=MEGABYTE), "The prompt is 1,048,576 characters long"),
    (generate_args(strategy="transformer"), "Unknown strategy 'transformer'"),
    (generate_args(temperature=7), "temperature must be a number from 0 to 2"),
    (generate_args(temperature="warm"), "temperature must be a number from 0 to 2"),
    (generate_args(top_k=-1), "top_k must be a whole number"),
    (generate_args(top_k=2.5), "top_k must be a whole number"),
    (generate_args(top_p=0), "top_p must be a number greater than 0"),
    (generate_args(max_new_tokens=1_000_000), "max_new_tokens must be a whole number from 1"),
    (generate_args(max_new_tokens=0), "max_new_tokens must be a whole number from 1"),
    (generate_args(max_new_tokens=None), "max_new_tokens must be a whole number"),
    (generate_args(seed=-5), "seed must be a whole number"),
    (generate_args(replace="yes"), "replace_unknown must be true or false"),
])
def test_invalid_generate_input_gets_a_clear_message(client, args, message):
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name="/generate")
    assert message in str(caught.value) and GENERIC not in str(caught.value)


def test_unknown_characters_can_be_replaced_instead(client):
    text = client.predict(*generate_args(prompt="Café ", replace=True, max_new_tokens=5),
                          api_name="/generate")[0]
    assert text.startswith("Cafe ")


@pytest.mark.parametrize("endpoint, args, message", [
    ("/compare", ("", 100, 0.8, 0, 1.0, 0, False, False), "The prompt is empty"),
    ("/compare", ("KING", 100, 3, 0, 1.0, 0, False, False), "temperature must be"),
    ("/compare", (MEGABYTE, 100, 0.8, 0, 1.0, 0, False, False), "characters long"),
    ("/compare", ("KING", 1001, 0.8, 0, 1.0, 0, False, False),
     "max_new_tokens must be a whole number from 1 to 1000"),
    ("/score", ("", "hybrid", "gru", False), "The text is empty"),
    ("/score", ("x", "hybrid", "gru", False), "at least 2 characters"),
    ("/score", (MEGABYTE, "hybrid", "gru", False), "The text is 1,048,576 characters long"),
    ("/score", ("To be.", "hybrid", "lstm", False), "Unknown strategy 'lstm'"),
    ("/score", ("To be ☃", "hybrid", "gru", False), "never saw in training: '☃'"),
])
def test_invalid_input_elsewhere_gets_a_clear_message(client, endpoint, args, message):
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=endpoint)
    assert message in str(caught.value) and GENERIC not in str(caught.value)


def test_a_crowd_waits_in_line_and_none_is_turned_away(client):
    """30 simultaneous requests, far more than the two workers: every one waits its turn and
    completes; none is told the demo is busy (the queue holds QUEUE_SIZE)."""
    assert common.QUEUE_SIZE >= 256
    jobs = [client.submit(*generate_args(max_new_tokens=60, seed=i), api_name="/generate")
            for i in range(30)]
    texts = [job.result(timeout=180)[0] for job in jobs]  # a QueueError would fail the test
    assert all(len(t) == len("ROMEO.\n") + 60 for t in texts)


@pytest.fixture(scope="module")
def small_queue(models):
    demo = serve(build_demo(models, queue_size=4))
    yield demo
    demo.close()


def test_the_queue_is_bounded_and_loses_no_request(small_queue):
    """More simultaneous requests than workers plus queue (a small queue here, the same events):
    the excess is told the demo is busy, every accepted one completes, none is lost."""
    client = Client(small_queue.local_url, analytics_enabled=False, verbose=False)
    size = small_queue._queue.max_size
    total = size + common.CONCURRENCY + 12
    jobs = [client.submit(*generate_args(max_new_tokens=MAX_NEW_TOKENS, seed=i),
                          api_name="/generate")
            for i in range(total)]  # each takes far longer than sending them all
    completed = busy = lost = 0
    for job in jobs:
        try:
            text = job.result(timeout=120)[0]
            assert len(text) == len("ROMEO.\n") + MAX_NEW_TOKENS
            completed += 1
        except QueueError:
            busy += 1
        except (FutureTimeout, TimeoutError):
            lost += 1
    assert lost == 0
    assert busy >= 1, "the queue's bound did not hold"
    assert completed >= size
    assert completed + busy == total
