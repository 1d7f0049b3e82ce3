"""Encoding, and what happens to characters the model has never seen."""

import pytest

from cnngru.vocab import UnknownCharactersError, Vocab


def test_corpus_vocabulary_covers_every_split(corpus, vocab):
    for split in ("train", "validation", "test"):
        assert not vocab.unknown(corpus.split(split))


def test_encode_decode_round_trip(vocab, corpus):
    text = corpus.test[:5000]
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.encode_tensor(text).tolist() == vocab.encode(text)


def test_unknown_characters_are_named_in_the_error():
    v = Vocab("abc ")
    with pytest.raises(UnknownCharactersError) as e:
        v.encode("abz ¤ b")
    assert e.value.chars == ["z", "¤"] and "'z'" in str(e.value) and "unknown='replace'" in str(e.value)


def test_replace_strips_accents_or_falls_back_to_space():
    v = Vocab("abcde ")
    assert v.clean("bédé x", unknown="replace") == "bede  "


def test_bad_vocabularies_and_policies():
    with pytest.raises(ValueError):
        Vocab("aa")
    with pytest.raises(ValueError):
        Vocab("ab").clean("a", unknown="drop")
