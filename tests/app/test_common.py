"""What the tabs share: clear errors, updates that skip fields, and how events are wired."""

import gradio as gr
import pytest

from cnngru.app import common
from cnngru.app.generate import GenerateOutputs
from cnngru.app.validation import InputError


def test_errors_become_clear_gradio_errors():
    def refuse():
        raise InputError("The prompt is empty.")

    def crash():
        yield 1
        raise RuntimeError("boom")

    with pytest.raises(gr.Error, match="The prompt is empty."):
        common.with_clear_errors(refuse)()
    with pytest.raises(gr.Error, match="RuntimeError: boom"):
        list(common.with_clear_errors(crash)())


def test_skipping_sets_fields_by_name_and_leaves_the_others_as_they_are():
    update = common.skipping(GenerateOutputs, text="The king", session="s")
    assert update.text == "The king" and update.session == "s"
    assert update[1:6] == (gr.skip(),) * 5
    with pytest.raises(TypeError):
        common.skipping(GenerateOutputs, txt="a typo")


def test_wire_makes_model_file_and_private_events():
    def answer(value: str) -> str:  # typed: gr.api reads the types
        return value

    with gr.Blocks() as demo:
        box, button = gr.Textbox(), gr.Button()
        event = common.wire(button.click, answer, box, box, api_name="models-endpoint")
        common.wire(button.click, answer, box, box, api_name="files-endpoint", workers="files")
        common.wire(box.change, answer, box, box)
        assert common.wire(gr.api, answer, api_name="api-endpoint") is None
        common.wire(event.then, answer, box, box)  # the event, to chain another on
    models, files, private, api, chained = demo.fns.values()
    assert (models.api_name, models.concurrency_id, models.concurrency_limit,
            models.time_limit) == ("models-endpoint", "models", common.CONCURRENCY,
                                   common.TIME_LIMIT)
    assert (files.api_name, files.concurrency_id, files.concurrency_limit,
            files.time_limit) == ("files-endpoint", "files", common.FILE_READERS, None)
    assert private.api_visibility == "private" and not private.queue
    assert private.show_progress == "hidden" and models.show_progress == "full"
    assert chained.trigger_after == models._id
    assert (api.api_name, api.concurrency_id) == ("api-endpoint", "models")
    assert not any(fn.preprocess for fn in (models, files, private, api))
