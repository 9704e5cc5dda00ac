"""The date translation data (deepgrad.text.dates): formats, splits, vocabularies."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

pytest.importorskip("babel")
pytest.importorskip("faker")

from babel.dates import get_day_names, get_month_names, parse_date  # noqa: E402

from deepgrad.text import dates as D  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return D.make_dates(3000, seed=7)


def test_same_seed_same_data_other_seed_other_data(data):
    again = D.make_dates(3000, seed=7)
    assert again == data
    other = D.make_dates(3000, seed=8)
    assert [e.text for e in other["train"][:50]] != [e.text for e in data["train"][:50]]


def test_split_sizes_and_no_date_in_two_splits(data):
    assert {k: len(v) for k, v in data.items()} == {"train": 2400, "dev": 300, "test": 300}
    sets = {k: {e.date for e in v} for k, v in data.items()}
    assert sum(len(s) for s in sets.values()) == 3000  # each date once, in one split
    assert not (sets["train"] & sets["dev"]) and not (sets["train"] & sets["test"]) and not (sets["dev"] & sets["test"])


def test_every_target_is_the_iso_form_of_its_date(data):
    for rows in data.values():
        for e in rows:
            assert len(e.target) == D.TARGET_LENGTH
            assert dt.date.fromisoformat(e.target) == e.date == D.parse_iso(e.target)
            assert dt.date(1950, 1, 1) <= e.date <= dt.date(2049, 12, 31)
            assert D.render(e.date, e.format) == e.text


def test_at_least_12_formats_and_6_locales_in_the_data(data):
    fmts = D.formats()
    assert len(fmts) >= 12 and len({f.locale for f in fmts}) >= 6
    used = {e.format for rows in data.values() for e in rows}
    assert len(used) >= 12
    assert len({name.split(":")[0] for name in used}) >= 6
    texts = {e.text for e in data["train"]}
    assert any(t.startswith("le ") for t in texts)  # "le 7 mars 2019"
    assert any(", " in t and t.split(",")[0] in get_day_names("wide", locale="en_US").values() for t in texts)


def test_examples_from_the_issue_are_formats_here():
    d = dt.date(2019, 3, 7)
    written = {D.render(d, f) for f in D.formats()}
    for s in ("Thursday, March 7, 2019", "07.03.19", "le 7 mars 2019", "7 March 2019"):
        assert s in written
    assert D.render(dt.date(1979, 5, 3), "en_GB:long") == "3 May 1979"


def test_no_string_means_two_dates():
    """Over whole years (every day/month swap, 2-digit years that could be days), no two
    different dates are written the same way by any two formats."""
    seen: dict[str, dt.date] = {}
    for year in (1950, 2003, 2012, 2019, 2049):
        d = dt.date(year, 1, 1)
        while d.year == year:
            for f in D.formats():
                s = D.render(d, f)
                assert seen.setdefault(s, d) == d, (s, d, seen[s], f.name)
            d += dt.timedelta(days=1)


def test_rendering_round_trips_through_babel(data):
    """Numeric formats parse back with babel's parser; in written ones, babel's own name of
    the month (and weekday) and the day and year numbers are there."""
    numeric = 0
    for e in data["test"][:300]:
        loc, _, kind = e.format.partition(":")
        if not any(c.isalpha() for c in e.text):
            got = parse_date(e.text, locale=loc, format=kind)  # a standard format's name, or the pattern
            # babel puts a 2-digit year in its own century; ours is in the 1950-2049 window
            assert (got.month, got.day, got.year % 100) == (e.date.month, e.date.day, e.date.year % 100), (e, got)
            numeric += 1
            continue
        months = set(get_month_names("wide", locale=loc).values()) | set(get_month_names("abbreviated", locale=loc).values())
        month_names = {get_month_names(w, locale=loc)[e.date.month] for w in ("wide", "abbreviated")}
        words = e.text.replace(",", " ").split()
        present = [m for m in months if m in words]
        assert present and set(present) <= month_names, (e, present)
        assert str(e.date.year) in words and (str(e.date.day) in words or f"{e.date.day:02d}" in words
                                              or f"{e.date.day}." in words), e
        if "EEEE" in e.format or kind == "full":
            assert get_day_names("wide", locale=loc)[e.date.weekday()] in e.text, e
    assert numeric > 30


def test_vocabularies_and_encoding(data):
    inv, outv = D.input_vocab(), D.target_vocab()
    assert inv.itos[0] == D.UNK and D.PAD in inv
    assert len(outv) == 11
    x, y, lengths = D.encode(data["train"], inv, outv)
    assert x.shape == (2400, lengths.max()) and y.shape == (2400, 10)
    assert not (x == inv[D.UNK]).any()  # every character a format writes is in the vocabulary
    for i in (0, 17, 999):
        e = data["train"][i]
        assert inv.decode(x[i, : lengths[i]]) == e.text
        assert (x[i, lengths[i]:] == inv[D.PAD]).all()
        assert outv.decode(y[i]) == e.target
    with pytest.raises(ValueError, match="max_len"):
        D.encode(data["train"], inv, outv, max_len=5)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="100 years"):
        D.make_dates(10, start=dt.date(1900, 1, 1), end=dt.date(2010, 1, 1))
    with pytest.raises(ValueError, match="n must be"):
        D.make_dates(400, start=dt.date(2000, 1, 1), end=dt.date(2000, 12, 31))
    with pytest.raises(ValueError, match="fractions"):
        D.make_dates(10, fractions=(0.5, 0.6, 0.1))
    with pytest.raises(KeyError, match="unknown date format"):
        D.render(dt.date(2000, 1, 1), "xx_XX:short")
    assert D.parse_iso("2019-02-30") is None and D.parse_iso("2019-3-7") is None


def test_the_whole_window_can_be_drawn():
    full = D.make_dates(366, seed=1, start=dt.date(2000, 1, 1), end=dt.date(2000, 12, 31))
    assert sorted(e.date for rows in full.values() for e in rows) == [
        dt.date(2000, 1, 1) + dt.timedelta(days=i) for i in range(366)]
    assert np.isclose(len(full["train"]) / 366, 0.8, atol=0.01)


def test_the_split_is_made_on_dates_before_rendering():
    """Another set of formats writes the same dates in the same splits: the split does not depend on the writing."""
    fr = [f for f in D.formats() if f.locale == "fr_FR"]
    a, b = D.make_dates(500, seed=3), D.make_dates(500, seed=3, use_formats=fr)
    for split in ("train", "dev", "test"):
        assert [e.date for e in a[split]] == [e.date for e in b[split]]
        assert {e.format for e in b[split]} <= {f.name for f in fr}
