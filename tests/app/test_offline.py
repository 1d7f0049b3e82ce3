"""Gradio kept offline: the switches are set before Gradio (and huggingface_hub) load."""

import os
import subprocess
import sys

from cnngru.app.offline import keep_offline

SWITCHES = ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_DISABLE_TELEMETRY")


def test_keep_offline_switches_both_off_unless_already_set(monkeypatch):
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    keep_offline()
    assert (os.environ["GRADIO_ANALYTICS_ENABLED"], os.environ["HF_HUB_DISABLE_TELEMETRY"]) == (
        "False", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "True")  # a deliberate choice is kept
    keep_offline()
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "True"


def test_importing_the_app_switches_them_off_before_the_hub_reads_them():
    """What app.py and ``cnngru serve`` rely on: they only import cnngru.app."""
    env = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    code = ("import cnngru.app, os, huggingface_hub.constants as hub; "
            "print(os.environ['GRADIO_ANALYTICS_ENABLED'], hub.HF_HUB_DISABLE_TELEMETRY)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "True"]
