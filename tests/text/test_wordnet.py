"""WordNet and GCIDE readers, on small files in the real formats written by the tests.

The WordNet lines below are copied from WordNet 3.0's data.noun / index.noun (pointers
trimmed to the ones the graph needs, which keeps ``p_cnt`` consistent); the tiny hypernym
graph is entity > physical_entity > object > {animal > dog, cat; artifact}.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from deepgrad.text import gcide, wordnet
from deepgrad.text.wordnet import WordNet, parse_data_line

LICENSE = "  1 This software and database is being provided to you, the LICENSEE, by  \n  2 Princeton University  \n"
NOUNS = [
    "00001740 03 n 01 entity 0 001 ~ 00001930 n 0000 | that which is perceived or known or inferred to have its own distinct existence (living or nonliving)  ",
    "00001930 03 n 01 physical_entity 0 002 @ 00001740 n 0000 ~ 00002684 n 0000 | an entity that has physical existence  ",
    "00002684 03 n 02 object 0 physical_object 0 003 @ 00001930 n 0000 ~ 00015388 n 0000 ~ 00021939 n 0000 | a tangible and visible entity; an entity that can cast a shadow; \"it was full of rackets, balls and other objects\"  ",
    "00015388 05 n 06 animal 0 animate_being 0 beast 0 brute 0 creature 0 fauna 0 003 @ 00002684 n 0000 ~ 02084071 n 0000 ~ 02121620 n 0000 | a living organism characterized by voluntary movement  ",
    "00021939 06 n 02 artifact 0 artefact 0 001 @ 00002684 n 0000 | a man-made object taken as a whole  ",
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 001 @ 00015388 n 0000 | a member of the genus Canis; \"the dog barked all night\"  ",
    "02121620 05 n 03 cat 0 true_cat 0 guy 1 001 @ 00015388 n 0000 | feline mammal usually having thick soft fur  ",
]
INDEX = [
    "dog n 1 1 @ 1 1 02084071  ",
    "cat n 1 1 @ 1 0 02121620  ",
    "animal n 1 1 @ 1 1 00015388  ",
    "artifact n 1 1 @ 1 1 00021939  ",
    "guy n 1 1 @ 1 0 02121620  ",
]
ADJ = "03003344 01 a 01 French 0 002 \\ 08801678 n 0101 + 09728285 n 0101 | of or pertaining to France  \n"


@pytest.fixture
def wndir(tmp_path: Path) -> Path:
    (tmp_path / "data.noun").write_text(LICENSE + "\n".join(NOUNS) + "\n")
    (tmp_path / "index.noun").write_text(LICENSE + "\n".join(INDEX) + "\n")
    (tmp_path / "data.adj").write_text(LICENSE + ADJ)
    return tmp_path


def test_parse_line_fields():
    s = parse_data_line(NOUNS[5])
    assert s.offset == 2084071 and s.pos == "n" and s.lexname == "noun.animal"
    assert s.words == ("dog", "domestic_dog", "Canis_familiaris")
    assert s.lemmas() == ["dog", "domestic dog", "canis familiaris"]
    assert s.pointers[0].symbol == "@" and s.pointers[0].offset == 15388 and s.pointers[0].key == ("n", 15388)
    assert s.definition == "a member of the genus Canis"
    assert s.examples == ["the dog barked all night"]
    adj = parse_data_line(ADJ)
    assert adj.lexname == "adj.pert" and adj.pointers[0].symbol == "\\"
    assert (adj.pointers[0].source, adj.pointers[0].target) == (1, 1)


def test_hex_word_count_and_markers():
    # w_cnt is hexadecimal: 0a = 10 words; adjectives may carry a syntactic marker
    words = " ".join(f"w{i} 0" for i in range(10))
    s = parse_data_line(f"00000001 03 n 0a {words} 000 | ten words  ")
    assert len(s.words) == 10 and s.gloss == "ten words"
    a = parse_data_line("00000002 00 a 01 galore(ip) 0 000 | in great numbers  ")
    assert a.words == ("galore",)


@pytest.mark.parametrize("bad", ["00001740 03 n", "0000x740 03 n 01 entity 0 000 | g", "00001740 99 n 01 e 0 000 | g",
                                 "00001740 03 q 01 e 0 000 | g"])
def test_malformed_lines_are_named(bad):
    with pytest.raises(ValueError, match="WordNet|synset type|lex_filenum"):
        parse_data_line(bad)


def test_reader_and_graph(wndir):
    wn = WordNet(wndir, pos="na")
    assert len(wn) == 8
    dog, cat = wn.lemma_synsets("dog")[0], wn.lemma_synsets("cat")[0]
    assert wn.lemma_synsets("Canis familiaris") == []  # not in our small index
    assert [h.words[0] for h in wn.hypernyms(dog)] == ["animal"]
    assert wn.max_depth(dog) == 4 and wn.max_depth(wn.synsets[("n", 1740)]) == 0
    # dog and cat meet at animal (depth 3, so d = 4): wup = 2*4 / (1 + 1 + 2*4) = 0.8
    assert wn.wup_similarity(dog, cat) == pytest.approx(0.8)
    assert wn.path_similarity(dog, cat) == pytest.approx(1 / 3)
    art = wn.lemma_synsets("artifact")[0]
    # dog - animal - object - artifact: lcs object (d = 3): 2*3 / (2 + 1 + 6)
    assert wn.wup_similarity(dog, art) == pytest.approx(6 / 9)
    assert wn.wup_similarity(dog, dog) == 1.0
    assert wn.word_similarity("dog", "cat") == pytest.approx(0.8)
    assert wn.word_similarity("dog", "unicorn") is None
    docs = wordnet.gloss_documents(wn)
    assert any(d.startswith("dog domestic dog canis familiaris : a member of the genus Canis;") for d in docs)


def test_find_wordnet_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPGRAD_WORDNET", str(tmp_path / "nowhere"))
    monkeypatch.setattr(wordnet, "SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="nowhere.*apt-get install wordnet-base"):
        wordnet.find_wordnet()


# ----- GCIDE ----------------------------------------------------------------------------
def _b64(n: int) -> str:
    digits = ""
    while True:
        digits = gcide._B64[n % 64] + digits
        n //= 64
        if n == 0:
            return digits


def test_b64_numbers():
    assert gcide.b64_number("A") == 0 and gcide.b64_number("C") == 2 and gcide.b64_number("BA") == 64
    assert gcide.b64_number("CDxmQ") == 2 * 64**4 + 3 * 64**3 + 49 * 64**2 + 38 * 64 + 16
    for n in (0, 1, 63, 64, 4095, 123456789):
        assert gcide.b64_number(_b64(n)) == n
    with pytest.raises(ValueError, match="base-64"):
        gcide.b64_number("A*")


def test_gcide_entries_and_cleaning(tmp_path):
    entries = [
        ("00-database-short", "00-database-short\n   The Collaborative International Dictionary of English v.0.48\n"),
        ("Dog", "Dog \\Dog\\ (d[add]g), n. [AS. docga; akin to D.\n   dog.]\n   1. (Zool.) A quadruped of the genus {Canis}.\n      [1913 Webster]\n\n"),
        ("Cat", "Cat \\Cat\\ (k[a^]t), n.\n   1. A small carnivore ({Felis catus}).\n      [1913 Webster]\n\n"),
    ]
    blob, lines = b"", []
    for head, text in entries:
        b = text.encode()
        lines.append(f"{head}\t{_b64(len(blob))}\t{_b64(len(b))}")
        blob += b
    lines.append(f"cat\t{_b64(len(entries[0][1]) + len(entries[1][1].encode()))}\t{_b64(len(entries[2][1]))}")  # alias
    with gzip.open(tmp_path / "gcide.dict.dz", "wb") as f:
        f.write(blob)
    (tmp_path / "gcide.index").write_text("\n".join(lines) + "\n")
    got = list(gcide.read_entries(tmp_path))
    assert [h for h, _ in got] == ["Dog", "Cat"]  # database entry skipped, alias read once
    assert got[0][1] == entries[1][1]
    docs = gcide.gcide_documents(tmp_path)
    assert docs[0] == "Dog (d g), n. 1. (Zool.) A quadruped of the genus Canis."
    assert docs[1] == "Cat (k t), n. 1. A small carnivore (Felis catus)."
    assert gcide.gcide_documents(tmp_path, limit=1) == docs[:1]
    # an index that points past the data is an error that names the entry
    (tmp_path / "gcide.index").write_text(f"Dog\t{_b64(0)}\t{_b64(10**6)}\n")
    with pytest.raises(ValueError, match="'Dog'"):
        list(gcide.read_entries(tmp_path))


def test_find_gcide_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(gcide, "SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPGRAD_GCIDE", raising=False)
    monkeypatch.delenv("DEEPGRAD_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get install dict-gcide"):
        gcide.find_gcide()
