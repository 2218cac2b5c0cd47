"""Short answer spans without a reader model: question type, typed candidates, and a closeness score.

The question's wh-word picks the answer type; candidates of that type are found in the answer sentence by
pattern (dates, numbers, quantities, durations, capitalised names); the winner is the candidate nearest to the
question's own words that is not made of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.terms import terms

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
_NUMWORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|millions?)"
_QUANT = r"(?:(?:more than|less than|fewer than|at least|at most|around|about|nearly|almost|over|some|up to)\s+)?"
PATTERNS = {
    "date": re.compile(
        rf"\b(?:{_MONTH}\s+(?:of\s+)?\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?|{_MONTH}(?:\s+of)?\s+\d{{4}}"
        rf"|(?:early|mid|late)[- ]{_MONTH}|{_MONTH}|(?:19|20)\d\d|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
        rf"|(?:last|next|this) (?:week|month|year))\b",
        re.I,
    ),
    "number": re.compile(rf"\b{_QUANT}(?:\d[\d,.]*(?:-\w+)?|{_NUMWORD}(?:-\w+)?)\b(?:\s+(?:million|billion|percent|%))?", re.I),
    "duration": re.compile(rf"\b{_QUANT}(?:\d[\d,.]*|{_NUMWORD}|a few|several)[- ](?:minutes?|hours?|days?|weeks?|months?|years?)\b", re.I),
    "name": re.compile(
        r"\b(?:[A-Z][\w’'.-]*[\w]|[A-Z]-?\d+)(?:\s+(?:(?:of|the|for|de|al|bin|and)\s+)?(?:[A-Z][\w’'.-]*[\w]|[A-Z]-\d+))*"
    ),
}
QUESTION_TYPES = [
    (re.compile(r"^\s*(when|(in |from )?(what|which) (year|date|day|month|time)s?|on what date)\b", re.I), "date"),
    (re.compile(r"^\s*how (long|much time)\b", re.I), "duration"),
    (re.compile(r"^\s*(how (many|much|old|big|large|far|wide|high)|what (number|percentage|amount))\b", re.I), "number"),
    (re.compile(r"^\s*(who|whom|whose|where|which|what|in which|in what|from which|at which)\b", re.I), "name"),
]
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "it", "he", "she", "they", "but", "and", "in", "on"}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    score: float


def question_type(question: str) -> str | None:
    """The expected answer type from the wh-word, or None when the question does not say."""
    for pattern, kind in QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


def _candidates(sentence: str, kind: str) -> list[tuple[int, int]]:
    found = [(m.start(), m.end()) for m in PATTERNS[kind].finditer(sentence)]
    if kind == "name":
        # A capitalised first word is usually just the start of the sentence, not a name; weekdays and
        # months answer "when", not "who" or "which".
        found = [
            (a, b) for a, b in found
            if sentence[a:b].split()[0].lower() not in _DETERMINERS
            and not (a == 0 and " " not in sentence[a:b])
            and not PATTERNS["date"].fullmatch(sentence[a:b])
        ]
    return found


def best_span(question: str, sentence: str) -> Span | None:
    """The best typed candidate in the sentence, or None when nothing of the right type is there."""
    kind = question_type(question)
    if kind is None:
        return None
    q_terms = set(terms(question))
    q_words = {w.lower() for w in re.findall(r"\w+", question)}
    anchors = [m.start() for m in re.finditer(r"\w+", sentence) if set(terms(m.group(0))) & q_terms]
    best = None
    for start, end in _candidates(sentence, kind):
        text = sentence[start:end].strip(" ,.;:")
        words = re.findall(r"\w+", text.lower())
        stems = terms(text)
        if not words or sum(w in q_words for w in words) / len(words) > 0.5 or (stems and set(stems) <= q_terms):
            continue
        distance = min((abs(a - start) for a in anchors), default=len(sentence))
        score = 1.0 / (1.0 + distance / 40) + 0.1 * (len(words) <= 6)
        if best is None or score > best.score:
            best = Span(start, start + len(text), text, score)
    return best
