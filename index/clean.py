"""Boilerplate removal for scraped news, by general line rules rather than lists of known strings.

The cleaned text is what the index stores and serves: every offset refers to it.
Lines that carry metadata (site banners, "Source:" lines, bylines, credits, date lines) are handed to metadata
extraction with their position; attribution lines (source, date, credit) inside the story also stay in the text as
evidence, while banners, bylines, captions and site furniture are taken out.
"""

from __future__ import annotations

import html
import re
import statistics
from .metadata import DATE_LINE, DATE_TEXT, DATELINE, MONTH, Cleaned, is_headline

_FLAGS = re.IGNORECASE

# A line that opens the reader-comment / newsletter / related-links furniture under an article:
# everything from it to the end goes.
TAIL_START = re.compile(
    r"^(comments?(\s*\(\d+\))?|\d+\s+comments?|share your (thoughts|views)\b.*|leave a (comment|reply)\b.*"
    r"|join the (debate|conversation|discussion)\b.*|(please )?be respectful when (making|posting) a comment.*"
    r"|.*\bcommunity guidelines\b.*|create a commenting name.*|there are no ([\w ]+ )?comments yet.*"
    r"|(related|recommended|more) (articles|stories|reading|from [\w ]+)\s*:?|most (read|popular|viewed)"
    r"|(sign up|subscribe) (to|for) (our|the)\b.*newsletter.*)$",
    _FLAGS,
)
# Single lines of site furniture inside the article.
JUNK_LINE = re.compile(
    r"^((read|see) (more|also)\b.*|(also read|related|recommended|watch|listen)\s*:.*"
    r"|(advertisement|advert|sponsored( content)?|scroll to continue.*|click here\b.*|share (this|on)\b.*"
    r"|follow us on\b.*|sign up\b.*|subscribe\b.*|print|email|share|tweet|copy link))$",
    _FLAGS,
)
# Here and in BYLINE, whitespace runs are matched possessively (\s*+): giving space back cannot help a match, and
# a line of thousands of spaces would otherwise backtrack for minutes.
CAPTION_START = re.compile(r"^(photo|image|picture|file photo)\s*+(credit)?\s*+:", _FLAGS)
CAPTION_END = re.compile(r"\((photo|image|picture|pic|video)\b", _FLAGS)
BANNER = re.compile(r"^\s*\|\s*(?P<site>.+)$|^welcome to (?P<welcome>[^.!?]{2,60})$", _FLAGS)
SOURCE = re.compile(r"^source\s*:\s*(?P<value>.{2,120})$", _FLAGS)
CREDIT = re.compile(
    r"^\(?((?P<agency>[A-Z][\w.&'-]*( [A-Z][\w.&'-]*){0,3}) with additional (input|reporting)( by| from)?\b.*"
    r"|(additional )?(reporting|writing|editing|compiled) by\b.*)\)?$",
)
BYLINE = re.compile(r"^(by\s++)?[A-Z][\w.'’-]++(\s++[A-Z][\w.'’-]++){1,3}\s*+,?\s*+$")
# "By Tom Brannigan | Elspeth Herald | 6 March 2025": author, outlet and date in one line (metadata.py splits it).
BYLINE_FIELDS = re.compile(r"^by\s++(?P<value>[^|•·]{2,60}+(\s*+[|•·]\s*+[^|•·]{2,60}+){1,3})$", _FLAGS)
# "© The Daily Ledger", "Copyright 2025 The Daily Ledger. All rights reserved."
COPYRIGHT = re.compile(
    r"^(©|\(c\)|copyright\b)(\s*+(©|\(c\)))?\s*+(\d{4}(\s*+[-–]\s*+\d{4})?\s*+)?,?\s*+(?P<owner>[^.©]{2,60}?)"
    r"\.?(\s*+all rights reserved\.?)?$", _FLAGS)
# "The Daily Ledger, 9 March 2025" alone on a line: an outlet and its date (only a full date is kept as one). An all-capitals name is a dateline's
# place ("LONDON, 9 March 2025"), not an outlet, so the name must have a lower-case letter.
OUTLET_DATE = re.compile(rf"^(?P<outlet>[A-Z][\w&'’.-]*+(\s++[A-Za-z&][\w&'’.-]*+){{0,5}}),\s*+(?i:{DATE_TEXT}|({MONTH}\s++)?\d{{4}})\.?$")
# Metadata lines that also stay in the text once the story has begun: a fact-checker reads "Source: TASS,
# February 28, 2020" where it stood. Above the headline the same shapes are page chrome (today's date).
ATTRIBUTION = {"source", "date", "credit"}
PUBLISHED = re.compile(r"^(published|posted|first published)( on)?\s*:?\s*(?P<value>.{6,60})$", _FLAGS)


def normalise(raw: str) -> str:
    """Unify newlines and spaces, resolve entities, drop control characters."""
    text = html.unescape(raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\t", "    ")
    return "".join(ch for ch in text if ch == "\n" or ch >= " " or ch == "\f").replace("\f", "\n")


def unwrap(text: str) -> str:
    """Join hard-wrapped lines (wire copy wraps at ~70 columns) so sentences are not cut by newlines."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < 5:
        return text
    blanks = text.count("\n\n")
    median = statistics.median(len(line) for line in lines)
    if not (40 <= median <= 90 and blanks < len(lines) / 4):
        return text
    # Wire copy starts a paragraph with an indent; any other newline is a soft wrap.
    text = re.sub(r"\n[ ]{2,}(?=\S)", "\n\n", text)
    return re.sub(r"(?<!\n)\n(?!\n)", " ", text)


def _is_tail_start(line: str) -> bool:
    return len(line) < 200 and bool(TAIL_START.match(line))


def _drop_repeats(lines: list[str]) -> list[tuple[str, bool]]:
    """Each line with whether it goes: a line repeated in a row (a caption scraped as alt text and as caption)
    goes, and so do later copies of a paragraph."""
    out: list[tuple[str, bool]] = []
    seen: set[str] = set()
    previous = None
    for i, line in enumerate(lines):
        key = line.strip()
        if not key:
            out.append((line, False))
            continue
        following = next((lines[j].strip() for j in range(i + 1, len(lines)) if lines[j].strip()), None)
        if key == previous or key == following:
            previous = key
            out.append((line, True))
            continue
        previous = key
        dropped = key in seen and len(key.split()) >= 5
        seen.add(key)
        out.append((line, dropped))
    return out


def _is_caption(line: str) -> bool:
    """A credit line ("Photo: AFP") or a line ending in a "(Photo ...)" credit."""
    if CAPTION_START.match(line):
        return True
    # Only the last bracket can end the line: searching it alone keeps a line full of "(photo" linear.
    if not line.endswith(")"):
        return False
    return CAPTION_END.search(line, line.rfind(")", 0, len(line) - 1) + 1) is not None


def _classify(line: str) -> tuple[str, str] | None:
    """The kind of a furniture line and the value it carries, or None for article text."""
    stripped = line.strip()
    if m := BANNER.match(stripped):
        site = m.group("welcome") or m.group("site")
        welcome = re.match(r"welcome to (.+)", site, _FLAGS)
        return "banner", (welcome.group(1) if welcome else site).strip(" |")
    if m := SOURCE.match(stripped):
        return "source", m.group("value").strip()
    if m := PUBLISHED.match(stripped):
        return "date", m.group("value").strip()
    if DATE_LINE.match(stripped):
        return "date", stripped
    if (m := OUTLET_DATE.match(stripped)) and not m.group("outlet").isupper():
        return "source", stripped
    if m := COPYRIGHT.match(stripped):
        return "copyright", m.group("owner").strip()
    if m := BYLINE_FIELDS.match(stripped):
        return "byline", m.group("value").strip()
    if m := CREDIT.match(stripped):
        return "credit", (m.group("agency") or "").strip()
    if _is_caption(stripped):
        return "caption", stripped
    if JUNK_LINE.match(stripped):
        return "junk", stripped
    if BYLINE.match(stripped) and (stripped.lower().startswith("by ") or stripped.endswith(",")):
        return "byline", stripped.rstrip(" ,")
    return None


def clean(raw: str) -> Cleaned:
    """Strip boilerplate from one article and collect the metadata lines it removes."""
    lines = [line.rstrip() for line in unwrap(normalise(raw)).split("\n")]
    for i, line in enumerate(lines):
        # Comment furniture sits under the story; a marker in the opening third is more likely a headline word.
        if i >= len(lines) // 3 and _is_tail_start(line.strip()):
            lines = lines[:i]
            break
    kept: list[str] = []
    removed: list[tuple[str, str, bool]] = []
    body = False
    top = None  # kept paragraphs above the opening's last byline, photo caption or repeated line
    for line, dropped in _drop_repeats(lines):
        kind = None if dropped or not line.strip() else _classify(line)
        if dropped or (kind and kind[0] in ("byline", "caption")):
            # A byline or caption below the headline and standfirst marks where the story starts.
            paragraphs = sum(1 for k in kept if k)
            if paragraphs <= (3 if kind and kind[0] == "byline" else 2) and (top is None or paragraphs >= top):
                top = paragraphs
        if dropped:
            continue
        if kind is None:
            kept.append(line.strip())
            body = body or bool(line.strip())
        else:
            removed.append((kind[0], kind[1], not body))
            if kind[0] in ATTRIBUTION and body:
                kept.append(line.strip())  # evidence a reader checks: who says so, and when
                above = sum(1 for k in kept if k)
                if above <= 2 and (top or 0) < above:
                    top = above  # "The Daily Ledger, 9 March 2025" under the headline is not the story's first
    paragraphs = [line for line in kept if line]
    return Cleaned(text="\n\n".join(paragraphs), removed=removed, lead=_lead(paragraphs, top))


def _lead(paragraphs: list[str], top: int | None) -> int:
    """How many paragraphs sit above the story, so that "paragraph 1" is its first paragraph, as a reader counting
    the published article would count: a wire dateline opens the story; else a byline or photo caption under the
    headline (and standfirst) closes the top; else only a headline-like first line is above it."""
    for i, paragraph in enumerate(paragraphs[:4]):
        if DATELINE.match(paragraph):
            return i
    if top is not None:
        return min(top, len(paragraphs) - 1)
    return 1 if len(paragraphs) > 1 and is_headline(paragraphs[0]) else 0
