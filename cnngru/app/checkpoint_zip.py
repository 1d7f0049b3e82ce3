"""A visitor's four models as one zip, and such a zip brought back, with limits on what it holds.

The zip holds one folder, ``cnngru-your-text/``, with a checkpoint folder per strategy
(``gru/checkpoint.json``, ``gru/model.safetensors``, ...) and the table and example prompts as
JSON. Unpacked, the folder works as ``CNNGRU_CHECKPOINTS`` and each strategy's folder with
``cnngru.load``.

An upload is read only within limits: at most ``MAX_FILES`` files and ``MAX_UNPACKED`` bytes
unpacked (counted while extracting, not taken from the zip's own claims), ``.safetensors`` and
``.json`` files only, no path that leaves the folder, and checkpoints that belong together (one
vocabulary, each strategy in the folder of its name). A table or prompt list that cannot be read
(not JSON, or a table of another shape) is left out, and named, rather than refusing the models.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from .. import VARIANTS, CheckpointError, load
from ..checkpoint import META, WEIGHTS
from ..evaluation.text_study import markdown
from .validation import InputError

TOP = "cnngru-your-text"
MAX_ZIP = 64 * 2**20  # bytes of the zip itself
MAX_UNPACKED = 64 * 2**20  # bytes once unpacked: four 300k-parameter models take under 5 MB
MAX_FILES = 16
ALLOWED = (".safetensors", ".json")
TABLE = "table.json"
EXTRA_FILES = (TABLE, "examples.json", "words.json")  # kept beside them when present


class Unpacked(NamedTuple):
    """What an upload unpacked to."""

    folder: Path  # one folder per strategy, and the extra files that could be read
    dropped: list[str]  # extra files left out because they could not be (a broken table, ...)


def pack(folder: Path, target: Path) -> Path:
    """Zip the checkpoints in ``folder`` (and its table, examples and words) into ``target``."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for v in VARIANTS:
            for name in (META, WEIGHTS):
                if (folder / v / name).is_file():
                    z.write(folder / v / name, f"{TOP}/{v}/{name}")
        for name in EXTRA_FILES:
            if (folder / name).is_file():
                z.write(folder / name, f"{TOP}/{name}")
    return target


def unpack(zip_path, target: Path) -> Unpacked:
    """Extract a zip of checkpoints into ``target`` after checking it; ``target`` then holds one
    folder per strategy, and the names of the extra files left out come with it. An
    ``InputError`` says what is wrong otherwise."""
    zip_path = Path(zip_path)
    if zip_path.stat().st_size > MAX_ZIP:
        raise InputError(f"The zip is {zip_path.stat().st_size / 2**20:.1f} MB; the limit is "
                         f"{MAX_ZIP / 2**20:.0f} MB.")
    try:
        with zipfile.ZipFile(zip_path) as z:
            members = _checked_members(z)
            target.mkdir(parents=True, exist_ok=True)
            budget = MAX_UNPACKED
            for info, relative in members:
                out = target / relative
                out.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(out, "wb") as dst:
                    while chunk := src.read(1 << 16):
                        budget -= len(chunk)
                        if budget < 0:
                            raise InputError(f"The zip unpacks to more than "
                                             f"{MAX_UNPACKED / 2**20:.0f} MB, the limit.")
                        dst.write(chunk)
    except zipfile.BadZipFile:
        raise InputError("The upload is not a zip file. Upload the zip that Download gave.") from None
    check_checkpoints(target)
    return Unpacked(target, drop_unreadable_extras(target))


def _checked_members(z: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    files = [i for i in z.infolist() if not i.is_dir()]
    if len(files) > MAX_FILES:
        raise InputError(f"The zip holds {len(files)} files; a zip of checkpoints holds at most "
                         f"{MAX_FILES}.")
    if sum(i.file_size for i in files) > MAX_UNPACKED:
        raise InputError(f"The zip unpacks to more than {MAX_UNPACKED / 2**20:.0f} MB, the limit.")
    members = []
    for info in files:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or ":" in info.filename:
            raise InputError(f"The zip has a path outside its folder: {info.filename!r}.")
        if path.suffix not in ALLOWED:
            raise InputError(f"The zip holds {info.filename!r}; only {' and '.join(ALLOWED)} "
                             "files belong in a zip of checkpoints.")
        if info.external_attr >> 28 == 0o12:  # a symbolic link
            raise InputError(f"The zip holds a link, {info.filename!r}; only files are accepted.")
        parts = path.parts[1:] if path.parts[0] == TOP else path.parts
        if len(parts) == 2 and parts[0] in VARIANTS or len(parts) == 1 and parts[0] in EXTRA_FILES:
            members.append((info, PurePosixPath(*parts)))
        else:
            raise InputError(f"The zip holds {info.filename!r}, which is not part of a zip of "
                             f"checkpoints (a folder per strategy: {', '.join(VARIANTS)}).")
    return members


def check_checkpoints(folder: Path) -> None:
    """Every strategy's checkpoint loads, sits in the folder of its name, and all share one
    vocabulary (they were trained on one text)."""
    present = [v for v in VARIANTS if (folder / v).is_dir()]
    missing = [v for v in VARIANTS if v not in present]
    if missing:
        raise InputError(f"The zip lacks the checkpoint of {', '.join(missing)}: it needs all "
                         f"four strategies ({', '.join(VARIANTS)}).")
    vocabs = {}
    for v in present:
        try:
            bundle = load(folder / v, device="cpu")
        except CheckpointError as e:
            raise InputError(f"The {v} checkpoint in the zip cannot be loaded: "
                             f"{str(e).replace(str(folder) + '/', '')}") from None
        if bundle.variant != v:
            raise InputError(f"The zip's {v} folder holds a {bundle.variant} model: the "
                             "checkpoints do not match their folders.")
        vocabs[v] = bundle.vocab.chars
    if len(set(vocabs.values())) > 1:
        sizes = ", ".join(f"{v} {len(c)}" for v, c in vocabs.items())
        raise InputError("The checkpoints in the zip do not belong together: they were trained "
                         f"on different texts (vocabularies of {sizes} characters).")


def drop_unreadable_extras(folder: Path) -> list[str]:
    """Remove the extra files that cannot be used (not JSON, or a table of another shape) and
    return their names: the models are what matters, so these are left out, not fatal."""
    dropped = []
    for name in EXTRA_FILES:
        if (folder / name).is_file() and not _readable(folder / name):
            (folder / name).unlink()
            dropped.append(name)
    return dropped


def _readable(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return path.name != TABLE or _is_table(data)


def _is_table(data) -> bool:
    """A results table as the study writes it: one that the tab can show."""
    try:
        markdown(data)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return False
    return True


def unpack_into_fresh(zip_path, root: Path) -> Unpacked:
    """``unpack`` into a new folder under ``root``, removed again if the zip is refused."""
    root.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="upload-", dir=root))
    try:
        return unpack(zip_path, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
