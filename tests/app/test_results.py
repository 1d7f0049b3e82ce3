"""The Results tab: the files ``cnngru reproduce`` writes, or how to make them."""

import json

from cnngru.app import results
from cnngru.app.results import ResultsOutputs


def test_results_show_table_answer_and_curves(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({
        "rows": [], "answer": "Yes, *a little*.", "curves": {"gru": [[0, 4], [10, 2]]}}))
    (tmp_path / "results.md").write_text("# Results\n\nIntro.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
                                         "\nAfter.\n")
    shown = results.read_results(tmp_path)
    assert isinstance(shown, ResultsOutputs)
    assert shown.table == "# Results\n\nIntro.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nAfter."
    assert shown.details == ""
    assert shown.answer == "Yes, *a little*." and shown.curves.data[0].name == "gru"
    assert shown.scaling is None  # no figure yet
    (tmp_path / "scaling.png").write_bytes(b"\x89PNG")
    assert results.read_results(tmp_path).scaling == str(tmp_path / "scaling.png")
    assert shown.curves.layout.title.text == "Training curves"
    (tmp_path / "results.json").write_text(json.dumps({
        "answer": "Open.", "curves": {"gru": [[0, 4]]}, "curves_from": "the shipped models"}))
    assert results.read_results(tmp_path).curves.layout.title.text == "Training curves: the shipped models"
    (tmp_path / "results.json").write_text("{broken")
    assert "could not be read" in results.read_results(tmp_path).table


def test_missing_results_say_how_to_make_them(tmp_path):
    table, answer, curves, scaling, details = results.read_results(tmp_path)
    assert "no results yet" in table.lower() and "cnngru reproduce" in table and answer == ""
    assert scaling is None


def test_the_main_table_comes_first_with_its_notes_and_every_other_section_goes_in_the_details():
    md = ("### The answer\n\nNo.\n\n*The 1M scale is not finished.*\n\n"
          "### Test BPC at each scale\n\n| a |\n|---|\n| 1 |\n\nMethod.\n\n"
          "### Candidate designs\n\n| c |\n|---|\n| 2 |\n\nOne seed each.\n\n"
          "### The shipped models\n\nFrom the last study.\n\n| s |\n|---|\n| 3 |\n\n"
          "![the scaling figure](scaling.png)\n")
    main, details = results.main_and_details(md)
    assert main == "### Test BPC at each scale\n\n| a |\n|---|\n| 1 |\n\nMethod."
    assert details == ("### Candidate designs\n\n| c |\n|---|\n| 2 |\n\nOne seed each.\n\n"
                       "### The shipped models\n\nFrom the last study.\n\n| s |\n|---|\n| 3 |")
    assert results.answer_of(md) == "No.\n\n*The 1M scale is not finished.*"
    unfinished = md.replace("### Test BPC at each scale\n\n| a |\n|---|\n| 1 |\n\nMethod.\n\n", "")
    main, details = results.main_and_details(unfinished)  # no scale finished: the shipped models
    assert main == "### The shipped models\n\nFrom the last study.\n\n| s |\n|---|\n| 3 |"
    assert "| c |" in details and "No." not in main + details


def test_the_tab_shows_the_real_results_with_the_notes_that_say_how_to_read_them():
    """On the committed results: the answer with what is unfinished, the main table with where
    its figures come from."""
    from cnngru.paths import RESULTS_DIR

    md = (RESULTS_DIR / "results.md").read_text()
    shown = results.read_results(RESULTS_DIR)
    heading = next(h for h in results.MAIN_TABLES if h in md)
    assert shown.table.startswith(heading) and shown.answer.startswith(
        json.loads((RESULTS_DIR / "results.json").read_text())["answer"])
    under = md.split(heading, 1)[1].split("\n### ", 1)[0].strip()
    assert under.splitlines()[0] in shown.table  # the note above the table (its source) is kept
    assert "![" not in shown.details  # no image link that could not resolve in the tab
