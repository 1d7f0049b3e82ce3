"""Fixtures of the app tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_setup import ROOT


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where browser tests save screenshots: ``assets/`` when ``CNNGRU_UPDATE_SCREENSHOTS=1``
    (the README shows them), else a temporary folder."""
    if os.environ.get("CNNGRU_UPDATE_SCREENSHOTS") == "1":
        return ROOT / "assets"
    return tmp_path_factory.mktemp("screenshots")
