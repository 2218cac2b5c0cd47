"""What the engine returns, and how the answer sentence is chosen within the retrieved passages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import orjson

from index.terms import term_set


@dataclass
class Source:
    id: str
    title: str | None
    outlet: str | None
    published: str | None
    path: str | None
    url: str | None
    author: str | None = None


@dataclass
class Corroboration:
    """Another outlet's sentence stating the answer: start/end are its offsets into that article's text."""

    passage_id: str
    text: str
    source: Source
    start: int
    end: int


@dataclass
class Passage:
    """One retrieved passage: `text == article.text[start:end]`, highlight offsets are into `text`."""

    id: str
    rank: int
    score: float
    text: str
    start: int
    end: int
    highlight: dict
    source: Source
    also_in: list[Corroboration] = field(default_factory=list)


@dataclass
class AnswerSpan:
    """The answer: its state ("answered", or "uncertain": a possible answer to check in the passage), the short
    span (None unless it is sure enough to show), the sentence that holds it, the passage and source it comes from,
    and the calibrated probability that what is shown is right (the span when one is shown, else the sentence).
    start/end mark the span inside the passage text; only an answered question has a citation."""

    status: str
    text: str | None
    sentence: str
    passage_id: str
    confidence: float
    source: Source
    citation: str | None
    start: int | None = None
    end: int | None = None
    reports: list = field(default_factory=list)  # qa.reports.ReportGroup: what each source says, grouped by value
    sources_differ: bool = False
    latest: int | None = None  # index in reports of the group holding the newest dated report
    citations: list[str] = field(default_factory=list)  # the answer's and every other outlet's in its group


def citation(source: Source, paragraph: int, sentence: str) -> str:
    """A ready citation: outlet, date, title, author, paragraph, the quoted sentence and the link to the original;
    "n.d." when no date is stated. Paragraphs count from the story's first (below headline and standfirst): a
    sentence above the story names no paragraph."""
    quote = " ".join(sentence.split())
    by = f" by {source.author}" if source.author else ""
    where = f", paragraph {paragraph}" if paragraph >= 1 else ""
    link = f", {source.url}" if source.url else ""
    return (f"{source.outlet or 'Unknown outlet'}, {source.published or 'n.d.'}, '{source.title or source.id}'{by}"
            f"{where}: '{quote}'{link}")


class _Json:
    def to_json(self, indent: bool = False) -> bytes:
        """The JSON contract shared by HTTP and `--json`; orjson reads the dataclasses directly (and numpy
        numbers, should one slip into a field)."""
        return orjson.dumps(self, option=orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0))


@dataclass
class Filtered:
    """What the filters left: how many articles match, and how many undated ones a date filter left out."""

    articles: int
    undated_excluded: int


@dataclass
class Results(_Json):
    """Passages only: what `/search` and `qa search` return, without the reader. `filtered` is None when the
    question was asked of every article."""

    question: str
    passages: list[Passage]
    filtered: Filtered | None = None
    took_ms: float = 0.0


@dataclass
class Answer(_Json):
    """The passages and the reader's answer: `answerable` is False when no passage read holds one."""

    question: str
    answerable: bool
    answer: AnswerSpan | None
    passages: list[Passage]
    filtered: Filtered | None = None
    took_ms: float = 0.0


@dataclass
class SentenceChoice:
    """The best sentence of one passage: offsets into the passage, and its scores."""

    start: int
    end: int
    lexical: float
    dense: float
    score: float
    index: int | None = None


class TermOverlap:
    """Share of the question's IDF mass that a text contains; the question's side is worked out once."""

    def __init__(self, question_terms: list[str], idf: dict[str, float]):
        self.weights = {t: idf.get(t, 0.0) for t in set(question_terms)}
        self.total = sum(self.weights.values()) or 1.0

    def __call__(self, text: str) -> float:
        if not self.weights:
            return 0.0
        present = term_set(text)
        return sum(w for t, w in self.weights.items() if t in present) / self.total


def choose_sentence(
    text: str, spans: np.ndarray, cosines: np.ndarray, overlap: TermOverlap, lexical_weight: float = 0.5
) -> SentenceChoice:
    """The passage sentence that best answers: its cosine to the question mixed with question-term overlap."""
    best = SentenceChoice(0, len(text), 0.0, 0.0, -1.0)
    for i, ((start, end), cos) in enumerate(zip(spans.tolist(), cosines.tolist())):
        sentence = text[start:end]
        lexical = overlap(sentence)
        # A one- or two-word line (a label, a dateline fragment) is never the answer sentence.
        score = lexical_weight * lexical + (1 - lexical_weight) * cos - (len(sentence.split()) < 4)
        if score > best.score:
            best = SentenceChoice(start, end, lexical, cos, score, i)
    return best
