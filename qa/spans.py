"""Short answer spans without a reader model: question shape, typed candidates, and a closeness score.

The question's wh-word and the noun after it give the answer type, the preposition before it ("from which date")
and the head noun ("which town"). Candidates of that type come from the answer sentence: dates, numbers and
durations by pattern; names as runs of capitalised words; other things as quotations and runs of lower-case
content words. The winner sits nearest the question's own words without being made of them, after the same
preposition or next to the head noun when the question has one. Measured in BENCHMARKS.md ("Answer spans").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from index.terms import terms

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
_NUMWORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|millions?)"
_QUANT = r"(?:(?:more than|less than|fewer than|at least|at most|around|about|nearly|almost|over|some|up to)\s+)?"
_DATE = (
    rf"(?:{_MONTH}\s+(?:of\s+)?\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?|{_MONTH}(?:\s+of)?\s+\d{{4}}"
    rf"|(?:early|mid|late)[- ]{_MONTH}|{_MONTH}|(?:1[0-9]|20)\d\d(?:s)?|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    rf"|\d{{1,2}}(?:st|nd|rd|th)[- ]century|~?\d[\d,.]*\s+(?:years|yr)\s+ago|(?:last|next|this) (?:week|month|year))"
)
PATTERNS = {
    # "2018 and 2019", "between 1990 and 1995": one answer, so conjoined dates are one candidate.
    "date": re.compile(rf"\b{_DATE}(?:(?:\s+(?:and|or|to)\s+|\s*[-–]\s*){_DATE})?\b", re.I),
    "number": re.compile(
        rf"(?:\b{_QUANT}[$€£]?|[$€£])(?:\d[\d,.:]*(?:\s*[–-]\s*\d[\d,.]*|-\w+)?|\b{_NUMWORD}(?:-\w+)?)\b"
        rf"(?:\s*%|\s+(?:million|billion|trillion|percent|per cent))?",
        re.I,
    ),
    "duration": re.compile(rf"\b{_QUANT}(?:\d[\d,.]*|{_NUMWORD}|a few|several)[- ](?:minutes?|hours?|days?|weeks?|months?|years?)\b", re.I),
}
_WH = re.compile(r"\b(who|whom|whose|when|where|which|what|how)\b", re.I)
_KIND_OF = re.compile(r"^(?:kind|type|sort|form|name|group)s?\s+of\s+(?:the\s+|a\s+)?", re.I)
_HEAD_KINDS = {
    "date": {"year", "years", "date", "dates", "day", "month", "time", "decade", "century"},
    "number": {"number", "percentage", "percent", "amount", "proportion", "share", "population", "size"},
    "place": {"city", "town", "country", "region", "province", "place", "state", "village", "capital", "location", "territory", "county"},
}
_HOW = {"long": "duration", "many": "number", "much": "number", "old": "number", "big": "number", "large": "number",
        "far": "number", "high": "number", "tall": "number", "often": "number", "wide": "number", "deep": "number",
        "heavy": "number", "fast": "number"}
# Closed-class words: never a candidate on their own and they end a run of content words.
FUNCTION_WORDS = frozenset(
    "a an the this that these those his her its their our your my some any each every all both either neither no "
    "i you he she it we they me him us them who whom whose which what when where why how whether "
    "is are was were be been being am do does did done has have had having will would shall should can could may "
    "might must of in on at by for from to with without into onto upon over under about above below between among "
    "through during before after since until against toward towards across along around outside inside within "
    "beyond near than as and or but nor so yet if then because while although though also not only just very "
    "more most less such there here said says say told according per via amid despite".split()
)
_PREPOSITIONS = frozenset(
    "in on at by for from to with into onto over under about between among through during before after since "
    "until against across along around outside inside within near beyond".split()
)
HEAD_TIE = 2.0
_PLACE_NOUNS = frozenset(terms(" ".join(_HEAD_KINDS["place"])))
_CONNECTORS = {"of", "for", "de", "al", "bin", "and", "&"}
# How a name is tied to the question's head noun: "Minister Hulusi Akar", "the town of Afrin" (head first) and
# "Idlib is the only region" (head after a copula), unlike "Turkish Defence Minister" or "region in Syria".
_AFTER_HEAD = re.compile(r"^(?:\s*,)?\s*(?:(?:of|called|named|known as|is|was)\s+)?(?:(?:the|a|an)\s+)?$")
_BEFORE_HEAD = re.compile(r"^\s*,?\s*(?:is|was|are|were|remains|became)\s+(?:(?:the|a|an)\s+)?(?:\w+\s+)?$")
_TOKEN = re.compile(r"\w+(?:[’'.-]\w+)*")
MAX_QUOTE_WORDS = 8
_QUOTE = re.compile(r"[“\"]([^”\"]{2,160})[”\"]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Shape:
    """What the question asks for: answer kind, the preposition before the wh-word, the head noun's terms."""

    kind: str | None
    preposition: str | None
    head: frozenset[str]
    words: frozenset[str]
    stems: frozenset[str]


@lru_cache(maxsize=4096)
def shape(question: str) -> Shape:
    words = frozenset(w.lower() for w in _TOKEN.findall(question))
    stems = frozenset(terms(question))
    match = _WH.search(question)
    if not match:
        return Shape(None, None, frozenset(), words, stems)
    wh = match.group(1).lower()
    before = question[: match.start()].split()
    preposition = before[-1].lower() if before and before[-1].lower() in _PREPOSITIONS else None
    rest = _KIND_OF.sub("", question[match.end() :].strip())
    following = [w.lower() for w in _TOKEN.findall(rest)]
    kind = _kind(wh, following[0] if following else "", _head(following))
    if wh in {"who", "what", "which"} and following[:1] in (["is"], ["was"], ["are"], ["were"]):
        following = following[1:]  # "who is Turkey's defence minister": the description names the head
    head_words = _head(following)
    return Shape(kind, preposition, frozenset(terms(" ".join(head_words))), words, stems)


def _head(words: list[str]) -> list[str]:
    """The content words up to the first function word: "which breakaway region did ..." -> breakaway region."""
    while words and words[0] in {"the", "a", "an"}:
        words = words[1:]
    head = []
    for word in words:
        if word in FUNCTION_WORDS:
            break
        head.append(word)
    return head


def _kind(wh: str, after: str, head_words: list[str]) -> str | None:
    if wh == "when":
        return "date"
    if wh == "where":
        return "place"
    if wh in {"who", "whom", "whose"}:
        return "person"
    if wh == "how":
        return _HOW.get(after, "thing" if after in FUNCTION_WORDS else None)
    for kind, nouns in _HEAD_KINDS.items():
        if nouns.intersection(head_words):
            return kind
    return "thing"


def question_type(question: str) -> str | None:
    """The expected answer type, or None when the question does not say (why, yes/no, commands)."""
    return shape(question).kind


class _Token(NamedTuple):  # a tuple: built for every word of every sentence looked at
    text: str
    start: int
    end: int
    capital: bool
    function: bool


def _tokens(sentence: str, context: str) -> list[_Token]:
    out = []
    for i, m in enumerate(_TOKEN.finditer(sentence)):
        word = m.group(0)
        capital = word[0].isupper() or (word[0].isdigit() and any(c.isalpha() for c in word))
        if capital and i == 0 and not word.isupper():
            # Every sentence starts with a capital; the first word is a name only if the next word is one
            # too ("Robert Nozick argued") or the passage also capitalises it mid-sentence.
            following = sentence[m.end() : m.end() + 2]
            capital = (following[:1] == " " and following[1:].isupper()) or bool(
                re.search(rf"[a-z,] {re.escape(word)}\b", context)
            )
        function = word.lower() in FUNCTION_WORDS and not (capital and word.isupper() and len(word) > 1)
        out.append(_Token(word, *m.span(), capital, function))
    return out


def _runs(sentence: str, tokens: list[_Token]) -> list[tuple[int, int]]:
    """Index ranges of content-word runs of one case, joined by connectors, unbroken by punctuation."""
    runs, begin = [], None
    for i, token in enumerate(tokens):
        joined = begin is not None and sentence[tokens[i - 1].end : token.start].strip() == ""
        connector = (
            token.text.lower() in _CONNECTORS
            and joined
            and i + 1 < len(tokens)
            and tokens[i + 1].capital == tokens[begin].capital
            and not tokens[i + 1].function
        )
        fits = not token.function and joined and token.capital == tokens[begin].capital
        if begin is not None and (fits or connector):
            continue
        if begin is not None:
            runs.append((begin, i))
        begin = None if token.function else i
    if begin is not None:
        runs.append((begin, len(tokens)))
    return runs


class _Asked:
    """Which sentence words the question already uses: same word, same stem, or one a prefix of the other.

    One per question shape (see _asked), shared by every sentence and request that asks it, so what it learns about
    a word carries over; it only grows by the words of the sentences looked at.
    """

    def __init__(self, s: Shape):
        self.s = s
        long_words = [w for w in s.words if len(w) >= 4]
        # "One a prefix of the other", for words of 4+ letters, as one startswith call and one set lookup.
        self.long_words = tuple(long_words)
        self.prefixes = {w[:n] for w in long_words for n in range(4, len(w) + 1)}
        self.seen: dict[str, bool] = {}

    def __call__(self, word: str) -> bool:
        low = word.lower()
        if low not in self.seen:
            self.seen[low] = (
                low in self.s.words
                or _stem(low) in self.s.stems
                or (len(low) >= 4 and (low in self.prefixes or low.startswith(self.long_words)))
            )
        return self.seen[low]


@lru_cache(maxsize=65536)
def _stem(word: str) -> str | None:
    stems = terms(word)  # "Erdogan's" holds two words; the first stands for the token
    return stems[0] if stems else None


@lru_cache(maxsize=64)
def _asked(s: Shape) -> _Asked:
    return _Asked(s)


def _candidates(sentence: str, tokens: list[_Token], s: Shape, asked: _Asked) -> list[tuple[int, int, float]]:
    """(first token, end token, bonus) for every candidate of the question's kind."""
    if s.kind in PATTERNS:
        out = [_token_range(tokens, m.start(), m.end()) + (0.0,) for m in PATTERNS[s.kind].finditer(sentence)]
    else:
        out = []
        for a, b in _pieces(_runs(sentence, tokens), tokens, asked):
            named = sentence[tokens[a].start : tokens[b - 1].end]
            if (tokens[a].capital or s.kind == "thing") and not PATTERNS["date"].fullmatch(named):
                out.append((a, b, 0.0))
    if s.kind == "thing":
        # A quotation is how news reports what someone called or promised something.
        out += [
            _token_range(tokens, m.start(1), m.end(1)) + (0.2,)
            for m in _QUOTE.finditer(sentence)
            if len(m.group(1).split()) <= MAX_QUOTE_WORDS
        ]
    return [c for c in out if c[0] < c[1]]


def _pieces(runs: list[tuple[int, int]], tokens: list[_Token], asked: "_Asked") -> list[tuple[int, int]]:
    """Runs cut at the question's own words ("Defence Minister Hulusi Akar" -> "Hulusi Akar"), edges trimmed."""
    out = []
    for a, b in runs:
        cuts = [a - 1] + [i for i in range(a, b) if asked(tokens[i].text)] + [b]
        for left, right in zip(cuts, cuts[1:]):
            left += 1
            while left < right and tokens[left].text.lower() in _CONNECTORS:
                left += 1
            while right > left and tokens[right - 1].text.lower() in _CONNECTORS:
                right -= 1
            if left < right:
                out.append((left, right))
    return out


def _thing_fit(words: list[_Token], has_head: bool) -> float:
    """Without a part-of-speech tagger: named things suit "what magazine"; counts and verb-like words rarely
    answer "what" ("-ed" and "-ly" endings mark most past tenses, participles and adverbs)."""
    fit = 0.3 if has_head and words[0].capital and not words[0].text[0].isdigit() else 0.0
    if words[0].text[0].isdigit():
        fit -= 0.5
    last = words[-1].text
    if not words[-1].capital and len(last) > 5 and last.endswith(("ed", "ly")):
        fit -= 0.5
    return fit


def _tied_to_head(sentence: str, tokens: list[_Token], a: int, b: int, head: frozenset[str]) -> bool:
    for i in range(max(0, a - 4), min(len(tokens), b + 4)):
        if a <= i < b or _stem(tokens[i].text.lower()) not in head:
            continue
        if i < a and _AFTER_HEAD.match(sentence[tokens[i].end : tokens[a].start]):
            return True
        if i >= b and _BEFORE_HEAD.match(sentence[tokens[b - 1].end : tokens[i].start]):
            return True
    return False


def _token_range(tokens: list[_Token], start: int, end: int) -> tuple[int, int]:
    inside = [i for i, t in enumerate(tokens) if t.start >= start and t.end <= end]
    return (inside[0], inside[-1] + 1) if inside else (0, 0)


def best_span(question: str, sentence: str, context: str = "") -> Span | None:
    """The best candidate of the question's kind in the sentence, or None when nothing of that kind is there."""
    s = shape(question)
    if s.kind is None:
        return None
    asked = _asked(s)
    tokens = _tokens(sentence, context or sentence)
    anchors = [i for i, t in enumerate(tokens) if not t.function and asked(t.text)]
    best = None
    for a, b, bonus in _candidates(sentence, tokens, s, asked):
        words = tokens[a:b]
        if sum(asked(t.text) for t in words) / len(words) > 0.5:
            continue  # never answer with the question's own words
        # Every question word nearby counts, so "the Old Testament in 1534" beats "the New Testament in 1522".
        nearest: dict[str, int] = {}
        for i in anchors:
            word, d = tokens[i].text.lower(), (a - i if i < a else max(0, i - b + 1))
            nearest[word] = min(d, nearest.get(word, d))
        score = sum(1.0 / (1.0 + d / 2) for d in nearest.values()) + bonus - 0.05 * max(0, len(words) - 4)
        if s.kind == "thing":
            score += _thing_fit(words, bool(s.head))
        if s.preposition and s.preposition in (t.text.lower() for t in tokens[max(0, a - 2) : a]):
            score += 0.4
        if _tied_to_head(sentence, tokens, a, b, s.head or (_PLACE_NOUNS if s.kind == "place" else frozenset())):
            score += HEAD_TIE
        if best is None or score > best.score:
            start, end = words[0].start, words[-1].end
            best = Span(start, end, sentence[start:end], score)
    return best
