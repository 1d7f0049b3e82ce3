"""What the browser tests share: the app as a user starts it, Debian's chromium with its headless
flags, a page of the demo, the repository root."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cnngru.bench.demo import free_port, start_app, stop_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
ROOT = Path(__file__).resolve().parents[2]


def choose(page, elem_id: str, value: str) -> None:
    """Pick ``value`` in the dropdown ``#elem_id`` by clicking its option: typing it and pressing
    Enter sometimes lands before the filtered list has caught up, and the old value stays."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=value, exact=True).click()
    page.wait_for_function(f"document.querySelector('#{elem_id} input').value === {value!r}")


def skip_without_chromium() -> None:
    """Skip the calling test module where Debian's chromium is not installed."""
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                    allow_module_level=True)


@contextmanager
def served(env: dict[str, str] | None = None) -> Iterator[str]:
    """``python app.py`` as a user starts it (its own process, its thread settings) on a free
    port, with ``env`` added to the environment: yields its URL."""
    port = free_port()
    app, _seconds = start_app(port, env)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_app(app)


@contextmanager
def chromium(profile: Path, **options):
    """Debian's chromium, headless, with a fresh ``profile`` folder: yields the browser context
    (``options``: more of Playwright's context options)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1400, "height": 1000}, **options)
        try:
            yield context
        finally:
            context.close()


def open_demo(context, url: str):
    """A new page of the demo at ``url``, once its Generate button is there."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#generate-btn")
    return page
