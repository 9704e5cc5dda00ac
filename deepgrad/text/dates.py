"""Human-readable dates and their ISO form: the data of the course's date translation (course 5, week 3).

The course's "neural machine translation" exercise turns dates as people write them
("3 May 1979", "Thursday, March 7, 2019", "07.03.19") into the machine's ``YYYY-MM-DD``.
Here the dates are drawn with Faker (seeded) and written with Babel's CLDR patterns in
several locales: each locale's ``short``, ``medium``, ``long`` and ``full`` formats, plus
custom patterns like the course's ("d MMM y", "dd.MM.yy", "le d MMMM y").

* :data:`FORMATS`: the formats, each a :class:`DateFormat` (name, locale, Babel pattern);
  :func:`render` writes one date in one format.
* :func:`make_dates`: a seeded data set split into train/dev/test **on the date itself**:
  a date is drawn once and lands in exactly one split, then it is rendered in a format
  drawn at random, so no test date was seen in training, in any format.
* :func:`input_vocab`, :func:`target_vocab`: the character vocabularies; :func:`encode`
  turns a split into padded id arrays.

Two-digit years are read in a 100-year window (default 1950-2049), so "07.03.19" has one
meaning; formats that would make one string mean two dates (the Spanish ``d/M/yy`` and the
Italian ``dd/MM/yy`` beside the American ``M/d/yy``) are left out, which ``tests/text/test_dates.py`` checks.
Needs the optional extra ``pip install deepgrad[dates]`` (faker, babel).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

#: the locales whose CLDR formats are used
LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL")
_STANDARD = ("short", "medium", "long", "full")
#: standard formats left out because they collide with the American M/d/yy ("7/3/19", "11/10/50"):
#: the Spanish d/M/yy and the Italian dd/MM/yy
EXCLUDED = (("es_ES", "short"), ("it_IT", "short"))
#: custom patterns (locale, Babel pattern): the course's list (with ``y``, not the week-year ``Y``) and a few more
CUSTOM = (
    ("en_US", "d MMM y"), ("en_US", "d MMMM y"), ("en_US", "dd MMM y"), ("en_US", "d MMM, y"),
    ("en_US", "d MMMM, y"), ("en_US", "dd, MMM y"), ("en_US", "d MM yy"), ("en_US", "MMMM d y"),
    ("en_US", "EEE, d MMM y"), ("en_US", "EEEE d MMMM y"), ("en_GB", "dd.MM.yy"),
    ("fr_FR", "'le' d MMMM y"), ("fr_FR", "EEEE 'le' d MMMM y"), ("de_DE", "'am' d. MMMM y"),
    ("es_ES", "d/M/y"), ("it_IT", "d MMMM y"), ("nl_NL", "d-M-y"),
)

PAD, UNK = "<pad>", "<unk>"
#: ISO target length: YYYY-MM-DD
TARGET_LENGTH = 10


@dataclass(frozen=True)
class DateFormat:
    """One way of writing a date: ``name`` (e.g. "fr_FR:long" or "fr_FR:'le' d MMMM y"), locale, Babel pattern."""

    name: str
    locale: str
    pattern: str


@dataclass(frozen=True)
class DateExample:
    """A rendered date: ``text`` (the input), ``target`` (ISO), the ``date`` and the ``format`` name."""

    text: str
    target: str
    date: _dt.date
    format: str


def _babel():
    try:
        from babel.dates import format_date, get_date_format
    except ImportError as e:  # pragma: no cover - the extra is installed in CI
        raise ImportError("deepgrad.text.dates needs babel and faker: pip install 'deepgrad[dates]'") from e
    return format_date, get_date_format


def _formats() -> tuple[DateFormat, ...]:
    _, get_date_format = _babel()
    out = []
    for loc in LOCALES:
        for f in _STANDARD:
            if (loc, f) not in EXCLUDED:
                out.append(DateFormat(f"{loc}:{f}", loc, get_date_format(f, locale=loc).pattern))
    out += [DateFormat(f"{loc}:{pat}", loc, pat) for loc, pat in CUSTOM]
    return tuple(out)


_FORMATS: tuple[DateFormat, ...] | None = None


def formats() -> tuple[DateFormat, ...]:
    """All the formats (locale standard formats, then custom patterns), in a fixed order."""
    global _FORMATS
    if _FORMATS is None:
        _FORMATS = _formats()
    return _FORMATS


def render(date: _dt.date, fmt: DateFormat | str) -> str:
    """``date`` written in ``fmt`` (a :class:`DateFormat` or its name). A 2-digit year pattern
    ("yy") writes the year modulo 100; :func:`make_dates` keeps dates in a 100-year window."""
    format_date, _ = _babel()
    if isinstance(fmt, str):
        by_name = {f.name: f for f in formats()}
        if fmt not in by_name:
            raise KeyError(f"render: unknown date format {fmt!r}; see deepgrad.text.dates.formats()")
        fmt = by_name[fmt]
    return format_date(date, fmt.pattern, locale=fmt.locale)


def _check_window(start: _dt.date, end: _dt.date) -> None:
    if end < start:
        raise ValueError(f"make_dates: end {end} is before start {start}")
    if end.year - start.year >= 100:
        raise ValueError(f"make_dates: {start}..{end} spans 100 years or more, so a 2-digit year would be ambiguous")


def make_dates(n: int = 10000, seed: int = 0, fractions=(0.8, 0.1, 0.1), start=_dt.date(1950, 1, 1),
               end=_dt.date(2049, 12, 31), use_formats=None) -> dict[str, list[DateExample]]:
    """``{"train": [...], "dev": [...], "test": [...]}``: ``n`` distinct dates in ``start..end``
    drawn with Faker seeded by ``seed``, cut into splits by ``fractions`` (the dates, not their
    renderings: each date is in one split only), each written in a format drawn uniformly
    from ``use_formats`` (default :func:`formats`). Same arguments, same data set."""
    _babel()
    try:
        from faker import Faker
    except ImportError as e:  # pragma: no cover
        raise ImportError("deepgrad.text.dates needs babel and faker: pip install 'deepgrad[dates]'") from e
    _check_window(start, end)
    days = (end - start).days + 1
    if not 0 < n <= days:
        raise ValueError(f"make_dates: n must be in 1..{days} (the days in {start}..{end}), got {n}")
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"make_dates: fractions must be three non-negative numbers summing to 1, got {fractions}")
    fmts = tuple(use_formats or formats())
    fake = Faker()
    fake.seed_instance(seed)
    seen: set[_dt.date] = set()
    order: list[_dt.date] = []
    if n > days // 2:  # many of the days: a seeded permutation (drawing one by one would repeat a lot)
        order = [start + _dt.timedelta(days=int(i)) for i in fake.random.sample(range(days), n)]
    else:
        while len(order) < n:
            d = fake.date_between_dates(date_start=start, date_end=end)
            if d not in seen:
                seen.add(d)
                order.append(d)
    n_train = int(round(fr[0] * n))
    n_dev = int(round(fr[1] * n))
    cuts = {"train": order[:n_train], "dev": order[n_train:n_train + n_dev], "test": order[n_train + n_dev:]}
    out = {}
    for split, dates in cuts.items():
        rows = []
        for d in dates:
            f = fmts[fake.random.randrange(len(fmts))]
            rows.append(DateExample(render(d, f), d.isoformat(), d, f.name))
        out[split] = rows
    return out


def input_vocab():
    """The input characters: every character any format writes (all months, weekdays and
    digits, from rendering each day of 2000 and 2011 in every format), plus ``<pad>`` and ``<unk>``
    (id 0). Fixed by the formats, not by the data set drawn."""
    from .vocab import Vocab

    chars: set[str] = set()
    for year in (2000, 2011):
        d = _dt.date(year, 1, 1)
        while d.year == year:
            for f in formats():
                chars.update(render(d, f))
            d += _dt.timedelta(days=1)
    return Vocab([PAD] + sorted(chars), level="char", unk_token=UNK)


def target_vocab():
    """The ISO characters ``0-9`` and ``-`` (every target is exactly 10 of them; no padding)."""
    from .vocab import Vocab

    return Vocab(list("0123456789-"), level="char", unk_token=None)


def encode(examples, in_vocab, out_vocab, max_len: int | None = None):
    """``(x, y, lengths)``: input ids ``(N, max_len)`` padded with ``<pad>`` (longer inputs are an
    error, naming the text), target ids ``(N, 10)``, the input lengths. ``max_len`` defaults to
    the longest input."""
    texts = [e.text for e in examples]
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    L = int(lengths.max()) if max_len is None else int(max_len)
    if len(texts) and lengths.max() > L:
        i = int(lengths.argmax())
        raise ValueError(f"encode: input {texts[i]!r} has {lengths[i]} characters, more than max_len={L}")
    x = np.full((len(texts), L), in_vocab[PAD], dtype=np.int64)
    for i, t in enumerate(texts):
        x[i, : len(t)] = in_vocab.encode(t)
    y = np.stack([out_vocab.encode(e.target) for e in examples]) if examples else np.zeros((0, TARGET_LENGTH), np.int64)
    return x, y.astype(np.int64), lengths


def parse_iso(s: str) -> _dt.date | None:
    """The date an ISO string names, or None if it names none (a model's output may be garbage)."""
    try:
        return _dt.date.fromisoformat(s) if len(s) == TARGET_LENGTH else None
    except ValueError:
        return None


# ----- dates written out in words (the dates-words translation task) ------------------------
_ONES = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
            "twelve": "twelfth", "twenty": "twentieth", "thirty": "thirtieth"}
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


def _number(n: int) -> str:
    """0 < n < 100 in words: 7 -> "seven", 42 -> "forty two"."""
    return _ONES[n] if n < 20 else (_TENS[n // 10] + (" " + _ONES[n % 10] if n % 10 else ""))


def _ordinal(n: int) -> str:
    """1 <= n <= 31 as an ordinal: "first", "twenty second", "thirtieth"."""
    *head, last = _number(n).split()
    return " ".join(head + [_ORDINAL.get(last, last + "th")])


def _year(y: int) -> str:
    """A year of 1000-2099 as it is spoken: 1979 "nineteen seventy nine", 1905 "nineteen oh five",
    2000 "two thousand", 2007 "two thousand seven", 2019 "twenty nineteen"."""
    if not 1000 <= y <= 2099:
        raise ValueError(f"in_words: year {y} is outside 1000-2099")
    hi, lo = divmod(y, 100)
    if y == 2000:
        return "two thousand"
    if 2000 < y < 2010:
        return "two thousand " + _ONES[lo]
    if lo == 0:
        return _number(hi) + " hundred"
    return _number(hi) + " " + (_number(lo) if lo >= 10 else "oh " + _ONES[lo])


def in_words(date: _dt.date) -> str:
    """The date written out in English words, lower case, the way it is read aloud:
    1979-05-03 -> "the third of may nineteen seventy nine" (6 to 8 words for 1950-2049; the target of ``dates-words``)."""
    return f"the {_ordinal(date.day)} of {MONTHS[date.month - 1]} {_year(date.year)}"
