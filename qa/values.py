"""What a source's answer says, normalised so that two outlets' wordings of one value compare equal.

- Numbers: words become digits (text2num: "two thousand" -> 2000, "fifteen hundred" -> 1500), a scale word
  multiplies ("1.5 thousand", "3 mln"), and hedges ("about", "some", "nearly") are dropped: "about 1,500" and "1.5
  thousand" both say 1500. The unit is not compared: the question fixes it.
- Dates: dateparser, with the article's own publication date as the base for "Tuesday" or "last week", preferring
  the past (a report tells what happened). The precision is what the text states: "2015" -> "2015", "November of
  2015" -> "2015-11", "March 4" -> "2025-03-04" when the article is dated 2025. A relative date in an undated
  article stays ambiguous: it is compared as folded text, never given a day it does not state.
- Names and anything else: case, punctuation and leading articles folded; a surname alone matches the full name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

_HEDGES = re.compile(r"\b(about|around|approximately|roughly|some|nearly|almost|over|more than|less than|at least|"
                     r"up to|an estimated|estimated|as many as|close to|just under|just over)\b", re.IGNORECASE)
_SCALES = {"thousand": 1e3, "1000": 1e3, "k": 1e3, "million": 1e6, "mln": 1e6, "1000000": 1e6, "m": 1e6,
           "billion": 1e9, "bln": 1e9, "1000000000": 1e9, "bn": 1e9, "dozen": 12, "hundred": 100, "100": 100}
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)(?:\s*(thousand|million|billion|mln|bln|bn|dozen|hundred|k|m|1000000000|1000000|1000|100)\b)?",
                     re.IGNORECASE)
_RELATIVE = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|"
                       r"last|next|this|ago)\b", re.IGNORECASE)
_MONTH = re.compile(r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t|tember)?|"
                    r"oct(ober)?|nov(ember)?|dec(ember)?)\b", re.IGNORECASE)
_DAY = re.compile(r"\b\d{1,2}(st|nd|rd|th)?\b")
_YEAR = re.compile(r"\b(1[5-9]|20)\d\d\b")
_LEADING_NUMBER = re.compile(rf"^\W*(?:{_HEDGES.pattern}\s*)?(\d|(one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                             r"twelve|twenty|thirty|forty|fifty|hundred|thousand|dozen|half)\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Value:
    """A stated value and how it compares: `kind` is number, date, name or text."""

    text: str
    normalized: str
    kind: str


def fold(text: str) -> str:
    """Lower case, words only, no leading article: "The Kremlin." -> "kremlin"."""
    words = re.findall(r"\w+", text.casefold())
    while words and words[0] in {"the", "a", "an"}:
        words = words[1:]
    return " ".join(words)


def number(text: str) -> float | None:
    """The one number a span states, or None."""
    from text_to_num import alpha2digit

    digits = alpha2digit(_HEDGES.sub(" ", text), "en")
    digits = re.sub(r"\bhalf\s+a\s+dozen\b", "6", digits, flags=re.IGNORECASE)
    digits = re.sub(r"(?<![\d\s])\s*\b(?:an?\s+|one\s+)?dozen\b", " 12", digits, flags=re.IGNORECASE)
    found = _NUMBER.findall(digits)
    if not found:
        return None
    raw, scale = found[0]
    raw = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw) else raw.replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        return None
    return value * _SCALES.get(scale.casefold(), 1.0) if scale else value


def when(text: str, published: str | None) -> str | None:
    """The date a span states, as precise as it states it (YYYY, YYYY-MM or YYYY-MM-DD), or None."""
    import dateparser

    relative = bool(_RELATIVE.search(text))
    base = datetime.fromisoformat(published) if published else None
    if relative and base is None:
        return None  # "on Tuesday" in an undated article: which Tuesday is unknowable
    has_month, has_day, has_year = bool(_MONTH.search(text)), bool(_DAY.search(_YEAR.sub(" ", text))), bool(_YEAR.search(text))
    if not (relative or has_month or has_year):
        return None
    settings = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False, "REQUIRE_PARTS": []}
    if base is not None:
        settings["RELATIVE_BASE"] = base
    if not relative and has_year and not has_month:
        return _YEAR.search(text).group()
    if not has_year and base is None:
        return None  # "October 22" in an undated article: the year is unknowable
    parsed = dateparser.parse(_strip_words(text), languages=["en"], settings=settings)
    if parsed is None:
        return None
    if re.search(r"\bweek\b", text, re.IGNORECASE):
        return parsed.strftime("%G-W%V")  # "last week" names a week, not a day
    if relative or (has_month and has_day):
        return parsed.date().isoformat()
    if has_month and has_year:
        return parsed.strftime("%Y-%m")
    if has_month and base is not None:
        return parsed.strftime("%Y-%m")
    return None


def _strip_words(text: str) -> str:
    """Words around a date that dateparser would choke on ("in November of 2015" -> "November 2015")."""
    text = re.sub(r"\b(on|in|of|the|early|late|mid|since|by|until|from)\b", " ", text, flags=re.IGNORECASE)
    return " ".join(re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text).split())


def normalize(text: str, qtype: str, published: str | None = None) -> Value:
    """The value a span states, compared by the kind of answer the question asks for (qa.decide.question_type)."""
    # "What magnitude ...?" or "How hot ...?" ask for a number without saying "how many": a span that leads with one
    # is compared as one.
    if qtype == "number" or (qtype == "other" and _LEADING_NUMBER.match(text)):
        n = number(text)
        if n is not None:
            n = float(f"{n:.6g}")  # 4.1 * 10**6 is 4099999.9999999995 in floating point
            return Value(text, str(int(n)) if n.is_integer() else repr(n), "number")
    if qtype == "when":
        d = when(text, published)
        if d is not None:
            return Value(text, d, "date")
    words = re.findall(r"[^\W\d_][\w'-]*", text)
    if qtype in ("who", "where") or (words and all(w[0].isupper() for w in words)):  # "Which seismologist ...?"
        return Value(text, fold(text), "name")
    return Value(text, fold(text), "text")


def same(a: Value, b: Value) -> bool:
    """True when two values agree: equal, a date's coarser precision of the other, or a surname of a full name."""
    if a.normalized == b.normalized:
        return True
    if a.kind == b.kind == "date":
        short, long = sorted((a.normalized, b.normalized), key=len)
        return long.startswith(short + "-")
    if a.kind == b.kind == "name":
        short, long = sorted((a.normalized.split(), b.normalized.split()), key=len)
        return len(short) == 1 and len(long) > 1 and short[0] == long[-1]
    return False


def group(values: list[Value]) -> list[list[int]]:
    """Indices of values grouped by agreement. A finer value leads its group ("2015-11" before "2015", the full name
    before the surname), and a coarse value that agrees with two different finer groups joins neither."""
    order = sorted(range(len(values)), key=lambda i: -len(values[i].normalized))
    groups: list[list[int]] = []
    for i in order:
        matches = [g for g in groups if same(values[g[0]], values[i])]
        if len(matches) == 1:
            matches[0].append(i)
        else:
            groups.append([i])
    return groups


def parse_published(published: str | None) -> date | None:
    try:
        return date.fromisoformat(published) if published else None
    except ValueError:
        return None
