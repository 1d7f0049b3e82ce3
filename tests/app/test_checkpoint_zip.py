"""Zips of a session's checkpoints: what Download writes loads again, and an upload is read only
within its limits, whatever its own headers claim."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from tiny_zoo import tiny_checkpoints

import cnngru
from cnngru.app import checkpoint_zip
from cnngru.app.checkpoint_zip import TOP, pack, unpack, unpack_into_fresh
from cnngru.app.validation import InputError


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    folder = tiny_checkpoints(tmp_path_factory.mktemp("tiny"))
    (folder / "examples.json").write_text('["the king"]')
    return pack(folder, tmp_path_factory.mktemp("zip") / f"{TOP}.zip")


def test_a_packed_zip_unpacks_to_loadable_checkpoints(packed, tmp_path):
    with zipfile.ZipFile(packed) as z:
        names = set(z.namelist())
    assert f"{TOP}/hybrid/model.safetensors" in names and f"{TOP}/examples.json" in names
    assert not any(n.endswith(".txt") for n in names)  # the word list is not a checkpoint file
    folder = unpack(packed, tmp_path / "back").folder
    assert {v: cnngru.load(folder / v).variant for v in cnngru.VARIANTS} == {
        v: v for v in cnngru.VARIANTS}


def test_a_zip_bomb_is_refused_and_a_lying_header_gains_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_zip, "MAX_UNPACKED", 2**20)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("gru/model.safetensors", b"\0" * (3 * 2**20))
    assert bomb.stat().st_size < 2**15  # 3 MB in a few kilobytes
    with pytest.raises(InputError, match="more than 1 MB"):
        unpack(bomb, tmp_path / "a")
    # the same data under headers that claim 100 bytes: refused, nothing left behind
    size = (3 * 2**20).to_bytes(4, "little")
    lying = tmp_path / "lying.zip"
    lying.write_bytes(bomb.read_bytes().replace(size, (100).to_bytes(4, "little")))
    with pytest.raises(InputError):
        unpack_into_fresh(lying, tmp_path / "uploads")
    assert list((tmp_path / "uploads").iterdir()) == []


def test_a_link_in_the_zip_is_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("gru/checkpoint.json")
        info.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
        z.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="a link"):
        unpack(path, tmp_path / "out")


def test_a_refused_upload_leaves_no_folder_behind(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("gru/checkpoint.json", "{}")
    with pytest.raises(InputError, match="lacks the checkpoint"):
        unpack_into_fresh(bad, tmp_path / "uploads")
    assert list((tmp_path / "uploads").iterdir()) == []
