"""The composed demo (``cnngru.app.build_demo``): its named endpoints, the queue, the workers,
and the order each endpoint returns its values in."""

import os

import pytest
import torch
from tiny_zoo import tiny_zoo

import cnngru
from cnngru.app import build_demo, common


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    with tiny_zoo(tmp_path_factory.mktemp("ckpt")) as models:
        yield models


@pytest.fixture(scope="module")
def demo(zoo):
    return build_demo(zoo)


def events(demo, visibility: str) -> dict:
    return {fn.api_name: fn for fn in demo.fns.values() if fn.api_visibility == visibility}


def test_demo_has_named_endpoints_a_bounded_queue_and_shared_workers(demo):
    public = events(demo, "public")
    assert set(public) == {"generate", "continue_generation", "compare", "score", "results",
                           "refine", "numbers", "engine_stats", "train_your_text",
                           "cancel_training", "download_your_models", "upload_your_models",
                           "your_models"}
    workers = {"generate": "generations", "continue_generation": "generations",
               "compare": "generations", "score": "models", "refine": "models"}
    limits = {"generations": common.GENERATIONS, "models": common.CONCURRENCY}
    for name, group in workers.items():
        assert public[name].concurrency_id == group
        assert public[name].concurrency_limit == limits[group]
        assert public[name].time_limit == common.TIME_LIMIT
        assert public[name].validator is None  # a validator would bypass the queue's bound
        assert not public[name].preprocess  # values reach our own checks, named
    for name in ("results", "numbers", "engine_stats"):
        assert (public[name].concurrency_id, public[name].concurrency_limit) == (
            "files", common.FILE_READERS)
    assert len(public["refine"].outputs) == 3  # refined text, edits, diff
    assert demo._queue.max_size == common.QUEUE_SIZE >= 256  # a crowd waits, not turned away
    assert common.GENERATIONS >= 16 > common.CONCURRENCY  # streams batch: many at once
    assert torch.get_num_threads() == max(1, (os.cpu_count() or 1) // common.CONCURRENCY)


def test_page_updates_are_private_and_answered_outside_the_queue(demo):
    private = [fn for fn in demo.fns.values() if fn.api_visibility == "private"]
    # two Stop buttons, the position slider, the two model dropdowns, and the clearing of
    # Generate's, Continue's and Compare's outputs before their requests join the queue; the
    # three "models" choices (a prompt from your text) and showing them once you have models;
    # the coloured text redrawn (Generate: on a new colouring or unit; Score: after Score and
    # on either model dropdown)
    private = [fn for fn in private if fn.targets[0][1] != "unload"]  # a closed page: queued
    assert len(private) == 8 + 3 + 2 + 2 + 3
    assert all(not fn.queue and not fn.preprocess for fn in private)
    assert all(fn.show_progress == "hidden" for fn in private)


def test_streaming_requests_wait_in_line_with_their_place_shown_on_the_page(demo):
    """Generate, Continue and Compare run after a private update that clears their outputs, and
    show progress (hence the visitor's place in the queue) over every output."""
    fns = demo.fns
    public = events(demo, "public")
    for name in ("generate", "continue_generation", "compare"):
        fn = public[name]
        before = fns[fn.trigger_after]
        assert before.api_visibility == "private" and not before.queue
        assert [c._id for c in before.outputs] == [c._id for c in fn.outputs]
        assert fn.show_progress == "full" and fn.queue is not False
        assert fn.concurrency_limit == common.GENERATIONS


def test_each_endpoint_returns_its_values_in_a_fixed_order(demo):
    """API clients read the values by position: the order of each tab's outputs tuple."""
    labels = {name: [getattr(c, "label", None) for c in fn.outputs]
              for name, fn in events(demo, "public").items()}
    generate = ["text", "status", "attention", "per character",
                "the numbers behind the figures (JSON)", "refined by the CNN",
                "the text, coloured per character", None]
    assert labels["generate"] == labels["continue_generation"] == generate
    v = cnngru.VARIANTS
    assert labels["compare"] == [*v, *(f"{n} stats" for n in v), *(f"{n} per character" for n in v),
                                 *(f"{n} refined by the CNN" for n in v), None]
    assert labels["score"] == ["bits per character (lower: better)",
                               "rank per character (hover: surprisal)", "difference per character",
                               None]
    assert labels["results"] == ["table", "answer", "training curves",
                                 "scaling: test BPC and the difference from gru against parameters",
                                 "details"]
    assert labels["numbers"] == ["the numbers behind the figures (JSON)"]
