"""The one core object: every interface asks its questions through `Engine.ask`."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Callable

from index.build import build_index, index_exists
from index.encoder import Encoder, open_encoder
from index.store import IndexReader
from index.terms import terms

from .answer import Answer, AnswerSpan, Passage, Source, choose_sentence, confidence
from .errors import ArticleNotFound, BadFilter, BadQuestion
from .search import hybrid_search
from .settings import Settings

MAX_QUESTION = 1000
MAX_K = 50
ANSWERABLE = 0.5
_ARTICLE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


def check_question(question: object) -> str:
    """The question, stripped, or BadQuestion naming the rule."""
    if not isinstance(question, str) or not question.strip() or len(question.strip()) > MAX_QUESTION:
        raise BadQuestion(f"question must be 1-{MAX_QUESTION} characters of text")
    return question.strip()


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise BadQuestion(f"k must be an integer from 1 to {MAX_K}")
    return k


def parse_date(name: str, value: str | date | None) -> date | None:
    """An ISO date filter, or BadFilter that names the format."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise BadFilter(f"{name} must be a date in ISO format YYYY-MM-DD, got {value!r}") from None


class Engine:
    """A loaded index plus its query encoder; safe to share between threads."""

    def __init__(self, reader: IndexReader, encoder: Encoder, settings: Settings):
        self.reader = reader
        self.encoder = encoder
        self.settings = settings

    @classmethod
    def open(cls, settings: Settings, build_missing: bool = False, notify: Callable[[str], None] | None = None) -> "Engine":
        """Load the configured index; with build_missing, build the seeds index first when there is none."""
        if build_missing and not index_exists(settings.index):
            if notify:
                notify(f"no index at {settings.index}; building one from {settings.seeds} (first run only)")
            build_index([settings.seeds], settings.index, model=settings.model, warn=notify)
        reader = IndexReader(settings.index, expected_model=settings.model)
        encoder = open_encoder(reader.folder / "model", reader.manifest["model"]["name"], settings.threads)
        return cls(reader, encoder, settings)

    def ask(
        self,
        question: str,
        k: int = 5,
        outlet: str | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
    ) -> Answer:
        """The top-k passages for a question, each with its best sentence, and the overall answer."""
        started = time.perf_counter()
        question, k = check_question(question), check_k(k)
        since, until = parse_date("since", since), parse_date("until", until)
        if since and until and since > until:
            raise BadFilter("since must not be after until")
        outlet = outlet.strip() if isinstance(outlet, str) and outlet.strip() else None
        mask = self.reader.article_mask(outlet, since, until)
        query_vector = self.encoder.encode([question])[0]
        query_terms = terms(question)
        candidates = hybrid_search(self.reader, query_vector, query_terms, k, mask)[:k]
        records = [self.reader.passage(c.row) for c in candidates]
        idf = self.reader.idf(query_terms)
        choices = [
            choose_sentence(r["text"], *self.reader.passage_sentences(r["row"]), query_vector, query_terms, idf)
            for r in records
        ]
        texts = [r["text"] for r in records]
        passages = [
            Passage(
                id=r["id"],
                rank=rank,
                score=round(c.score, 6),
                text=r["text"],
                start=r["start"],
                end=r["end"],
                highlight={"start": ch.start, "end": ch.end},
                source=Source(**r["source"]),
            )
            for rank, (r, c, ch) in enumerate(zip(records, candidates, choices), 1)
        ]
        answer, answerable = None, False
        if passages:
            best = max(range(min(3, len(passages))), key=lambda i: choices[i].score - 0.05 * i)
            conf = confidence(choices[best].dense, choices[best].lexical)
            answerable = conf >= ANSWERABLE
            if answerable:
                ch = choices[best]
                answer = AnswerSpan(
                    text=None, sentence=texts[best][ch.start : ch.end], passage_id=passages[best].id,
                    confidence=round(conf, 4),
                )
        took = (time.perf_counter() - started) * 1000
        return Answer(question=question, answerable=answerable, answer=answer, passages=passages, took_ms=round(took, 2))

    def articles(self) -> list[dict]:
        """Id, title, outlet, published and path of every article."""
        return list(self.reader.articles)

    def article(self, article_id: str) -> dict:
        """One article's metadata and the exact text passage offsets refer to."""
        if not isinstance(article_id, str) or not _ARTICLE_ID.match(article_id):
            raise BadQuestion("article id may only contain letters, digits, '_', '-' and '.'")
        idx = self.reader.article_index.get(article_id)
        if idx is None:
            raise ArticleNotFound(f"no article with id {article_id!r}; GET /articles lists them")
        return {**self.reader.articles[idx], "text": self.reader.text(idx)}
