"""The demo without a server: text statistics, the analysis, validation, figure and HTML builders,
the tab handlers and the composed Blocks, on tiny throwaway checkpoints."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import cnngru  # noqa: E402
from cnngru import diagnostics as analysis_mod  # noqa: E402
from cnngru.app import build_demo, common, figures, html, loaded_models, results, validation  # noqa: E402
from cnngru.app.compare import CompareHandlers  # noqa: E402
from cnngru.app.generate import GenerateHandlers  # noqa: E402
from cnngru.app.loaded_models import Models, load_models  # noqa: E402
from cnngru.app.refine_diff import RefineHandlers  # noqa: E402
from cnngru.app.score import ScoreHandlers  # noqa: E402
from cnngru.app.spaces import spaces_gpu  # noqa: E402
from cnngru.app.validation import InputError  # noqa: E402
from cnngru.corpus import Corpus  # noqa: E402
from cnngru.diagnostics import analyse  # noqa: E402
from cnngru.sample_quality import distinct_n, real_word_rate, repetition, words_in  # noqa: E402
from cnngru.threads import limit_blas_threads  # noqa: E402

CHARS = "\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORDS = ["the", "king", "lord", "speak", "romeo", "o'er"]


def tiny_checkpoints(folder: Path) -> Path:
    """One small random checkpoint per variant and a word list: fast, and different per variant."""
    vocab = cnngru.Vocab(CHARS)
    for k, variant in enumerate(cnngru.VARIANTS):
        torch.manual_seed(k)
        cnngru.save(folder / variant, cnngru.build_model(variant, len(vocab), hidden=24), vocab,
                    {"name": variant})
    (folder / "words.txt").write_text("\n".join(WORDS) + "\n")
    return folder


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Models:
    folder = tiny_checkpoints(tmp_path_factory.mktemp("ckpt"))
    old = os.environ.get("CNNGRU_CHECKPOINTS")
    os.environ["CNNGRU_CHECKPOINTS"] = str(folder)
    try:
        yield load_models(device="cpu", refiner=False)
    finally:
        if old is None:
            del os.environ["CNNGRU_CHECKPOINTS"]
        else:
            os.environ["CNNGRU_CHECKPOINTS"] = old


@pytest.fixture
def numbers(tmp_path) -> common.NumbersFiles:
    return common.NumbersFiles(tmp_path / "numbers")


class FakeResult:
    def __init__(self, text, edits):
        self.text, self.edits = text, edits


class FakeEdit:
    def __init__(self, position, old, new, confidence):
        self.position, self.old, self.new, self.confidence = position, old, new, confidence


def fake_refiner(text: str, threshold: float) -> FakeResult:
    """Stands in for cnngru.refiner (absent when these tests were written): 'q' -> 'k'."""
    edits = [FakeEdit(i, "q", "k", 0.95) for i, c in enumerate(text) if c == "q"]
    return FakeResult(text.replace("q", "k"), edits)


def drain(gen):
    return list(gen)


# ------------------------------------------------------------------------------------------------
# text_stats


def test_words_are_lowercase_runs_of_letters_with_inner_apostrophes():
    assert words_in("O'er the KING's-land, 'tis 3 men!") == ["o'er", "the", "king's", "land",
                                                            "tis", "men"]


def test_words_follow_the_corpus_word_rule():
    text = "What's this? 'Tis I, Romeo -- o'er-perch'd, the KING'S man.\nAy, ay!"
    assert set(words_in(text)) == Corpus.from_texts("t", text, "", "", "").words()


def test_real_word_rate_counts_known_words():
    assert real_word_rate("The king spoke to Romeo", {"the", "king", "romeo"}) == pytest.approx(3 / 5)
    assert real_word_rate("!!! ...", {"the"}) == 0.0


def test_distinct_n_and_repetition_see_a_loop():
    varied = "one two three four five six seven eight nine ten"
    loop = "the king the king the king the king the king the king"
    assert distinct_n(varied, 2) == 1.0 and repetition(varied) == 0.0
    assert distinct_n(loop, 2) == pytest.approx(2 / 11)
    assert repetition(loop) > 0.7
    assert distinct_n("one", 2) == 0.0
    with pytest.raises(ValueError):
        distinct_n(varied, 0)


# ------------------------------------------------------------------------------------------------
# analysis


@pytest.mark.parametrize("variant", cnngru.VARIANTS)
def test_analysis_equals_what_happened_during_generation(zoo, variant):
    bundle = zoo.get(variant)
    gen = cnngru.generate(bundle, "The king ", max_new_tokens=40, seed=3, diagnostics=True)
    steps = list(gen)
    a = analyse(bundle, gen.text)
    start = len("The king ")
    np.testing.assert_allclose(a.probability[start:], [s.probability for s in steps], rtol=1e-5)
    np.testing.assert_allclose(a.entropy[start:], [s.entropy for s in steps], rtol=1e-4)
    assert a.top_chars[start] == "".join(c for c, _ in steps[0].top)
    if variant == "hybrid":  # step k's trace is the one that predicts character k + 1
        traced = np.array([s.trace["attention"] for s in steps[:-1]])
        np.testing.assert_allclose(a.attention[start + 1:], traced, atol=1e-6)
    assert (a.influence is None) == (variant == "gru")
    assert (a.attention is None) == (variant != "hybrid")


def test_analysis_in_small_chunks_equals_one_pass(zoo, monkeypatch):
    bundle = zoo.get("hybrid")
    text = "O Romeo, Romeo, wherefore art thou Romeo? Deny thy father and refuse thy name."
    whole = analyse(bundle, text)
    monkeypatch.setattr(analysis_mod, "CHUNK", 7)
    chunked = analyse(bundle, text)
    np.testing.assert_allclose(chunked.probability[1:], whole.probability[1:], rtol=1e-5)
    np.testing.assert_allclose(chunked.influence[1:], whole.influence[1:], atol=1e-7)
    np.testing.assert_allclose(chunked.attention[1:], whole.attention[1:], atol=1e-6)


def test_cnn_influence_is_a_nonnegative_kl_and_zero_without_a_cnn_change(zoo):
    a = analyse(zoo.get("cnn-post"), "Speak, my lord.")
    assert np.isnan(a.influence[0]) and (a.influence[1:] >= 0).all() and a.influence[1:].max() > 0
    # With the refinement's output layer zeroed the CNN changes nothing: influence 0.
    bundle = zoo.get("cnn-post")
    saved = {k: v.clone() for k, v in bundle.model.up.state_dict().items()}
    try:
        with torch.no_grad():
            bundle.model.up.weight.zero_()
            bundle.model.up.bias.zero_()
        assert np.abs(analyse(bundle, "Speak, my lord.").influence[1:]).max() < 1e-9
    finally:
        bundle.model.up.load_state_dict(saved)


def test_analysis_numbers_are_strict_json(zoo):
    a = analyse(zoo.get("hybrid"), "My lord.")
    data = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert data["probability"][0] is None and len(data["probability"]) == len("My lord.")
    assert data["top"][0] == [] and len(data["top"][1]) == analysis_mod.TOP
    assert len(data["attention"][1]) == zoo.get("hybrid").model.config.window
    assert data["bits_per_char"] == pytest.approx(a.bits_per_char(), abs=1e-4)


def test_analysis_refuses_unknown_characters_and_one_character(zoo):
    with pytest.raises(cnngru.UnknownCharactersError):
        analyse(zoo.get("gru"), "naïve")
    with pytest.raises(ValueError, match="at least two"):
        analyse(zoo.get("gru"), "a")


# ------------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("args, expected", [
    ((5, 10, 0.8, 0, 1.0, 0), "max_new_tokens"),  # valid baseline below, each case breaks one
    ((0, 0.8, 0, 1.0, 0), "max_new_tokens must be a whole number from 1 to 2000"),
    ((2001, 0.8, 0, 1.0, 0), "max_new_tokens must be a whole number from 1 to 2000"),
    ((10.5, 0.8, 0, 1.0, 0), "max_new_tokens must be a whole number"),
    ((10, "hot", 0, 1.0, 0), "temperature must be a number from 0 to 2"),
    ((10, -0.1, 0, 1.0, 0), "temperature must be a number from 0 to 2"),
    ((10, float("nan"), 0, 1.0, 0), "temperature"),
    ((10, True, 0, 1.0, 0), "temperature"),
    ((10, 0.8, -1, 1.0, 0), "top_k must be a whole number from 0 to 60"),
    ((10, 0.8, 0, 0, 0), "top_p must be a number greater than 0 and at most 1"),
    ((10, 0.8, 0, 1.5, 0), "top_p"),
    ((10, 0.8, 0, 1.0, -3), "seed must be a whole number"),
    ((10, 0.8, 0, 1.0, "x"), "seed"),
])
def test_generation_settings_are_checked_by_name(args, expected):
    if len(args) == 6:  # the baseline: every value valid
        req = validation.generation_request(*args[1:], vocab_size=60)
        assert (req.max_new_tokens, req.temperature, req.top_k, req.seed) == (10, 0.8, 0, 0)
        return
    with pytest.raises(InputError, match=expected):
        validation.generation_request(*args, vocab_size=60)


def test_numeric_strings_are_accepted_and_an_empty_seed_is_random():
    req = validation.generation_request("12", "0.5", "3", "0.9", "", vocab_size=60)
    assert (req.max_new_tokens, req.temperature, req.top_k, req.top_p) == (12, 0.5, 3, 0.9)
    assert 0 <= req.seed <= validation.MAX_SEED
    assert len({validation.seed_value(None) for _ in range(5)}) > 1


def test_text_limits_and_unknown_characters_are_named():
    with pytest.raises(InputError, match="empty"):
        validation.text_input("", "prompt", 10)
    with pytest.raises(InputError, match="1,000,000 characters long; the demo takes up to 10"):
        validation.text_input("a" * 1_000_000, "prompt", 10)
    with pytest.raises(InputError, match="must be text"):
        validation.text_input(42, "prompt", 10)
    vocab = cnngru.Vocab(CHARS)
    with pytest.raises(InputError, match="'é' '€'"):
        validation.known_characters("café €", vocab, "prompt", replace=False)
    assert validation.known_characters("café", vocab, "prompt", replace=True) == "cafe"
    with pytest.raises(InputError, match="true or false"):
        validation.flag("yes", "refine")


# ------------------------------------------------------------------------------------------------
# figures and HTML


def test_attention_view_is_a_fixed_window_that_reaches_both_ends():
    assert figures.attention_view(2001, 100) == (1953, 2001)
    assert figures.attention_view(2001, 0) == (1, 49)
    assert figures.attention_view(10, 50) == (1, 10)  # short texts: everything


def test_attention_figure_puts_each_weight_under_its_characters(zoo):
    a = analyse(zoo.get("hybrid"), "The king\nspeaks to the lords of the realm at last.")
    start, end = figures.attention_view(len(a.text), 100)
    heat = figures.attention_figure(a, start, end).data[0]
    z, keys = np.array(heat.z, dtype=float), list(heat.x)
    assert z.shape == (end - start, len(keys))
    i, j = end - 1, a.window - 1  # the last prediction's weight on the character just before it
    assert z[-1, keys.index(i - a.window + j)] == pytest.approx(a.attention[i, j])
    assert np.nansum(z, axis=1) == pytest.approx(np.ones(end - start), abs=1e-5)
    assert heat.colorscale[0][1].lower() == "#440154"  # viridis
    ticks = figures.attention_figure(a, 1, 6).layout.xaxis.ticktext  # keys "The k"
    assert "⏎" not in ticks and "␣" in ticks
    assert "⏎" in figures.attention_figure(a, 5, 15).layout.xaxis.ticktext


def test_models_without_attention_get_a_note_not_a_heatmap(zoo):
    fig = figures.attention_figure(analyse(zoo.get("gru"), "My lord."), 1, 8)
    assert not fig.data and "no attention" in fig.layout.annotations[0].text


@pytest.mark.parametrize("variant, panels", [("gru", 1), ("cnn-pre", 2), ("hybrid", 3)])
def test_character_figure_shows_confidence_plus_what_the_model_has(zoo, variant, panels):
    a = analyse(zoo.get(variant), "The king speaks.")
    fig = figures.character_figure(a, prompt_chars=4)
    assert len(fig.data) == panels
    np.testing.assert_allclose(fig.data[0].y, a.probability[1:])
    assert "'k'" in fig.data[0].text[3]  # hover names the character
    assert len(fig.layout.shapes) == panels  # the prompt shaded in every panel...
    assert [a.text for a in fig.layout.annotations] == ["prompt"]  # ...and named once


def test_difference_figure_is_a_minus_b(zoo):
    text = "Speak, my lord."
    a, b = analyse(zoo.get("hybrid"), text), analyse(zoo.get("gru"), text)
    np.testing.assert_allclose(figures.difference_figure(a, b).data[0].y,
                               a.surprisal[1:] - b.surprisal[1:])
    with pytest.raises(ValueError):
        figures.difference_figure(a, analyse(zoo.get("gru"), "Other text."))


def test_surprisal_html_escapes_text_and_colours_by_rank(zoo):
    a = analyse(zoo.get("gru"), "The lord's 'word'.")
    out = html.surprisal_html(a)
    assert out.count('class="ch ') == len(a.text) - 1
    assert "&#x27;" in out and "'word'" not in out  # quotes escaped inside the text
    ranks = a.rank[1:]
    assert out.count("cnngru-b0") == int((ranks == 1).sum())  # first choices: the lightest band
    assert out.count("cnngru-b3") == int((ranks > 10).sum())
    assert ".cnngru-b0{background:#fde725" in html.legend_html()  # viridis, light to dark


def test_diff_html_marks_only_the_changed_characters():
    out = html.diff_html("the qing <spoke>", "the king <spoke>", {4: 0.97})
    assert '<del style="background:#D55E00;color:#fff" title="confidence 0.97">q</del>' in out
    assert ">k</ins>" in out and "&lt;spoke&gt;" in out and "1 change" in out
    assert "changed nothing" in html.diff_html("same", "same")


def test_curves_figure_has_one_line_per_model():
    fig = figures.curves_figure({"gru": [[0, 4.0], [100, 2.0]], "hybrid": [[0, 4.1], [100, 1.9]]})
    assert [t.name for t in fig.data] == ["gru", "hybrid"]
    assert list(fig.data[1].y) == [4.1, 1.9]


# ------------------------------------------------------------------------------------------------
# handlers


def test_generate_streams_throttled_updates_then_figures(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    updates = drain(handlers.generate_text("hybrid", "The ", 300, 0.8, 0, 1.0, 7, False, False))
    texts = [u[0] for u in updates]
    assert texts[0].startswith("The ") and len(texts[0]) > len("The ")
    assert texts == sorted(texts, key=len) and len(texts[-1]) == len("The ") + 300
    assert len(updates) < 100  # throttled: not one update per character
    final = updates[-1]
    text, status, attention, characters, numbers_file, refined, session = final
    assert "seed 7" in status and "300 characters" in status
    assert isinstance(attention.data[0], type(figures.go.Heatmap()))
    data = json.loads(Path(numbers_file).read_text())
    assert data["text"] == text and data["settings"]["seed"] == 7 and data["prompt_chars"] == 4
    assert session.text == text and session.analysis.text == text


def test_generate_says_plainly_that_gru_has_no_cnn(zoo, numbers):
    final = drain(GenerateHandlers(zoo, numbers).generate_text(
        "gru", "The ", 20, 0.8, 0, 1.0, 1, False, False))[-1]
    assert "has no CNN" in final[1]
    assert "no attention" in final[2].layout.annotations[0].text


def test_continue_carries_the_state_greedy_halves_equal_the_whole(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    whole = drain(handlers.generate_text("cnn-pre", "The ", 60, 0, 0, 1.0, 0, False, False))[-1]
    half = drain(handlers.generate_text("cnn-pre", "The ", 30, 0, 0, 1.0, 0, False, False))[-1]
    more = drain(handlers.continue_text(half[-1], 30, 0, 0, 1.0, 0, False))[-1]
    assert more[0] == whole[0]
    assert more[-1].prompt_chars == 4


def test_continue_without_a_text_and_beyond_the_limit_is_refused(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    with pytest.raises(InputError, match="nothing to continue"):
        drain(handlers.continue_text(None, 30, 0.8, 0, 1.0, 0, False))
    session = drain(handlers.generate_text("gru", "The ", 10, 0.8, 0, 1.0, 0, False, False))[-1][-1]
    session.continuation.text += "x" * validation.MAX_TEXT_CHARS  # pretend it grew long
    with pytest.raises(InputError, match="keeps up to"):
        drain(handlers.continue_text(session, 30, 0.8, 0, 1.0, 0, False))


def test_stop_ends_the_stream_with_figures_of_the_text_so_far(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    stream = handlers.generate_text("hybrid", "The ", 2000, 0.8, 0, 1.0, 0, False, False)
    first = next(stream)
    handlers.request_stop(first[-1])  # what the Stop button does, with the session it holds
    rest = list(stream)
    text, status, attention, *_, session = rest[-1]
    assert len(text) < 4 + 2000 and status.startswith(f"Stopped at {len(text):,} characters")
    assert session.analysis.text == text and attention.data
    handlers.request_stop(None)  # before any generation: nothing to stop, no error


def test_the_position_slider_redraws_from_the_session(zoo, numbers):
    handlers = GenerateHandlers(zoo, numbers)
    session = drain(handlers.generate_text("hybrid", "The ", 200, 0.8, 0, 1.0, 0, False,
                                           False))[-1][-1]
    early, characters = handlers.redraw_attention(session, 0)
    assert list(early.data[0].y)[0] == 1 and characters.layout.shapes
    assert handlers.redraw_attention(None, 50) == (gr.skip(), gr.skip())


def test_refine_option_needs_the_refiner_and_shows_its_edits(zoo, numbers):
    with pytest.raises(InputError, match="not available"):
        drain(GenerateHandlers(zoo, numbers).generate_text("gru", "The ", 5, 0.8, 0, 1.0, 0,
                                                           False, True))
    with_refiner = Models(zoo.bundles, zoo.words, refiner=fake_refiner)
    final = drain(GenerateHandlers(with_refiner, numbers).generate_text(
        "gru", "The ", 80, 2.0, 0, 1.0, 5, False, True))[-1]
    generated = final[0][4:]
    assert "Before" in final[5] and ("q" not in generated or "<del" in final[5])
    text, edits, diff = RefineHandlers(with_refiner).refine("a qing", 0.9)
    assert text == "a king" and edits == [{"position": 2, "old": "q", "new": "k",
                                           "confidence": 0.95}]
    with pytest.raises(InputError, match="threshold"):
        RefineHandlers(with_refiner).refine("a qing", 2)
    with pytest.raises(InputError, match="not available"):
        RefineHandlers(zoo).refine("a qing", 0.9)


def test_the_real_refiner_plugs_in(zoo, tmp_path, monkeypatch):
    """An untrained refiner checkpoint, found like the shipped one, serves the refine paths."""
    pytest.importorskip("cnngru.refiner")
    cnngru.save(tmp_path / "refiner", cnngru.build_model("refiner", len(CHARS), hidden=32),
                cnngru.Vocab(CHARS))
    monkeypatch.setenv("CNNGRU_CHECKPOINTS", str(tmp_path))
    cache = sys.modules["cnngru.refiner.refine"]._cached  # load_refiner() keeps what it loaded
    cache.cache_clear()
    try:
        refine_text, note = loaded_models.load_optional_refiner("cpu")
    finally:
        cache.cache_clear()  # later tests must not see this throwaway refiner
    assert refine_text is not None, note
    with_refiner = Models(zoo.bundles, zoo.words, refiner=refine_text)
    text, edits, diff = RefineHandlers(with_refiner).refine("the king is dead", 0.01)
    assert len(text) == len("the king is dead") and edits  # untrained: it edits at 1% confidence
    assert all(text[e["position"]] == e["new"] for e in edits)
    assert diff.count("<ins") >= 1


def test_compare_fills_every_column_from_the_first_update(zoo):
    handlers = CompareHandlers(zoo)
    n = len(handlers.names)
    updates = drain(handlers.compare_texts("The ", 200, 0.8, 0, 1.0, 4, False, False))
    assert all(len(t) >= 1 for t in updates[0][:n])
    final = updates[-1]
    assert all(len(t) == 200 for t in final[:n])
    assert all("chars/s" in s and "real words" in s for s in final[n:2 * n])
    assert len(final) == 4 * n + 1  # and the run, for the Stop button


def test_compare_stops_when_asked(zoo):
    handlers = CompareHandlers(zoo)
    stream = handlers.compare_texts("The ", 1000, 0.8, 0, 1.0, 4, False, False)
    first = next(stream)
    handlers.request_stop(first[-1])
    final = list(stream)[-1]
    assert 0 < len(final[0]) < 1000 and len({len(t) for t in final[:4]}) == 1


def test_compare_uses_common_random_numbers(zoo):
    same = Models({"gru": zoo.get("gru"), "hybrid": zoo.get("gru")}, zoo.words)  # one model twice
    texts = drain(CompareHandlers(same).compare_texts("The ", 100, 1.0, 0, 1.0, 9, False,
                                                      False))[-1][:2]
    assert texts[0] == texts[1]
    other = drain(CompareHandlers(same).compare_texts("The ", 100, 1.0, 0, 1.0, 10, False,
                                                      False))[-1][:2]
    assert other[0] != texts[0]


def test_score_reads_the_text_with_every_model(zoo):
    table, coloured, difference, analyses = ScoreHandlers(zoo).score_text(
        "Speak, my lord.", "hybrid", "gru", False)
    assert [row[0] for row in table] == zoo.names
    assert table[0][1] == pytest.approx(analyses["gru"].bits_per_char(), abs=1e-4)
    assert all(f'data-model="{n}"' in coloured for n in zoo.names)
    assert "hybrid − gru" in difference.layout.yaxis.title.text
    with pytest.raises(InputError, match="at least 2 characters"):
        ScoreHandlers(zoo).score_text("a", "hybrid", "gru", False)
    with pytest.raises(InputError, match="Unknown strategy 'nope'"):
        ScoreHandlers(zoo).score_text("Speak.", "nope", "gru", False)


def test_errors_become_clear_gradio_errors():
    def refuse():
        raise InputError("The prompt is empty.")

    def crash():
        yield 1
        raise RuntimeError("boom")

    with pytest.raises(gr.Error, match="The prompt is empty."):
        common.with_clear_errors(refuse)()
    with pytest.raises(gr.Error, match="RuntimeError: boom"):
        list(common.with_clear_errors(crash)())


# ------------------------------------------------------------------------------------------------
# results, models, spaces, the Blocks


def test_results_show_table_answer_and_curves(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({
        "rows": [], "answer": "Yes, *a little*.", "curves": {"gru": [[0, 4], [10, 2]]}}))
    (tmp_path / "results.md").write_text("# Results\n\nIntro.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
                                         "\nAfter.\n")
    table, answer, curves = results.read_results(tmp_path)
    assert table == "# Results\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert answer == "Yes, *a little*." and curves.data[0].name == "gru"
    (tmp_path / "results.json").write_text("{broken")
    assert "could not be read" in results.read_results(tmp_path)[0]


def test_missing_results_say_how_to_make_them(tmp_path):
    table, answer, curves = results.read_results(tmp_path)
    assert "no results yet" in table.lower() and "cnngru reproduce" in table and answer == ""


def test_extra_checkpoints_show_up_and_broken_ones_are_reported(zoo, tmp_path, monkeypatch):
    extra = tmp_path / "mine"
    cnngru.save(extra / "my-model", cnngru.build_model("gru", len(CHARS), hidden=8),
                cnngru.Vocab(CHARS))
    (extra / "broken").mkdir()
    (extra / "broken" / "checkpoint.json").write_text('{"variant": "gru"}')
    (extra / "refiner").mkdir()  # not a language model: never a strategy
    (extra / "refiner" / "checkpoint.json").write_text('{"variant": "refiner"}')
    monkeypatch.setenv("CNNGRU_CHECKPOINTS", os.pathsep.join([str(extra), os.environ[
        "CNNGRU_CHECKPOINTS"]]))
    loaded = load_models(device="cpu", refiner=False)
    assert loaded.names == [*cnngru.VARIANTS, "my-model"]
    assert loaded.variants == list(cnngru.VARIANTS)
    assert any("broken" in p for p in loaded.problems)


def test_threads_are_shared_out_between_concurrent_requests(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    try:
        assert loaded_models.configure_threads(2) == 4 and torch.get_num_threads() == 4
        assert loaded_models.configure_threads(16) == 1
    finally:
        torch.set_num_threads(before)


def test_numpys_blas_runs_one_thread_per_step():
    import ctypes

    maps = Path("/proc/self/maps")
    blas = [line.split()[-1] for line in (maps.read_text() if maps.exists() else "").splitlines()
            if "openblas" in line.lower() and ".so" in line]
    if not blas:
        pytest.skip("NumPy here does not use OpenBLAS (or this is not Linux)")
    assert limit_blas_threads(1) >= 1  # NumPy's OpenBLAS was found and told
    library = ctypes.CDLL(blas[0])
    getter = next(getattr(library, n) for n in ("scipy_openblas_get_num_threads64_",
                                                "openblas_get_num_threads") if hasattr(library, n))
    assert getter() == 1


def test_spaces_gpu_is_a_no_op_without_the_package_and_used_with_it(monkeypatch):
    def handler():
        yield "x"

    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    assert spaces_gpu(handler) is handler
    used = []
    stub = types.SimpleNamespace(GPU=lambda fn: used.append(fn.__name__) or fn)
    monkeypatch.setitem(sys.modules, "spaces", stub)
    assert spaces_gpu(handler) is handler and used == ["handler"]


def test_demo_has_named_endpoints_a_bounded_queue_and_shared_workers(zoo, monkeypatch):
    demo = build_demo(zoo)
    public = {fn.api_name: fn for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert set(public) == {"generate", "continue_generation", "compare", "score", "results",
                           "refine"}
    for name in ("generate", "continue_generation", "compare", "score", "refine"):
        assert public[name].concurrency_id == "models"
        assert public[name].concurrency_limit == common.CONCURRENCY
        assert public[name].validator is None  # a validator would bypass the queue's bound
        assert not public[name].preprocess  # values reach our own checks, named
    assert len(public["refine"].outputs) == 3  # refined text, edits, diff
    assert demo._queue.max_size == common.QUEUE_SIZE
    assert torch.get_num_threads() == max(1, (os.cpu_count() or 1) // common.CONCURRENCY)
