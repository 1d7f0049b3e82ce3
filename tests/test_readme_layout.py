"""The README's Layout names every module of the package, under its own folder."""

from pathlib import Path

import cnngru

ROOT = Path(cnngru.__file__).parent


def layout_block() -> str:
    readme = (ROOT.parent / "README.md").read_text()
    return readme.split("Every module, one line each:", 1)[1].split("```")[1]


def layout_sections(block: str) -> dict[str, str]:
    """The Layout block's text under each folder heading (``cnngru/models/``, ``cnngru/``, ...)."""
    sections, folder = {}, None
    for line in block.splitlines():
        head = line.split(" ", 1)[0]
        if head.startswith("cnngru/") and head.endswith("/"):
            folder = head
        if folder:
            sections[folder] = sections.get(folder, "") + line + "\n"
    return sections


def test_the_layout_names_every_module_under_its_folder():
    block = layout_block()
    sections = layout_sections(block)
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "__init__.py" and path.parent != ROOT / "app":
            continue
        folder = "cnngru/" + "".join(f"{p}/" for p in path.relative_to(ROOT).parent.parts)
        words = sections.get(folder, "").replace(",", " ").split()
        if path.name not in words and f"{folder}{path.name}" not in block.split():
            missing.append(f"{folder}{path.name}")
    assert sections and not missing, f"modules the README's Layout leaves out: {missing}"
