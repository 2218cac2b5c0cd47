"""The one core object: every interface asks its questions through `Engine.ask`."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Callable

import numpy as np

from index.encoder import INT8_FILE, QUERY_FILE, Encoder, open_encoder
from index.store import IndexReader, index_exists, segment_max, single_thread_faiss
from index.terms import terms

from .answer import (
    Answer,
    AnswerSpan,
    Corroboration,
    Passage,
    SentenceChoice,
    Source,
    TermOverlap,
    choose_sentence,
    confidence,
    evidence,
)
from .errors import ArticleNotFound, BadFilter, BadQuestion
from .search import Candidate, hybrid_search
from .settings import Settings
from .spans import Span, best_span, question_type

MAX_QUESTION = 1000
MAX_K = 50
ANSWERABLE = 0.5
POOL_EXTRA = 30
# Sentence cosines measured on the seeds: the two reports of the 2015 jet downing score 0.64, two different
# Putin-Erdogan meetings 0.63, so a paraphrase also has to repeat the answer span; copies score >= 0.89.
CORROBORATES = 0.6
NEAR_COPY = 0.88
# ONNX Runtime threads spin this long for more work, then sleep. With 2 threads and 2 ms of other work per question,
# 200 us gave a 1.5 ms encode at 3.2 ms of CPU; unbounded spinning 1.7-2.3 ms at 5.4-6.7 ms CPU, no spinning 2.2 ms.
QUERY_SPIN_US = 200
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


@dataclass
class _Pick:
    candidate: Candidate
    record: dict
    choice: SentenceChoice
    vector: np.ndarray
    also_in: list
    question: str

    @cached_property
    def span(self) -> Span | None:
        """Found on first use: only the answer's pick and a possible corroboration ever look (~0.15 ms each)."""
        text = self.record["text"]
        return best_span(self.question, text[self.choice.start : self.choice.end], text)

    def key_in(self, sentence: str) -> bool:
        """True when the sentence repeats a number or name of this pick's answer span.

        The span's words are words of the answer sentence, so a sentence sharing none of the answer sentence's
        keys cannot share the span's: that check is cheap and spares finding the span."""
        text = self.record["text"]
        if not _shares_key(text[self.choice.start : self.choice.end], sentence):
            return False
        return self.span is not None and _shares_key(self.span.text, sentence)


def _shares_key(span: str, sentence: str) -> bool:
    """True when a sentence repeats the answer's numbers or names, so two outlets state the same fact."""
    keys = [w for w in re.findall(r"\w+", span) if w[0].isdigit() or w[0].isupper()]
    return any(re.search(rf"\b{re.escape(w)}\b", sentence) for w in keys)


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
            from index.build import build_index  # only the first run builds; asks skip the build-side imports

            if notify:
                notify(f"no index at {settings.index}; building one from {settings.seeds} (first run only)")
            build_index([settings.seeds], settings.index, model=settings.model, warn=notify)
        reader = IndexReader(
            settings.index, expected_model=settings.model, nprobe=settings.nprobe, ef_search=settings.ef_search
        )
        single_thread_faiss()
        model = reader.manifest["model"]["name"]
        file = INT8_FILE if settings.query_int8 else QUERY_FILE
        encoder = open_encoder(reader.folder / "model", model, settings.threads, file, spin_us=QUERY_SPIN_US)
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
        picked = self._picks(question, k, self.reader.article_mask(outlet, since, until))
        passages = [
            Passage(
                id=pick.record["id"],
                rank=rank,
                score=round(pick.candidate.score, 6),
                text=pick.record["text"],
                start=pick.record["start"],
                end=pick.record["end"],
                highlight={"start": pick.choice.start, "end": pick.choice.end},
                source=Source(**pick.record["source"]),
                also_in=pick.also_in,
            )
            for rank, pick in enumerate(picked, 1)
        ]
        answer, answerable = None, False
        if picked:
            pick, features = self._evidence(question, picked)
            conf = confidence(features)
            answerable = conf >= ANSWERABLE
            if answerable:
                offset = pick.choice.start
                answer = AnswerSpan(
                    text=pick.span.text if pick.span else None,
                    sentence=pick.record["text"][pick.choice.start : pick.choice.end],
                    passage_id=pick.record["id"],
                    confidence=round(conf, 4),
                    start=offset + pick.span.start if pick.span else None,
                    end=offset + pick.span.end if pick.span else None,
                )
        took = (time.perf_counter() - started) * 1000
        return Answer(question=question, answerable=answerable, answer=answer, passages=passages, took_ms=round(took, 2))

    def _picks(self, question: str, k: int, mask: np.ndarray | None) -> list["_Pick"]:
        query_vector = self.encoder.encode([question])[0]
        query_terms = terms(question)
        candidates = hybrid_search(self.reader, query_vector, query_terms, k, mask)
        return self._diverse(candidates, k, query_vector, query_terms, question)

    def evidence(self, question: str) -> dict[str, float]:
        """The answerability features of an unfiltered top-5 ask, for calibration (benchmarks/calibrate.py)."""
        picked = self._picks(check_question(question), 5, None)
        return self._evidence(question, picked)[1] if picked else {}

    @staticmethod
    def _evidence(question: str, picked: list["_Pick"]) -> tuple["_Pick", dict[str, float]]:
        """The pick whose sentence answers best (a small bias to rank), and the features answerability is judged on."""
        best = max(range(min(3, len(picked))), key=lambda i: picked[i].choice.score - 0.05 * i)
        pick = picked[best]
        typed = question_type(question) is not None
        return pick, evidence(pick.choice, picked[0].candidate.score, typed, pick.span is not None)

    def _diverse(self, candidates: list[Candidate], k: int, query_vector, query_terms: list[str], question: str) -> list["_Pick"]:
        """The top k passages with near-copies dropped and other outlets' statements of the same fact grouped."""
        overlap = TermOverlap(query_terms, self.reader.idf(query_terms))
        picked: list[_Pick] = []
        pick_vectors = np.empty((k, len(query_vector)), dtype=np.float32)  # row i: picked[i]'s answer sentence
        pool = candidates[: k + POOL_EXTRA]
        for i, candidate in enumerate(pool):
            if len(picked) >= k:
                self._corroborate(picked, pick_vectors, pool[i:])
                break
            record = self.reader.passage(candidate.row)
            spans, vectors, cosines = candidate.sentences()
            choice = choose_sentence(record["text"], spans, cosines, overlap)
            vector = vectors[choice.index] if choice.index is not None else query_vector
            if self._place(picked, pick_vectors, record, spans, vectors, vector):
                continue
            pick_vectors[len(picked)] = vector
            picked.append(_Pick(candidate, record, choice, vector, [], question))
        return picked[:k]

    def _corroborate(self, picked: list["_Pick"], pick_vectors: np.ndarray, rest: list[Candidate]) -> None:
        """Once the picks are full, later candidates can only corroborate one. A single product over all their
        sentences finds the few that come close enough to any pick; only those are looked at one by one."""
        vectors = [candidate.sentences()[1] for candidate in rest]
        sizes = [len(v) for v in vectors]
        if not any(sizes):
            return
        nearest = (np.concatenate(vectors) @ pick_vectors.T).max(axis=1)
        close = segment_max(nearest, sizes) >= CORROBORATES
        for n in np.flatnonzero(close).tolist():
            spans, sentence_vectors, _ = rest[n].sentences()
            self._place(picked, pick_vectors, self.reader.passage(rest[n].row), spans, sentence_vectors, None)

    @staticmethod
    def _place(
        picked: list["_Pick"], pick_vectors: np.ndarray, record: dict, spans: np.ndarray, vectors: np.ndarray,
        vector: np.ndarray | None,
    ) -> bool:
        """True when the passage adds nothing new: a near-copy of a pick, or (from another article) its corroboration.

        `pick_vectors` holds the picks' answer sentences in its first len(picked) rows; `vector` is the passage's own
        answer sentence; without it only corroboration is checked.
        """
        if not picked:
            return False
        pick_vectors = pick_vectors[: len(picked)]
        own = (pick_vectors @ vector).tolist() if vector is not None else None
        sims = vectors @ pick_vectors.T if len(vectors) else np.zeros((1, len(picked)))
        best_j, best_sim = sims.argmax(0).tolist(), sims.max(0).tolist()
        for n, pick in enumerate(picked):
            if pick.record["article_idx"] == record["article_idx"]:
                if own is not None and own[n] >= NEAR_COPY:
                    return True  # an overlapping window answering with the same sentence
                continue
            if not len(vectors) or best_sim[n] < CORROBORATES:
                continue
            start, end = spans[best_j[n]].tolist()
            other = record["text"][start:end]
            if best_sim[n] >= NEAR_COPY or pick.key_in(other):
                if all(c.source.id != record["source"]["id"] for c in pick.also_in):
                    pick.also_in.append(Corroboration(record["id"], other, Source(**record["source"])))
                return True
        return False

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
