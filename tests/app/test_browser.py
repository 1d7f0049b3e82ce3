"""The demo in a real browser (Debian's chromium driven by Playwright) on the shipped checkpoints.

Screenshots go to ``assets/`` when ``CNNGRU_UPDATE_SCREENSHOTS=1`` (the README shows them), else
to a temporary folder.
"""

from __future__ import annotations

import re
import time

import pytest

pytest.importorskip("playwright.sync_api")

from browser_setup import ROOT, choose, chromium, open_demo, served, skip_without_chromium  # noqa: E402

pytestmark = pytest.mark.slow
VARIANTS = ("gru", "cnn-pre", "cnn-post", "hybrid")
PROMPT = "ROMEO\n"  # the corpus's layout: the speaker's name on its own line

skip_without_chromium()


@pytest.fixture(scope="module")
def url():
    with served() as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("profile")) as context:
        yield context


@pytest.fixture
def page(browser, url):
    page = open_demo(browser, url)
    yield page
    page.close()


def set_slider(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def lengths_while_running(page, selector: str, until, timeout: float = 60) -> list[int]:
    """The lengths of a textarea's value, sampled until ``until()`` holds."""
    seen, deadline = [], time.time() + timeout
    while not until():
        assert time.time() < deadline, f"timed out; lengths seen: {seen[-10:]}"
        n = len(page.input_value(selector))
        if not seen or seen[-1] != n:
            seen.append(n)
        time.sleep(0.01)
    return seen


def plot_rendered(page, elem_id: str) -> bool:
    return page.locator(f"#{elem_id} .js-plotly-plot .main-svg").count() > 0


def test_generate_with_the_hybrid_streams_text_and_draws_the_attention(page, shots):
    choose(page, "strategy", "hybrid")
    page.fill("#prompt textarea", PROMPT)
    set_slider(page, "max-new-tokens", 2000)
    page.locator("#generate-btn").click()
    seen = lengths_while_running(page, "#output textarea",
                                 lambda: plot_rendered(page, "attn-plot"))
    final = len(page.input_value("#output textarea"))
    assert final == len(PROMPT) + 2000
    partial = [n for n in seen if len(PROMPT) < n < final]
    assert len(partial) >= 2, f"the text did not stream: lengths {seen}"
    assert page.locator("#attn-plot .heatmaplayer").count() == 1
    assert "characters/s" in page.locator("#generate-status").inner_text()
    page.wait_for_selector("#chars-plot .js-plotly-plot .main-svg")
    page.screenshot(path=shots / "generate.png", full_page=True)
    assert page.locator("#numbers a").count() == 0  # the JSON is written when asked for
    page.locator("#numbers-btn").click()
    page.wait_for_selector("#numbers a[download^='generation-'][download$='.json']",
                           timeout=30_000)


def test_attention_stays_readable_at_2000_characters(page, shots):
    page.fill("#prompt textarea", "KING HENRY\n")
    set_slider(page, "max-new-tokens", 2000)
    page.locator("#generate-btn").click()
    page.wait_for_function(
        "document.querySelector('#generate-status')?.innerText.includes('2,000 characters')",
        timeout=90_000)
    page.wait_for_selector("#attn-plot .heatmaplayer")
    title = page.locator("#attn-plot .gtitle").text_content()
    assert re.search(r"characters 1963-2010 of 2011", title), title
    rows = page.locator("#attn-plot .yaxislayer-above .ytick").count()
    columns = page.locator("#attn-plot .xaxislayer-above .xtick").count()
    assert rows == 48 and columns <= 48 + 32, (rows, columns)  # one readable label per character
    page.locator("#attn-plot").screenshot(path=shots / "attention-2000.png")
    # the position selector moves the view to the start of the text
    position = page.locator("#attn-position input[type=number]")
    position.fill("0")
    position.press("Tab")  # Gradio's slider fires "release" when its number box loses focus
    page.wait_for_function(
        "document.querySelector('#attn-plot .gtitle')?.textContent.includes('characters 1-48')",
        timeout=20_000)


def test_compare_fills_all_four_columns(page, shots):
    page.get_by_role("tab", name="Compare").click()
    set_slider(page, "compare-max-new-tokens", 1000)
    page.locator("#compare-btn").click()
    columns = [f"#compare-{v} textarea" for v in VARIANTS]
    deadline, early = time.time() + 60, None
    while time.time() < deadline:
        values = [len(page.input_value(c)) for c in columns]
        if all(values):
            early = values
            break
        time.sleep(0.01)
    assert early, "the columns never all held text"
    for v in VARIANTS:
        page.wait_for_selector(f"#compare-plot-{v} .js-plotly-plot .main-svg", timeout=60_000)
    final = [len(page.input_value(c)) for c in columns]
    assert all(f == 1000 for f in final) and min(early) < 1000
    assert all("chars/s" in page.locator(f"#compare-stats-{v}").inner_text() for v in VARIANTS)
    page.screenshot(path=shots / "compare.png", full_page=True)


def test_score_colours_every_character_with_hover_details(page, shots):
    page.get_by_role("tab", name="Score").click()
    page.locator("#score-btn").click()
    page.wait_for_selector("#score-diff .js-plotly-plot .main-svg", timeout=60_000)
    spans = page.locator("#score-html .ch")
    assert spans.count() > 4 * 100
    assert re.search(r"bits, p=0\.\d+, rank \d+ \| top: ", spans.first.get_attribute("title"))
    # each band keeps its readable text colour against the page theme's
    colour = "e => getComputedStyle(e).color"
    for band, expected in (("cnngru-b0", "rgb(0, 0, 0)"), ("cnngru-b3", "rgb(255, 255, 255)")):
        marked = page.locator(f"#score-html .{band}")
        if marked.count():
            assert marked.first.evaluate(colour) == expected, band
    table = page.locator("#score-table").inner_text()
    assert all(re.search(rf"{v}\s+\d\.\d+", table) for v in VARIANTS), table
    page.screenshot(path=shots / "score.png", full_page=True)


def test_the_results_tab_keeps_every_table_cell_on_one_line_at_1400_and_600_pixels(page):
    """The main table shows first; the details open on a click. At the page's 1,400 pixels, and
    even at 600, no cell of either wraps: a table too wide scrolls sideways instead."""
    assert page.viewport_size["width"] == 1400
    page.get_by_role("tab", name="Results").click()
    page.wait_for_selector("#results-table table")
    assert not page.locator("#results-details table").first.is_visible()
    page.get_by_text("Details: seed runs, candidate designs").click()
    page.wait_for_selector("#results-details table", state="visible")
    for width in (1400, 600):
        page.set_viewport_size({"width": width, "height": 1000})
        cells = page.evaluate("""() => [...document.querySelectorAll(
            '#results-table td, #results-table th, #results-details td, #results-details th')]
            .map(cell => {
                const range = document.createRange();
                range.selectNodeContents(cell);
                const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                return [cell.innerText, lines.size];
            })""")
        assert len(cells) > 100
        assert [text for text, lines in cells if lines > 1] == [], width


def test_the_results_tab_shows_the_scaling_figure_and_no_empty_box_before_there_is_one(page):
    """results/scaling.png comes once a scale of the study is finished; until then an empty
    image box would look broken. The box hides while it holds no image, and shows with one."""
    page.get_by_role("tab", name="Results").click()
    page.wait_for_selector("#results-table table")
    figure = page.locator("#results-scaling")
    if (ROOT / "results" / "scaling.png").is_file():
        figure.locator("img").wait_for()
        assert figure.is_visible()
    else:
        assert not figure.is_visible()
        figure.evaluate("box => box.appendChild(document.createElement('img'))")
        assert figure.is_visible()


def test_an_empty_prompt_gets_a_clear_message_in_the_page(page):
    page.fill("#prompt textarea", "")
    page.locator("#generate-btn").click()
    page.get_by_text("The prompt is empty").first.wait_for(timeout=20_000)


def test_stop_ends_the_text_where_it_is_and_draws_its_figures(page):
    page.fill("#prompt textarea", PROMPT)
    set_slider(page, "max-new-tokens", 2000)
    for _attempt in range(6):  # 2,000 characters take ~0.5 s: Stop may come after the last one
        page.locator("#generate-btn").click()
        page.wait_for_function(  # the page was cleared, and the new text streams
            "document.querySelector('#output textarea').value.length > 7 && "
            "!document.querySelector('#generate-status')?.innerText.includes('characters/s')")
        page.evaluate("document.querySelector('#stop-btn').click()")  # at once
        page.wait_for_function(  # stopped, or finished before the Stop arrived
            "document.querySelector('#generate-status')?.innerText.includes('characters/s')",
            timeout=30_000)
        if "Stopped at" in page.locator("#generate-status").inner_text():
            break
    page.wait_for_selector("#attn-plot .heatmaplayer")
    shown = len(page.input_value("#output textarea"))
    status = page.locator("#generate-status").inner_text()
    assert shown < len(PROMPT) + 2000, "the generation ran to the end despite Stop"
    assert f"Stopped at {shown:,} characters" in status


def test_refine_with_cnn_shows_its_edits_as_a_diff(page):
    from cnngru.app.loaded_models import load_optional_refiner

    refiner, note = load_optional_refiner()
    if refiner is None:
        assert page.get_by_label("Refine with CNN").first.is_disabled()
        pytest.skip(f"no refiner here, and the option is disabled: {note}")
    page.fill("#prompt textarea", PROMPT)
    set_slider(page, "max-new-tokens", 300)
    page.get_by_label("Refine with CNN").first.check()
    page.locator("#generate-btn").click()
    page.wait_for_selector("#refine-diff .refine-diff .after", timeout=60_000)
    diff = page.locator("#refine-diff")
    assert "Before" in diff.inner_text() and "After" in diff.inner_text()
    before = page.locator("#refine-diff .before").inner_text()
    assert before == page.input_value("#output textarea")[len(PROMPT):]


def test_a_waiting_visitor_sees_their_place_in_line(page, url):
    """Every generation worker busy and requests ahead: the page's Generate request waits in the
    queue, and its text output says where it stands ("queue: k/n"); then it is served."""
    from gradio_client import Client
    from gradio_client.utils import Status

    from cnngru.app.common import GENERATIONS
    from cnngru.app.validation import MAX_NEW_TOKENS

    client = Client(url, analytics_enabled=False, verbose=False)
    ahead = [client.submit("hybrid", PROMPT, MAX_NEW_TOKENS, 0.8, 0, 1.0, k, False, False,
                           api_name="/generate") for k in range(GENERATIONS + 2)]
    running = (Status.PROCESSING, Status.ITERATING, Status.PROGRESS)
    deadline = time.time() + 60
    while sum(job.status().code in running for job in ahead) < GENERATIONS:
        assert time.time() < deadline, [job.status().code for job in ahead]
        time.sleep(0.05)
    page.fill("#prompt textarea", PROMPT)
    set_slider(page, "max-new-tokens", 50)
    page.locator("#generate-btn").click()
    place = page.locator("#output").get_by_text(re.compile(r"queue: \d+/\d+"))
    place.first.wait_for(timeout=20_000)
    assert re.search(r"queue: [123]/[123]", place.first.inner_text()), place.first.inner_text()
    page.wait_for_function(
        "document.querySelector('#generate-status')?.innerText.includes('characters/s')",
        timeout=120_000)
    assert len(page.input_value("#output textarea")) == len(PROMPT) + 50
    assert page.locator("#output").get_by_text(re.compile(r"queue: ")).count() == 0
    for job in ahead:
        assert len(job.result(timeout=120)[0]) == len(PROMPT) + MAX_NEW_TOKENS
