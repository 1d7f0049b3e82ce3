"""The "Your text" tab in a real browser (Debian's chromium driven by Playwright): paste a text
that is not Shakespeare, train, see the curves and the table, download the zip, and generate
with the new model in the Generate tab.

``python app.py`` runs with ``CNNGRU_TEST_BUDGET=1``, which offers the API's 3-second test
budget on the page. The screenshot goes to ``assets/your-text.png`` when
``CNNGRU_UPDATE_SCREENSHOTS=1`` (the README shows it), else to a temporary folder.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")

from browser_setup import chromium, open_demo, served, skip_without_chromium  # noqa: E402

import cnngru  # noqa: E402

pytestmark = pytest.mark.slow
GPL = Path("/usr/share/common-licenses/GPL-3")

skip_without_chromium()
if not GPL.is_file():
    pytest.skip("Debian's copy of the GNU GPL is not here", allow_module_level=True)


@pytest.fixture(scope="module")
def url():
    with served({"CNNGRU_TEST_BUDGET": "1"}) as url:  # the page offers the 3 s budget
        yield url


@pytest.fixture(scope="module")
def page(tmp_path_factory, url):
    with chromium(tmp_path_factory.mktemp("profile"), accept_downloads=True) as context:
        yield open_demo(context, url)


def test_paste_train_watch_download_and_generate_with_your_model(page, shots, tmp_path):
    text = GPL.read_text(encoding="utf-8")
    page.get_by_role("tab", name="Your text").click()
    page.locator("#your-text textarea").fill(text)
    page.locator("#your-budget").get_by_label("3s").check()
    assert not page.locator("#generate-source").is_visible()  # no models of your own yet
    page.locator("#train-btn").click()

    page.wait_for_selector("#your-curves .js-plotly-plot .main-svg", timeout=120_000)
    page.locator("#your-table").get_by_text("One seed each").wait_for(timeout=120_000)
    table = page.locator("#your-table").inner_text()
    assert all(v in table for v in cnngru.VARIANTS)
    assert "Trained" in page.locator("#your-status").inner_text()
    assert page.locator("#your-curves .scatterlayer .trace").count() == 4  # one per strategy
    page.screenshot(path=shots / "your-text.png", full_page=True)

    page.locator("#download-btn").click()
    link = page.locator("#your-zip a[download]").first
    link.wait_for(timeout=30_000)
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "models.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as z:
        z.extractall(tmp_path)
    assert cnngru.load(tmp_path / "cnngru-your-text" / "hybrid").variant == "hybrid"

    page.get_by_role("tab", name="Generate").click()
    source = page.locator("#generate-source")
    source.wait_for(state="visible", timeout=10_000)
    prompt = page.locator("#prompt textarea")
    shipped_prompt = prompt.input_value()
    source.get_by_label("your text").check()
    page.wait_for_function("t => document.querySelector('#prompt textarea').value !== t",
                           arg=shipped_prompt, timeout=10_000)
    example = prompt.input_value()
    assert example in text  # a prompt drawn from your text
    page.locator("#generate-btn").click()
    page.wait_for_selector("#chars-plot .js-plotly-plot .main-svg", timeout=60_000)
    written = page.locator("#output textarea").input_value()
    assert written.startswith(example) and len(written) > len(example)
    page.wait_for_selector("#attn-plot .heatmaplayer")  # the hybrid's attention, your model's
