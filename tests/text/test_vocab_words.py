"""Vocabulary (char and word level, min count, unknown token, JSON) and the word-list reader."""
import json
import os

import numpy as np
import pytest

from deepgrad.text import Vocab, read_words, tokenize
from deepgrad.text.words import WORDLIST_PATH

needs_wordlist = pytest.mark.skipif(not os.path.exists(WORDLIST_PATH), reason="wamerican not installed")


def test_char_vocab_roundtrip_and_order():
    v = Vocab.build(["banana\n", "cab\n"])
    # <unk> first, then by decreasing count, ties in code-point order ("\n" < "b" < "n")
    assert v.itos == ["<unk>", "a", "\n", "b", "n", "c"]
    ids = v.encode("cab\nz")
    assert ids.dtype == np.int64
    assert ids.tolist() == [5, 1, 3, 2, 0]
    assert v.decode(ids[:4]) == "cab\n"
    assert v["z"] == v.unk_index == 0
    assert v.counts[v["a"]] == 4 and v.counts[0] == 0
    with pytest.raises(IndexError, match="out of range"):
        v.decode([6])


def test_word_vocab_min_count_max_size_specials():
    texts = ["the cat sat on the mat.", "The dog sat!"]
    assert tokenize(texts[0], "word") == ["the", "cat", "sat", "on", "the", "mat", "."]
    v = Vocab.build(texts, level="word", min_count=2, lower=True, specials=("<eos>",))
    assert v.itos == ["<unk>", "<eos>", "the", "sat"]  # the: 3 times (lowercased), sat: 2
    assert v.encode("the cow sat").tolist() == [2, 0, 3]
    assert v.decode([2, 3]) == "the sat"
    small = Vocab.build(texts, level="word", max_size=3, lower=True)
    assert len(small) == 3 and small.itos[1:] == ["the", "sat"]
    strict = Vocab.build(texts, level="word", unk_token=None)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        strict["zebra"]
    with pytest.raises(ValueError, match="no token"):
        Vocab.build(["a"], min_count=2)
    with pytest.raises(ValueError, match="level"):
        Vocab.build(["a"], level="byte")


def test_save_load_json(tmp_path):
    v = Vocab.build(["héllo wörld\n"], min_count=1)
    p = tmp_path / "vocab.json"
    v.save(p)
    d = json.loads(p.read_text(encoding="utf-8"))
    assert d["format"] == "deepgrad.vocab" and d["tokens"][0] == "<unk>"
    w = Vocab.load(p)
    assert w == v and w.encode("wörld").tolist() == v.encode("wörld").tolist()
    d["tokens"] = d["tokens"][1:]
    p.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="unknown token"):
        Vocab.load(p)
    p.write_text(json.dumps({"tokens": []}))
    with pytest.raises(ValueError, match="not a deepgrad vocabulary"):
        Vocab.load(p)


def test_read_words_from_a_given_file(tmp_path):
    p = tmp_path / "words"
    p.write_text("A\nAaron\nAaron's\naardvark\nabc-def\néclair\nBoston\nNASA\nzebra\nzebra\n", encoding="utf-8")
    assert read_words("names", path=str(p)) == ["aaron", "boston"]
    assert read_words("words", path=str(p)) == ["aardvark", "zebra"]
    assert read_words("words", path=str(p), ascii_only=False) == ["aardvark", "éclair", "zebra"]
    assert read_words("all", path=str(p), lower=False) == ["Aaron", "aardvark", "Boston", "zebra"]
    assert read_words("words", path=str(p), min_length=6) == ["aardvark"]
    with pytest.raises(FileNotFoundError, match="apt-get install wamerican"):
        read_words(path=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="kind"):
        read_words("verbs", path=str(p))


@needs_wordlist
def test_the_real_word_list():
    names = read_words("names")
    words = read_words("words")
    assert 9000 < len(names) < 11000 and 60000 < len(words) < 70000
    assert "aaron" in names and "aardvark" in words and "aardvark" not in names
    assert all(w.isalpha() and w.islower() and w.isascii() for w in names[:500] + words[:500])
    v = Vocab.build("\n".join(names) + "\n")
    assert len(v) == 28  # <unk>, a-z and the newline: the course's 27 characters plus <unk>
