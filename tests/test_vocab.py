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


def test_a_text_with_too_many_characters_keeps_the_most_frequent_and_an_unknown_symbol():
    from cnngru.vocab import MAX_SIZE, UNKNOWN, alphabet

    rare = "".join(chr(0x4E00 + i) for i in range(400))  # 400 characters seen once each
    text = "ab" * 50 + "c" * 10 + rare
    chars = alphabet(text)
    assert len(chars) == MAX_SIZE and UNKNOWN in chars
    assert {"a", "b", "c"} <= set(chars)  # the frequent ones always stay
    kept = set(chars) - {UNKNOWN, "a", "b", "c"}
    assert kept == set(rare[: MAX_SIZE - 4])  # ties go to the smaller code point
    v = Vocab(chars)
    assert v.has_unknown and not Vocab("abc").has_unknown
    ids = v.encode(text)  # every character encodes: a rare one as the unknown symbol
    assert len(ids) == len(text) and ids[-1] == v.index[UNKNOWN]
    assert v.decode(v.encode("ab" + rare[-1])) == "ab" + UNKNOWN
    assert v.encode_tensor(text).tolist() == ids


def test_a_text_within_the_cap_keeps_every_character():
    from cnngru.vocab import UNKNOWN, alphabet

    assert alphabet("hello, world") == "".join(sorted(set("hello, world")))
    assert UNKNOWN not in alphabet("x" * 1000 + "".join(chr(65 + i) for i in range(26)))


def test_a_checkpoint_carries_the_unknown_symbol(tmp_path):
    import cnngru
    from cnngru.models import build_model
    from cnngru.vocab import UNKNOWN, alphabet

    chars = alphabet("".join(chr(0x4E00 + i) for i in range(300)) + "abc" * 20)
    vocab = Vocab(chars)
    model = build_model("gru", len(vocab), params=20_000)
    cnngru.save(tmp_path / "m", model, vocab, {"val_bpc": 1.0})
    loaded = cnngru.load(tmp_path / "m", device="cpu")
    assert loaded.vocab.chars == chars and loaded.vocab.has_unknown
    gen = cnngru.generate(loaded, "abc" + chr(0x4FFF), max_new_tokens=5, seed=0)
    assert gen.start.text == "abc" + UNKNOWN  # a prompt's rare character is the unknown symbol
    assert len("".join(step.char for step in gen)) == 5
