"""The rules every question, filter and article id must meet, shared by the Engine and the write path."""

from __future__ import annotations

import re
from datetime import date

from .errors import BadFilter, BadQuestion

MAX_QUESTION = 1000
MAX_K = 50
# "." and ".." are refused: clients and proxies resolve them as path segments, so /articles/.. is never asked for.
# Spelt without look-ahead: the same pattern checks path parameters in pydantic, whose regex engine has none.
_CHAR, _LEAD = r"[A-Za-z0-9_.\-]", r"[A-Za-z0-9_\-]"
ARTICLE_ID = re.compile(rf"^(?:{_LEAD}{_CHAR}{{0,199}}|\.{_LEAD}{_CHAR}{{0,198}}|\.\.{_CHAR}{{1,198}})$")
ARTICLE_ID_RULE = "article id must be 1-200 letters, digits, '_', '-' or '.', and not '.' or '..'"


def check_question(question: object) -> str:
    """The question, stripped, or BadQuestion naming the rule."""
    if not isinstance(question, str) or not question.strip() or len(question.strip()) > MAX_QUESTION:
        raise BadQuestion(f"question must be 1-{MAX_QUESTION} characters of text")
    if not encodable(question):
        raise BadQuestion("question must be valid Unicode text (it holds a lone surrogate)")
    return question.strip()


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise BadQuestion(f"k must be an integer from 1 to {MAX_K}")
    return k


SORTS = ("relevance", "date")


def check_sort(sort: object) -> str:
    if sort not in SORTS:
        raise BadFilter(f"sort must be one of {', '.join(SORTS)}")
    return sort


def parse_date(name: str, value: str | date | None) -> date | None:
    """An ISO date filter, or BadFilter that names the format."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise BadFilter(f"{name} must be a date in ISO format YYYY-MM-DD, got {value!r}") from None
