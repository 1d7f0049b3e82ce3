"""The "Your text" tab: train the four strategies on a visitor's own text, watch them learn, get
the table and the answer for that text, and use the models in Generate, Compare and Score.

Training runs in the line of ``training_jobs`` (one job at a time, each its own process); the
page polls its job and streams its place in line, then a progress bar, the validation curves
and, at the end, the table. The models belong to the session that trained or uploaded them
(``session_models``). Closing the page frees them and cancels its job.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr

from .. import VARIANTS
from ..evaluation.text_study import BUDGETS, MAX_CHARS, TextError, check_text, markdown
from ..vocab import MAX_SIZE
from .checkpoint_zip import MAX_ZIP, TABLE, TOP, pack, unpack_into_fresh
from .common import wire, with_clear_errors
from .figures import curves_figure
from .session_models import SessionModels, owner_of, write_examples, write_words
from .training_jobs import CANCELLED, DONE, ENDED, RUNNING, Job, TrainingLine, new_job
from .validation import InputError

TEST_BUDGET = "3s"  # accepted from the API so tests stay short; not offered on the page
# ... unless CNNGRU_TEST_BUDGET=1: the browser test offers it, to train in seconds
POLL = 0.5  # seconds between updates of a job's progress
MAX_UPLOAD_BYTES = 4 * MAX_CHARS  # UTF-8 takes at most 4 bytes a character
# What Gradio itself lets in (``launch``): the larger of the text and zip limits, so a bigger
# upload is refused while it arrives, before it fills the disk; each is checked exactly after.
LARGEST_UPLOAD = max(MAX_UPLOAD_BYTES, MAX_ZIP)

INTRO = f"""\
Ask the question of your own text. Paste it or upload a UTF-8 `.txt` file (10,000 to
{MAX_CHARS:,} characters); the four strategies train on it in turns for the budget you choose
**each**, with the same characters, on one core, in a line with other visitors' jobs. You see
their validation curves as they learn, then a table and one sentence answering the question for
your text. Your models then appear under **models: your text** in Generate, Compare and Score,
for you only, until you close the page or leave them unused for 30 minutes. **Download** keeps
them (a zip that `cnngru.load` and `CNNGRU_CHECKPOINTS` read); **Upload** brings them back."""


class TrainOutputs(NamedTuple):
    """What a training update sets, in the order of the event's ``outputs=``."""

    status: Any  # what is happening, in words
    progress: Any  # the progress bar (HTML)
    curves: Any  # validation curves so far
    table: Any  # the results table and the answer (Markdown)
    examples: Any  # example prompts from the text (Markdown)


def budget_seconds(budget) -> float:
    """Seconds per strategy for a budget name (the page's, or the API's test budget)."""
    if budget == TEST_BUDGET:
        return 3.0
    if budget in BUDGETS:
        return float(BUDGETS[budget])
    raise InputError(f"budget must be one of {', '.join(BUDGETS)}, not {budget!r}.")


def uploaded_path(value) -> Path | None:
    """The server-side path of an uploaded file (None if none), which must be one of Gradio's
    uploads: events run without preprocessing, so the path is checked here."""
    if value is None or value == "":
        return None
    path = value.get("path") if isinstance(value, dict) else value
    if not isinstance(path, str):
        raise InputError("The upload was not understood: send a file.")
    resolved = Path(path).resolve()
    uploads = Path(gr.utils.get_upload_folder()).resolve()
    if uploads not in resolved.parents or not resolved.is_file():
        raise InputError("The upload was not found among this server's uploads: upload it again.")
    return resolved


def read_text_file(path: Path) -> str:
    """A text file's contents, refused with a clear message if it is binary or not UTF-8."""
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise InputError(f"The file is {size / 2**20:.1f} MB, more than {MAX_CHARS:,} characters "
                         "could take: cut it.")
    data = path.read_bytes()
    if b"\x00" in data[:65536]:
        raise InputError("The file looks binary (it holds NUL bytes): upload a UTF-8 text file.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"The file is not UTF-8 text (byte {e.start:,} cannot be read: "
                         f"{e.reason}). Save it as UTF-8 and upload it again.") from None


def progress_html(fraction: float, remaining: float | None, label: str = "") -> str:
    left = "" if remaining is None else f" · about {remaining:.0f} s of training left"
    return (f'<div id="your-bar" style="border:1px solid #94a3b8;border-radius:4px;height:14px;">'
            f'<div style="width:{100 * fraction:.1f}%;height:100%;background:#3b82f6;'
            f'border-radius:3px"></div></div><div>{100 * fraction:.0f}%{left}'
            f'{escape(label)}</div>')


def curves_of(job: Job) -> dict[str, list]:
    """Each strategy's validation BPC after each slice, against characters trained."""
    if not job.plan:
        return {}
    per_step = job.plan["batch_size"] * job.plan["seq_len"]
    curves = {v: [] for v in VARIANTS}
    for p in job.progress:
        if p["val_bpc"] is not None:
            curves[p["strategy"]].append([p["step"] * per_step, p["val_bpc"]])
    return {v: pts for v, pts in curves.items() if pts}


def examples_markdown(examples: list[str]) -> str:
    if not examples:
        return ""
    shown = "\n".join(f"- `{e.strip()[:60]}`" for e in examples if e.strip())
    return ("**Example prompts from your text** (Generate and Compare start from the first when "
            "you choose *models: your text*):\n" + shown)


class YourTextHandlers:
    """The tab's event handlers, over the training line and the session store."""

    def __init__(self, store: SessionModels, line: TrainingLine, scratch: Path):
        self.store, self.line, self.scratch = store, line, Path(scratch)
        self._submitting = threading.Lock()

    def train(self, text, file, budget, request: gr.Request):
        """Check the text, queue a job, stream its place in line, progress, curves, table."""
        owner = self._owner(request)
        seconds = budget_seconds(budget)
        path = uploaded_path(file)
        if path is not None:
            text = read_text_file(path)
        try:
            text = check_text(text)
        except TextError as e:
            raise InputError(f"Cannot train on this text: {e}.") from None
        with self._submitting:  # one session's two clicks at once: one job, one refusal
            if self.line.jobs_of(owner):
                raise InputError("Your training job is already in the line: wait for it, or "
                                 "cancel it.")
            job = new_job(owner, text, seconds, self.scratch)
            write_examples(job.folder, text)
            write_words(job.folder, text)
            self.line.submit(job)
        distinct = len(set(text))
        note = (f" It has {distinct:,} distinct characters: the {MAX_SIZE - 1} most frequent are "
                "kept and every other becomes one unknown symbol." if distinct > MAX_SIZE else "")
        shown, last_place = -1, None
        while not job.done.wait(POLL):
            place = self.line.place(job)
            if place and place != last_place:
                last_place = place
                status = (f"Waiting in line: place {place} ({place - 1} job"
                          f"{'s' if place != 2 else ''} ahead of yours).{note}")
                yield TrainOutputs(status, progress_html(0, None), None, "", gr.skip())
            elif not place and len(job.progress) != shown:
                shown = len(job.progress)
                what = "Measuring this machine's speed and planning" if not job.plan else (
                    f"Training {job.plan['params']:,}-parameter models on "
                    f"{job.plan['chars']:,} characters each")
                status = (f"{what} (hard limit {job.limit:.0f} s).{note}")
                yield TrainOutputs(status, progress_html(job.fraction(), job.remaining_s()),
                                   curves_figure(curves_of(job)) if job.progress else None,
                                   "", gr.skip())
        yield self._ended(job, note)

    def _ended(self, job: Job, note: str) -> TrainOutputs:
        own = self.store.get(job.owner)
        curves = curves_figure(curves_of(job)) if job.progress else None
        table = ""
        if job.table is not None:
            table = markdown(job.table)
        took = f" ({job.ended - job.started:.0f} s)" if job.started and job.ended else ""
        if own is None:
            where = ""
        elif own.folder == job.folder:
            where = " Your models are under *models: your text*."
        else:  # the job left no complete set: the session keeps the one it had
            where = " The models you had before are still under *models: your text*."
        if job.state in (DONE, CANCELLED) and job.table is not None:
            status = f"{job.message}{took}{where}{note}"
        else:  # failed (what survived is said in the message), or cancelled before it began
            status = job.message + where
        fraction = 1.0 if job.state == DONE else job.fraction()
        return TrainOutputs(status, progress_html(fraction, None, f" · {job.state}"), curves,
                            table, examples_markdown(own.examples) if own else "")

    def cancel(self, request: gr.Request) -> str:
        """Cancel this session's job: out of the line, or stopped after its round of slices."""
        jobs = self.line.jobs_of(self._owner(request))
        if not jobs:
            return "There is no training job of yours to cancel."
        running = any(job.state == RUNNING for job in jobs)
        for job in jobs:
            self.line.cancel(job)
        if not running:
            return "Cancelled: your job was taken out of the line before it started."
        return ("Cancelling: the strategies stop after the round under way, and what they "
                "learned is kept.")

    def download(self, request: gr.Request) -> str:
        """A zip of this session's checkpoints."""
        own = self.store.get(self._owner(request))
        if own is None:
            self.store.models(self._owner(request))  # raises, saying why there are none
        target = own.folder / "download" / f"{TOP}.zip"  # goes when the models go
        target.parent.mkdir(exist_ok=True)
        return str(pack(own.folder, target))

    def upload(self, file, request: gr.Request) -> tuple[str, str, str]:
        """Bring back models from a zip that Download gave: (status, table, examples)."""
        owner = self._owner(request)
        path = uploaded_path(file)
        if path is None:
            raise InputError("Choose a zip of checkpoints to upload first.")
        folder, dropped = unpack_into_fresh(path, self.scratch)
        table_file = folder / TABLE  # there only if its shape passed the unpacking's check
        table = json.loads(table_file.read_text(encoding="utf-8")) if table_file.is_file() else None
        own = self.store.put(owner, folder, table, "uploaded")
        left_out = (f" The zip's {' and '.join(dropped)} could not be read and "
                    f"{'was' if len(dropped) == 1 else 'were'} left out." if dropped else "")
        return (f"Uploaded: {', '.join(own.models.names)}, under *models: your text*.{left_out}",
                markdown(own.table) if own.table else "", examples_markdown(own.examples))

    def describe(self, request: gr.Request) -> dict:
        """This session's models: names, where they came from, example prompts, the table."""
        own = self.store.get(self._owner(request))
        if own is None:
            return {"models": [], "origin": None, "examples": [], "table": None}
        return {"models": own.models.names, "origin": own.origin, "examples": own.examples,
                "table": own.table}

    def end_session(self, request: gr.Request) -> None:
        """The page was closed: cancel its job, free its models."""
        owner = owner_of(request)
        if owner:
            self.store.close(owner)
            for job in self.line.jobs_of(owner):
                self.line.cancel(job)

    def _owner(self, request) -> str:
        owner = owner_of(request)
        if owner is None:
            raise InputError("This action needs a session: call it from the page or a "
                             "gradio_client Client.")
        return owner


def loader(store: SessionModels):
    """What the line does when a job ends: its models become the owner's session models if it
    left all four strategies; else they are dropped, and the session keeps what it had."""
    def on_end(job: Job) -> None:
        if job.state in ENDED and not store.is_closed(job.owner):
            try:
                store.put(job.owner, job.folder, job.table, "trained")
                return
            except InputError:  # not all four strategies (the job's message says which)
                pass
        shutil.rmtree(job.folder, ignore_errors=True)

    return on_end


def render(store: SessionModels, line: TrainingLine, scratch: Path, demo: gr.Blocks,
           selectors: list[gr.Radio] = ()) -> None:
    """Build the tab inside the current ``gr.Tab`` and wire its events; ``selectors`` are the
    other tabs' "models" choices, shown once this session has models."""
    h = YourTextHandlers(store, line, scratch)
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(label="your text", lines=8, max_lines=12, elem_id="your-text",
                              placeholder="Paste at least 10,000 characters here, or upload a file.")
        with gr.Column(scale=1):
            file = gr.File(label="or upload a UTF-8 .txt file", file_types=[".txt"],
                           elem_id="your-file")
            offered = [*BUDGETS, *([TEST_BUDGET] if os.environ.get("CNNGRU_TEST_BUDGET") == "1"
                                   else [])]
            budget = gr.Radio(offered, value="30s", label="training budget per strategy",
                              elem_id="your-budget")
            with gr.Row():
                train = gr.Button("Train the four strategies", variant="primary",
                                  elem_id="train-btn")
                cancel = gr.Button("Cancel", variant="stop", elem_id="cancel-btn")
    status = gr.Markdown(elem_id="your-status")
    progress = gr.HTML(elem_id="your-progress")
    curves = gr.Plot(label="validation curves", elem_id="your-curves")
    table = gr.Markdown(elem_id="your-table")
    examples = gr.Markdown(elem_id="your-examples")
    with gr.Row():
        download = gr.Button("Download your models (zip)", elem_id="download-btn")
        zip_out = gr.File(label="your models", elem_id="your-zip")
    with gr.Row():
        zip_in = gr.File(label="upload a zip of models", file_types=[".zip"], elem_id="zip-in")
        upload = gr.Button("Upload models", elem_id="upload-btn")
    outputs = list(TrainOutputs(status, progress, curves, table, examples))
    trained = wire(train.click, with_clear_errors(h.train), [text, file, budget], outputs,
                   api_name="train_your_text", workers="training")
    wire(cancel.click, with_clear_errors(h.cancel), None, status, api_name="cancel_training",
         workers="files")
    wire(download.click, with_clear_errors(h.download), None, zip_out,
         api_name="download_your_models", workers="files")
    uploaded = wire(upload.click, with_clear_errors(h.upload), zip_in, [status, table, examples],
                    api_name="upload_your_models", workers="files")
    wire(gr.api, with_clear_errors(h.describe), api_name="your_models", workers="files")
    if selectors:
        def show(request: gr.Request):
            visible = store.get(owner_of(request)) is not None
            return [gr.update(visible=visible)] * len(selectors)

        for event in (trained, uploaded):
            wire(event.then, show, None, list(selectors))
    demo.unload(h.end_session)


def scratch_folder() -> Path:
    """Where jobs and uploads are unpacked (one per app)."""
    return Path(tempfile.mkdtemp(prefix="cnngru-your-text-"))


def start_line(store: SessionModels, scratch: Path) -> TrainingLine:
    """The app's training line, and a sweeper that frees idle sessions' models."""
    threading.Thread(target=store.sweep_forever, name="session-sweeper", daemon=True).start()
    return TrainingLine(scratch / "rates.json", on_end=loader(store))
