"""What the browser tests share: Debian's chromium, its headless flags, the repository root."""

from __future__ import annotations

from pathlib import Path

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
