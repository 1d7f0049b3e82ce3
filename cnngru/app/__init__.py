"""The cnngru demo: Generate, Compare, Score, Inside, Results and Your text tabs over models
loaded once.

    from cnngru.app import build_demo, launch
    launch()                         # where GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say (address.py)
    launch("127.0.0.1", 7860)        # or: build_demo().launch(...) with your own settings

Each tab is a small module with a ``render`` function; this module only composes them, sets up
the queue, and launches.
"""

from __future__ import annotations

from .offline import keep_offline

keep_offline()  # before Gradio is imported, here or by any module of this package

import contextlib  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

# Gradio switches matplotlib to "agg" around every request, importing it if it can. Named here,
# the backend is not looked up (~0.5 s) and matplotlib not imported inside the first request,
# where every visitor in the queue would wait for it.
os.environ.setdefault("MPLBACKEND", "agg")
with contextlib.suppress(ImportError):
    import matplotlib  # noqa: E402, F401

import gradio as gr  # noqa: E402

from . import (  # noqa: E402
    compare,
    engine_stats,
    generate,
    inside,
    refine_diff,
    results,
    score,
    text,
    your_text,  # noqa: E402
)
from .address import server_address  # noqa: E402
from .common import CONCURRENCY, QUEUE_SIZE, NumbersFiles  # noqa: E402
from .lean_gradio import skip_cheaply, use_lazy_session_configs  # noqa: E402
from .loaded_models import (  # noqa: E402
    Models,
    configure_threads,
    load_models,
    serve_generations_apart,
)
from .session_models import SessionModels  # noqa: E402

THEME = gr.themes.Soft(primary_hue="blue", neutral_hue="slate")  # local fonts only: works offline
CSS = """
#output textarea, [id^="compare-"] textarea { font-family: ui-monospace, Menlo, monospace; }
#results-table table, #results-details table { display: block; overflow-x: auto; }
#results-table td, #results-table th, #results-details td, #results-details th { white-space: nowrap; }
#results-scaling:not(:has(img)) { display: none; }  /* no empty box before a scale is finished */
"""

__all__ = ["build_demo", "launch", "server_address", "THEME", "CSS"]


def build_demo(models: Models | None = None, results_dir: str | Path | None = None,
               queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    """The whole demo as a ``gr.Blocks``, its queue set up (``queue_size`` requests may wait);
    ``models`` default to every shipped and ``CNNGRU_CHECKPOINTS`` checkpoint, loaded now."""
    models = models or load_models()
    serve_generations_apart(models)  # unless CNNGRU_GENERATION_PROCESS=0
    configure_threads(CONCURRENCY)
    numbers = NumbersFiles()
    own = SessionModels()  # each visitor's models from the "Your text" tab
    scratch = your_text.scratch_folder()
    line = your_text.start_line(own, scratch)
    with gr.Blocks(title="cnngru: can a CNN enhance a GRU?", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(text.TITLE)
        gr.Markdown(text.INTRO)
        if models.problems:
            gr.Markdown("Not loaded: " + "; ".join(models.problems))
        with gr.Tab("Generate"):
            selectors = [generate.render(models, numbers, own)]
        with gr.Tab("Compare"):
            selectors.append(compare.render(models, own))
        with gr.Tab("Score"):
            selectors.append(score.render(models, own))
        with gr.Tab("Inside"):
            inside.render(models)
        with gr.Tab("Results"):
            results.render(results_dir)
        with gr.Tab("Your text"):
            your_text.render(own, line, scratch, demo, [s for s in selectors if s is not None])
        refine_diff.render_api(models)
        engine_stats.render_api(models)
        with gr.Accordion("Use it from Python", open=False):
            gr.Markdown(text.API_HELP)
    # Requests beyond the running ones and queue_size waiting are told the demo is busy; each
    # waiting one is shown its place in line over its outputs (Gradio's progress display).
    demo.queue(max_size=queue_size, default_concurrency_limit=CONCURRENCY)
    use_lazy_session_configs()  # what a crowd pays Gradio for and this demo does not need
    skip_cheaply(demo)
    demo.session_models, demo.training_line = own, line  # for the bench and the tests
    return demo


def launch(host: str | None = None, port: int | None = None, models: Models | None = None,
           **launch_kwargs) -> gr.Blocks:
    """Build the demo and serve it (blocking unless ``prevent_thread_lock=True`` is passed).
    ``host`` and ``port`` left out come from the environment (``server_address``)."""
    default_host, default_port = server_address()
    host, port = host or default_host, port or default_port
    demo = build_demo(models)
    # What start made (Gradio, the models, the page) lives as long as the server: out of the
    # collector's sight, a full collection no longer walks it (160 ms over ~380k objects here,
    # a stall for every visitor when one falls in a crowd's requests).
    gc.collect()
    gc.freeze()
    options = dict(server_name=host, server_port=port, theme=THEME, css=CSS, ssr_mode=False,
                   share=False, show_error=False, max_file_size=your_text.LARGEST_UPLOAD)
    demo.launch(**{**options, **launch_kwargs})
    return demo
