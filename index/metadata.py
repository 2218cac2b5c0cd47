"""Title, outlet and publication date, read from what the article itself says.

A date is only reported when the text gives day, month and year; a date line above the headline is the
scraper's page chrome ("today is ..."), not the publication date, so it is ignored.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from dataclasses import dataclass, field
from functools import lru_cache

# Whitespace runs are matched possessively (\s*+, \s++): what follows one never starts with a space, so giving
# space back cannot help a match, and a line of thousands of spaces would otherwise backtrack for hours.
MONTH = _MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_WEEKDAY = r"((mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s++)?"
DATE_TEXT = (
    rf"({_MONTH}\s++\d{{1,2}}(st|nd|rd|th)?,?\s++\d{{4}}|\d{{1,2}}(st|nd|rd|th)?\s++{_MONTH},?\s++\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}|\d{1,2}\.\d{1,2}\.\d{4})"
)
# A whole line that is just a date, optionally with a weekday and a time.
DATE_LINE = re.compile(
    rf"^{_WEEKDAY}{DATE_TEXT}(\s*+[,|-]?\s*+\d{{1,2}}[:.]\d{{2}}(\s*+[ap]\.?m\.?)?(\s*+[A-Z]{{2,4}})?)?$", re.I
)
DATE_IN = re.compile(DATE_TEXT, re.I)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}(?!\d)|\d{8}(?!\d)")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

# "MOSCOW, February 4. /TASS/:", "LONDON (Reuters) -", "ANKARA, Turkey (AP) —"
DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z .'-]{1,30}(,\s*+[A-Z][\w .'-]{1,30})?)\s*+,?\s*+"
    r"(?P<date>[A-Z][a-z]{2,8}\.?\s++\d{1,2}(,\s*+\d{4})?\.?)?\s*+"
    r"(/(?P<slash>[A-Za-z][\w&-]{1,20})/|\((?P<paren>[A-Za-z][\w&' -]{1,20})\))\s*+[:\u2014\u2013-]"
)


# Declared here, not in clean.py, which makes it: metadata reads what cleaning removed, so the import runs one way.
@dataclass
class Cleaned:
    """Cleaned text plus the metadata-bearing lines removed from it, each as (kind, value, before_body)."""

    text: str
    removed: list[tuple[str, str, bool]] = field(default_factory=list)
    lead: int = 0  # paragraphs of `text` above the story (headline, standfirst): paragraph numbers start after them


SOURCE_VALUE = re.compile(r"^(?P<outlet>[^,;|]{2,60}?)\s*(,\s*(?P<date>.*))?$")
_HEADLINE_END = re.compile(r"[.:;,]$")


@lru_cache(maxsize=1)
def _parser():
    import dateparser

    return dateparser.DateDataParser(
        languages=["en"], settings={"STRICT_PARSING": True, "REQUIRE_PARTS": ["day", "month", "year"]}
    )


def normalise_date(value: str | None) -> str | None:
    """An ISO date (YYYY-MM-DD) when value states day, month and year unambiguously, else None."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    # Only calendar dates: date.fromisoformat also takes week dates ("2010-W01"), which name no day.
    if iso := _ISO_DAY.match(value):
        try:
            return date.fromisoformat(iso.group(0)).isoformat()
        except ValueError:
            pass
    match = DATE_IN.search(value)
    if not match:
        return None
    parsed = _parser().get_date_data(match.group(0)).date_obj
    return parsed.date().isoformat() if isinstance(parsed, datetime) else None


def states_date(source: str, iso: str) -> bool:
    """Whether source writes out the day, month and year of the ISO date iso, in text, markup or a URL."""
    try:
        day = date.fromisoformat(iso[:10])
    except ValueError:
        return False
    # Page-date finders (htmldate, under trafilatura) fill in what a page leaves out: "2010" comes back as
    # 2010-01-01, "2010-03" as the 1st of March or as March with today's day. A date the page states in full shows
    # up in one of these forms; anything else is such a guess.
    y, m, d = day.year, rf"0?{day.month}", rf"0?{day.day}"
    month = rf"{_MONTH_NAMES[day.month - 1]}[a-z]*\.?"
    forms = (
        rf"{y}(?P<a>[-/._]){m}(?P=a){d}",  # 2010-03-05, /2010/03/05/
        rf"{y}{day.month:02d}{day.day:02d}",  # 20100305
        rf"{d}(?P<b>[-/.]){m}(?P=b){y}|{m}(?P<c>[-/.]){d}(?P=c){y}",  # 05.03.2010, 3/5/2010
        rf"{month}\s++{d}(st|nd|rd|th)?,?\s++{y}",  # March 5, 2010
        rf"{d}(st|nd|rd|th)?\.?\s++(of\s++)?{month},?\s++{y}",  # 5 March 2010, 5th of March, 2010
    )
    return re.search(rf"(?<!\d)({'|'.join(forms)})(?!\d)", html.unescape(source), re.I) is not None


def is_headline(line: str) -> bool:
    """Whether a line reads as a headline: 2-25 words, capitalised, without a sentence's closing punctuation."""
    line = line.strip()
    return 2 <= len(line.split()) <= 25 and not _HEADLINE_END.search(line) and line[0].isupper()


def _headline(text: str) -> str | None:
    first = text.split("\n", 1)[0].strip()
    return first if is_headline(first) else None


def _first_sentence_title(text: str, words: int = 12) -> str | None:
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0].split()
    if not first:
        return None
    return " ".join(first[:words]) + (" …" if len(first) > words else "")


def _dateline(text: str) -> re.Match | None:
    for paragraph in text.split("\n\n")[:4]:
        if m := DATELINE.match(paragraph.strip()):
            return m
    return None


def _byline(value: str) -> tuple[str | None, str | None, str | None]:
    """Author, outlet and date of a byline: "Jane Smith", "Elad Benari", or "Tom Brannigan | Elspeth Herald |
    6 March 2025" (the parts after the name are a date or the outlet, in either order)."""
    parts = [p.strip(" ,") for p in re.split(r"\s*+[|•·]\s*+", value)]
    author = re.sub(r"^by\s++", "", parts[0], flags=re.I) or None
    outlet = published = None
    for part in parts[1:]:
        if (day := normalise_date(part)) and published is None:
            published = day
        elif outlet is None and part and not DATE_IN.search(part):
            outlet = part
    return author, outlet, published


def extract_metadata(cleaned: Cleaned) -> dict[str, str | None]:
    """Title, outlet, author and published for a cleaned article; None where the text does not say."""
    outlet = published = author = None
    by_kind: dict[str, list[tuple[str, bool]]] = {}
    for kind, value, before_body in cleaned.removed:
        by_kind.setdefault(kind, []).append((value, before_body))

    for value, _ in by_kind.get("byline", []):
        name, said_outlet, said_date = _byline(value)
        author, outlet, published = author or name, outlet or said_outlet, published or said_date
    for value, _ in by_kind.get("source", []):
        if m := SOURCE_VALUE.match(value):
            outlet = outlet or m.group("outlet").strip()
            published = published or normalise_date(m.group("date"))
    dateline = _dateline(cleaned.text)
    if outlet is None:
        banners = [value for value, _ in by_kind.get("banner", []) if value]
        agency = dateline and (dateline.group("slash") or dateline.group("paren"))
        credits = [value for value, _ in by_kind.get("credit", []) if value]
        owners = [value for value, _ in by_kind.get("copyright", []) if value]
        outlet = (banners or ([agency] if agency else []) or owners or credits or [None])[0]
    if published is None and dateline is not None:
        published = normalise_date(dateline.group("date"))
    if published is None:
        body_dates = [value for value, before_body in by_kind.get("date", []) if not before_body]
        published = next(filter(None, map(normalise_date, body_dates)), None)
    title = _headline(cleaned.text) or _first_sentence_title(cleaned.text)
    return {"title": title, "outlet": outlet, "published": published, "url": None, "author": author}
