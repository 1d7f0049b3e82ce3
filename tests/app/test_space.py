"""The repository as a Hugging Face Space: front matter, requirements, LFS, and ``app.py`` started
from a clean virtual environment holding only ``requirements.txt``, with a stub ``spaces``."""

from __future__ import annotations

import fnmatch
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import gradio
import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def front_matter() -> dict:
    """The YAML block the README opens with (or, until the README has it, the file holding it)."""
    readme = ROOT / "README.md"
    source = readme if readme.is_file() and readme.read_text().startswith("---\n") \
        else ROOT / "SPACE_FRONT_MATTER.md"
    text = source.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{source.name} does not open with front matter"
    return yaml.safe_load(text.split("---\n")[1])


def requirements() -> dict[str, Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line.split("#")[0].strip()) for line in lines
            if line.split("#")[0].strip()]
    return {r.name.lower(): r for r in reqs}


def test_front_matter_describes_a_gradio_space():
    meta = front_matter()
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == gradio.__version__ == "6.31.0"
    assert (ROOT / meta["app_file"]).is_file() and meta["app_file"] == "app.py"
    assert meta["python_version"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert isinstance(meta["python_version"], str)  # unquoted, 3.10 would read as 3.1
    assert {"title", "emoji", "colorFrom", "colorTo", "pinned"} <= set(meta)


def test_requirements_pin_what_the_package_needs():
    reqs = requirements()
    assert str(reqs["torch"].specifier) == "==2.13.0"
    assert str(reqs["gradio"].specifier) == f"=={front_matter()['sdk_version']}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {Requirement(d).name.lower() for d in project["dependencies"]}
    assert needed <= set(reqs), f"missing from requirements.txt: {needed - set(reqs)}"
    assert all(str(r.specifier).startswith("==") for r in reqs.values()), "pin every version"


def test_weights_go_to_git_lfs():
    patterns = [line.split()[0] for line in (ROOT / ".gitattributes").read_text().splitlines()
                if "filter=lfs" in line]
    assert "*.safetensors" in patterns
    for weights in (ROOT / "checkpoints").rglob("*.safetensors"):
        assert any(fnmatch.fnmatch(weights.name, p) for p in patterns)


STUB = '''\
"""A stand-in for Hugging Face's ``spaces`` package that records what it was asked to do."""
import functools, inspect, os

def _log(line):
    with open(os.environ["SPACES_STUB_LOG"], "a") as f:
        f.write(line + "\\n")

def GPU(fn=None, **options):
    def decorate(f):
        _log("decorated " + f.__name__)
        if inspect.isgeneratorfunction(f):
            @functools.wraps(f)
            def stream(*args, **kwargs):
                _log("called " + f.__name__)
                yield from f(*args, **kwargs)
            return stream
        @functools.wraps(f)
        def call(*args, **kwargs):
            _log("called " + f.__name__)
            return f(*args, **kwargs)
        return call
    return decorate(fn) if fn is not None else decorate
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_app_serves_from_a_clean_venv_with_only_the_requirements(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r",
                              str(ROOT / "requirements.txt")],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    probe = subprocess.run([str(python), "-c", "import gradio, torch; print(gradio.__version__)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert probe.stdout.strip() == "6.31.0", probe.stderr[-2000:]
    not_installed = subprocess.run([str(python), "-c", "import cnngru"], cwd=tmp_path,
                                   capture_output=True, timeout=60)
    assert not_installed.returncode != 0, "the venv should not hold cnngru: app.py finds it"

    stub_dir = tmp_path / "stub"
    (stub_dir / "spaces").mkdir(parents=True)
    (stub_dir / "spaces" / "__init__.py").write_text(STUB)
    log = tmp_path / "spaces.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=str(stub_dir), SPACES_STUB_LOG=str(log), SPACE_ID="someone/cnngru",
               PORT=str(port))
    env.pop("GRADIO_ANALYTICS_ENABLED", None)  # app.py must switch analytics off by itself
    env.pop("HF_HUB_DISABLE_TELEMETRY", None)
    output = tmp_path / "app.log"
    with open(output, "w") as out:
        app = subprocess.Popen([str(python), "app.py"], cwd=ROOT, env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    try:
        serve_deadline = time.time() + 120
        while True:
            assert app.poll() is None, output.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert time.time() < serve_deadline, "app.py did not serve within 120 s"
                time.sleep(0.2)
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", analytics_enabled=False, verbose=False)
        text = client.predict("gru", "ROMEO.\n", 30, 0.8, 0, 1.0, 1, False, False,
                              api_name="/generate")[0]
        assert text.startswith("ROMEO.\n") and len(text) == len("ROMEO.\n") + 30
        assert f"0.0.0.0:{port}" in output.read_text()  # a Space listens on every interface
        # a Space without ZeroGPU (SPACES_ZERO_GPU unset): the package is there, nothing is
        # wrapped in spaces.GPU (tests/app/test_spaces.py covers ZeroGPU itself)
        assert not log.exists()
    finally:
        app.terminate()
        app.wait(20)
