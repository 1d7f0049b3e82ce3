"""The coloured text and the Inside tab in a real browser (Debian's chromium, Playwright), on the
shipped checkpoints and their Inside tables.

Screenshots go to ``assets/`` when ``CNNGRU_UPDATE_SCREENSHOTS=1`` (the README shows them), else
to a temporary folder.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api")

from browser_setup import choose, chromium, open_demo, served, skip_without_chromium  # noqa: E402

pytestmark = pytest.mark.slow
PROMPT = "ROMEO\n"
CHARS = "#generate-coloured .ct-text i"

skip_without_chromium()


@pytest.fixture(scope="module")
def url():
    with served() as url:
        yield url


@pytest.fixture(scope="module")
def page(url, tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("profile")) as context:
        yield open_demo(context, url)


def test_generated_text_is_coloured_with_hover_and_attention_at_2000_characters(page, shots):
    choose(page, "strategy", "hybrid")
    page.fill("#prompt textarea", PROMPT)
    box = page.locator("#max-new-tokens input[type=number]")
    box.fill("2000")
    box.press("Enter")
    page.locator("#generate-btn").click()
    page.wait_for_function(  # the finished view: its characters can be clicked for attention
        "document.querySelector('#generate-coloured .ct')?.dataset.key", timeout=120_000)
    chars = page.locator(CHARS)
    assert chars.count() == len(PROMPT) + 2000
    coloured = page.locator("#generate-coloured .ct-text i[class^=s]").count()
    assert coloured == len(PROMPT) + 2000 - 1  # all but the first character, never predicted
    assert page.locator("#generate-coloured .ct-legend").first.inner_text().startswith(
        "probability the model gave the character")
    # wrapped like text: the view is as wide as its box, many lines tall, not one long row
    width = page.locator("#generate-coloured .ct-text").last.evaluate("e => e.scrollWidth")
    client = page.locator("#generate-coloured .ct-text").last.evaluate("e => e.clientWidth")
    assert width <= client + 1
    target = chars.nth(1500)
    target.scroll_into_view_if_needed()
    target.hover()
    tip = page.locator("#generate-coloured .ct-tip")
    assert re.search(r'#1500 ".+" · confidence [\d.]+ · p \d\.\d{3} · top 3: (.+ \d\.\d\d\s*){3}',
                     tip.inner_text()), tip.inner_text()
    target.click()
    page.wait_for_function("document.querySelector('#generate-coloured .ct').dataset.attended",
                           timeout=20_000)
    attended = page.locator("#generate-coloured .ct").get_attribute("data-attended")
    positions = [int(p) for p in attended.split(",")]
    assert positions and all(1500 - 32 <= p < 1500 for p in positions)  # the window before it
    assert page.locator(f"{CHARS}.att").count() == len(positions)
    assert "attended to" in tip.inner_text()
    page.locator("#generate-coloured").screenshot(path=shots / "coloured-text.png")


def test_colouring_follows_the_chosen_quantity(page):
    choose(page, "colour-by", "CNN weight")
    page.wait_for_function(
        "document.querySelector('#generate-coloured .ct-legend')?.innerText"
        ".startsWith(\"the hybrid's weight on the CNN context\")", timeout=30_000)
    assert page.locator(CHARS).count() == len(PROMPT) + 2000


def test_a_line_position_unit_counts_through_each_line_as_the_text_streams(page, shots):
    import numpy as np

    from cnngru.inside import load_table
    from cnngru.inside.properties import position_in_line
    from cnngru.paths import SHIPPED

    unit, r = load_table(SHIPPED / "hybrid").unit_properties["position in line"]["top"][0]
    choose(page, "colour-by", "GRU unit")
    page.locator("#colour-unit input").fill(str(unit))
    page.locator("#colour-unit input").press("Enter")
    page.wait_for_function(  # the finished text redrawn in the unit: the next one streams in it
        f"document.querySelector('#generate-coloured .ct-title')?.innerText"
        f".endsWith('unit {unit}')", timeout=30_000)
    page.locator("#generate-btn").click()
    title = "document.querySelector('#generate-coloured .ct-title')?.innerText || ''"
    streamed, lengths = None, set()
    for _ in range(2000):  # sample the view while it streams
        state = page.evaluate(f"[{title}, document.querySelectorAll('{CHARS}').length]")
        if "as the text streams" in state[0]:
            lengths.add(state[1])
            streamed = page.evaluate(  # each character's colour bin, d0 (low) .. d8 (high)
                f"[...document.querySelectorAll('{CHARS}')].map(e => [e.textContent, e.className])")
        elif lengths and state[0].endswith(f"unit {unit}"):
            break
        page.wait_for_timeout(20)
    assert len(lengths) >= 2, f"the unit view did not stream: {sorted(lengths)}"
    text = "".join(c for c, _ in streamed)
    bins = np.array([int(k[1:]) for _, k in streamed])
    # the unit's colour follows the position in the line, as its correlation on validation says
    observed = np.corrcoef(bins, position_in_line(text))[0, 1]
    assert np.sign(observed) == np.sign(r) and abs(observed) > 0.5, (observed, r)
    page.locator("#generate-coloured").screenshot(path=shots / "unit-while-streaming.png")


def test_inside_tab_lists_filters_and_shows_a_unit_on_text(page, shots):
    page.get_by_role("tab", name="Inside").click()
    page.wait_for_selector("#inside-filters table")
    assert "got a label" in page.locator("#inside-summary").inner_text()
    page.fill("#inside-query textarea", "the king")
    page.locator("#inside-search-btn").click()
    page.wait_for_function(
        "document.querySelectorAll('#inside-found tbody tr').length > 0", timeout=30_000)
    choose(page, "inside-property", "position in line")
    from cnngru.inside import load_table
    from cnngru.paths import SHIPPED
    unit, r = load_table(SHIPPED / "hybrid").unit_properties["position in line"]["top"][0]
    expected = f"unit {unit} (r = {r:+.2f})"  # the list follows the property picked
    page.wait_for_function("want => document.querySelector('#inside-units label')"
                           "?.innerText.trim() === want", arg=expected, timeout=20_000)
    first_unit = page.locator("#inside-units label").first
    first_unit.click()
    page.wait_for_selector("#inside-cell .ct-text i", timeout=30_000)
    cells = page.locator("#inside-cell .ct-text i[class^=d]").count()
    assert cells > 1000
    page.screenshot(path=shots / "inside.png", full_page=True)


def test_score_colours_the_difference_of_two_models_on_the_text(page):
    page.get_by_role("tab", name="Score").click()
    page.locator("#score-btn").click()
    view = "#score-diff-text .ct-text i"
    page.wait_for_selector(view, timeout=60_000)
    text = page.input_value("#score-text textarea")
    chars = page.locator(view)
    assert chars.count() == len(text)
    assert page.locator(f"{view}[class^=d]").count() == len(text) - 1  # all but the first
    chars.nth(20).hover()
    tip = page.locator("#score-diff-text .ct-tip").inner_text()
    assert re.search(r'#20 ".+" · A − B bits -?[\d.]+ · p [\d.]+ · p\(B\) [\d.]+ · top 3', tip), tip
    # the hybrid (model A by default) attended to earlier characters: a click outlines them
    chars.nth(40).click()
    page.wait_for_function("document.querySelector('#score-diff-text .ct').dataset.attended",
                           timeout=20_000)
    assert page.locator(f"{view}.att").count() >= 1
