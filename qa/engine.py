"""The one core object: every interface asks its questions through `Engine.ask`."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import date
from typing import Callable

from index.encoder import INT8_FILE, QUERY_FILE, Encoder, open_encoder
from index.store import LiveIndex, index_exists, single_thread_faiss
from index.terms import terms

import numpy as np

from .answer import Answer, AnswerSpan, Filtered, Passage, Results, Source, TermOverlap, citation
from .checks import check_article_id, check_k, check_question, check_sort, encodable, parse_date
from .errors import ArticleNotFound, BadFilter
from .decide import Decision, Evidence, Option, features
from .reader import Reader
from .picks import Pick, pick_passages
from .reports import citations, corroboration, gather, paragraph_of, report
from .search import DEPTH, hybrid_search
from .shards import ShardedIndex
from .settings import Settings
from .views import Searchable, View
from .writes import Writer, parse_articles

log = logging.getLogger(__name__)

# Windows the reader reads per question, one around the best sentence of each of the top passages, in one batch.
# Always the same READ passages whatever k is: k only says how many are listed, never what the answer is.
READ = 4
# ONNX Runtime threads spin this long for more work, then sleep. With 2 threads and 2 ms of other work per question,
# 200 us gave a 1.5 ms encode at 3.2 ms of CPU; unbounded spinning 1.7-2.3 ms at 5.4-6.7 ms CPU, no spinning 2.2 ms.
QUERY_SPIN_US = 200


def query_model_file(settings: Settings) -> str:
    """Which ONNX file encodes questions: the 8-bit-weight export, or the opt-in int8 one (QA_QUERY_INT8)."""
    return INT8_FILE if settings.query_int8 else QUERY_FILE


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


class Engine:
    """A live index, its query encoder and the reader; safe to share between threads.

    Every call reads one generation of the index from start to end (`view()`): a commit made meanwhile is seen by
    the next call, never halfway through this one.
    """

    def __init__(self, index: LiveIndex | ShardedIndex, encoder: Encoder, reader: Reader, settings: Settings,
                 decision: Decision | None = None):
        self.live = index
        self.encoder = encoder
        self.reader = reader
        self.decision = decision or Decision.load(settings.reader)
        self.settings = settings
        self._outlets: tuple[int, dict] | None = None
        self.writer = Writer(settings.index, background=True)  # HTTP's writes: the same writer as `qa add`

    def view(self) -> View:
        """The newest generation of the index."""
        return self.live.view()

    @classmethod
    def open(cls, settings: Settings, build_missing: bool = False, notify: Callable[[str], None] | None = None,
             decision: Decision | None = None) -> "Engine":
        """Load the configured index; with build_missing, build the seeds index first when there is none."""
        if build_missing and not index_exists(settings.index):
            from index.build import build_index  # only the first run builds; asks skip the build-side imports

            if notify:
                notify(f"no index at {settings.index}; building one from {settings.seeds} (first run only)")
            build_index([settings.seeds], settings.index, model=settings.model, warn=notify)
        live = LiveIndex(settings.index, expected_model=settings.model, nprobe=settings.nprobe, ef_search=settings.ef_search)
        single_thread_faiss()
        view = live.view()
        model = view.manifest["model"]["name"]
        encoder = open_encoder(view.model_folder, model, settings.threads, query_model_file(settings), spin_us=QUERY_SPIN_US)
        return cls(live, encoder, Reader(settings.reader, settings.threads), settings, decision)

    def search(
        self, question: str, k: int = 5, outlet: str | None = None, since: str | date | None = None, until: str | date | None = None,
        sort: str = "relevance",
    ) -> Results:
        """The top-k passages with their sources and best sentences, without the reader: the fast path. With
        sort="date" the same passages are listed newest first, undated ones last."""
        started = time.perf_counter()
        sort = check_sort(sort)
        question, picked, filtered, *_ = self._retrieve(self.view(), question, k, outlet, since, until)
        passages = self._listed(picked, sort)
        return Results(question=question, passages=passages, filtered=filtered, took_ms=_since(started))

    def ask(
        self, question: str, k: int = 5, outlet: str | None = None, since: str | date | None = None, until: str | date | None = None,
        sort: str = "relevance",
    ) -> Answer:
        """The top-k passages and the answer the decision takes from them: answered, uncertain, or not stated
        (answerable=False). `sort` orders the listed passages only, never the answer."""
        started = time.perf_counter()
        k, sort = check_k(k), check_sort(sort)
        question, picked, filtered, overlap, view, candidates = self._retrieve(self.view(), question, max(k, READ), outlet, since, until)
        options, rows = self.consider(question, picked, overlap)
        verdict = self.decision.decide(rows)
        answer = None
        if verdict.option is not None:
            option = options[verdict.option]
            reads = gather(self.reader, self.decision, view, question, overlap, candidates, picked, options, verdict)
            answer = self._answer(question, picked, option, verdict, reads)
            # The passage the answer comes from is listed first.
            picked.insert(0, picked.pop(option.pick))
        passages = self._listed(picked[:k], sort)
        return Answer(
            question=question, answerable=answer is not None, answer=answer, passages=passages, filtered=filtered,
            took_ms=_since(started),
        )

    def options(self, question: str) -> tuple[list[Pick], list[Option], np.ndarray]:
        """What the decision chooses from for a question, before it chooses: training/decide.py fits on these."""
        question, picked, _, overlap, *_ = self._retrieve(self.view(), question, READ, None, None, None)
        options, rows = self.consider(question, picked, overlap)
        return picked, options, rows

    def consider(self, question: str, picked: list[Pick], overlap: TermOverlap) -> tuple[list[Option], np.ndarray]:
        """The options the reader finds in windows around the top READ picks' best sentences, and their features:
        what the decision chooses from, here and in training/decide.py."""
        reading = picked[:READ]
        q_tokens = self.reader.question_tokens(question)
        windows = [self.reader.window(q_tokens, p.record["text"], p.choice.start, p.choice.end) for p in reading]
        readings = self.reader.read(question, [p.record["text"][a:b] for p, (a, b) in zip(reading, windows)])
        options = []
        for i, (pick, (offset, _), r) in enumerate(zip(reading, windows, readings)):
            if r.end > r.start:
                start, end = offset + r.start, offset + r.end
                options.append(Option(i, start, end, pick.sentence_at(start, end), r))
        evidence = [Evidence.of(pick.record, pick.candidate, pick.choice) for pick in reading]
        return options, features(question, overlap, options, evidence)

    def _answer(self, question: str, picked: list[Pick], option: Option, verdict, reads: list) -> AnswerSpan:
        """The answer sentence is the one holding the span; the span itself is shown only when it is likely right.
        Each source's own answer is grouped by value beside it; only an answered question lists "also reported by"."""
        pick = picked[option.pick]
        text = pick.record["text"]
        sentence = option.sentence
        pick.choice = replace(pick.choice, start=sentence[0], end=sentence[1])
        shown = verdict.show_span
        answered = verdict.status == "answered"
        groups, differ, latest = report(question, reads, self.decision)
        if answered:
            pick.also_in[:] = corroboration(groups, pick.record["id"])
        source = Source(**pick.record["source"])
        said = text[sentence[0] : sentence[1]]
        cited = citation(source, paragraph_of(pick.record, sentence[0]), said)
        return AnswerSpan(
            status=verdict.status,
            text=text[option.start : option.end] if shown else None,
            sentence=said,
            passage_id=pick.record["id"],
            confidence=round(verdict.confidence, 4),
            source=source,
            # An uncertain answer is not something to quote: it carries no citation.
            citation=cited if answered else None,
            citations=[cited, *citations(groups, pick.record["id"])] if answered else [],
            start=option.start if shown else None,
            end=option.end if shown else None,
            reports=groups,
            sources_differ=differ,
            latest=latest,
        )

    def _retrieve(self, view: View, question: str, k: int, outlet: str | None, since, until
                  ) -> tuple[str, list[Pick], Filtered | None, TermOverlap, Searchable, list]:
        """Checked inputs, the picked passages, what the filters left, the question's term overlap measure, the view
        read (a sharded one prepared for this question) and the ranked candidates the picks came from."""
        question, k = check_question(question), check_k(k)
        since, until = parse_date("since", since), parse_date("until", until)
        if since and until and since > until:
            raise BadFilter("since must not be after until")
        outlet = outlet.strip() if isinstance(outlet, str) and outlet.strip() else None
        if outlet is not None and not encodable(outlet):
            raise BadFilter("outlet must be valid Unicode text (it holds a lone surrogate)")
        query_vector = self.encoder.encode([question])[0]
        query_terms = terms(question)
        searchable, mask, counts = view.prepare(query_vector, query_terms, max(DEPTH, k), outlet, since, until)
        filtered = Filtered(*counts) if counts else None
        candidates = hybrid_search(searchable, query_vector, query_terms, k, mask)
        overlap = TermOverlap(query_terms, searchable.idf(query_terms))
        picked = pick_passages(searchable, candidates, k, query_vector, overlap)
        return question, picked, filtered, overlap, searchable, candidates

    def _listed(self, picked: list[Pick], sort: str) -> list[Passage]:
        """Passages ranked as listed: by relevance, or newest first with undated ones last (a stable sort, so equal
        dates keep their relevance order)."""
        if sort == "date":
            picked = sorted(picked, key=lambda p: p.record["source"]["published"] or "", reverse=True)
        return [self._passage(pick, rank) for rank, pick in enumerate(picked, 1)]

    @staticmethod
    def _passage(pick: Pick, rank: int) -> Passage:
        return Passage(
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

    def outlets(self) -> dict:
        """The outlets the index knows with their article counts, and the range of publication dates (worked out
        once per generation: every form page shows them)."""
        view = self.view()
        cached = self._outlets
        if cached is None or cached[0] != view.generation:
            cached = self._outlets = (view.generation, _count_outlets(view.live_articles_list()))
        return cached[1]

    def add(self, body: object, force: bool = False) -> dict:
        """Add or replace the posted article(s) in one commit: {"ids", "generation"} once it is durable. Articles
        deleted earlier are refused (409) unless `force` re-admits them."""
        ids, generation = self.writer.add(parse_articles(body), force=force)
        return {"ids": ids, "generation": generation}

    def delete(self, article_id: str) -> dict:
        """Delete one article in one commit; ArticleNotFound when no live article has the id."""
        missing, generation = self.writer.delete([check_article_id(article_id)])
        if missing:
            raise ArticleNotFound(f"no article with id {article_id!r}; GET /articles lists them")
        return {"deleted": [article_id], "generation": generation}

    def health(self) -> dict:
        """ok or degraded, the generation served, its segments and the article, passage and sentence counts."""
        manifest = self.view().manifest
        shards = {"shards": manifest["shards"]} if "shards" in manifest else {}  # on Ray: each shard's generation
        # A newest generation that cannot be opened: the last good one is served, and this says which and why.
        problem = getattr(self.live, "problem", None)
        newest = {"newest": problem} if problem else {}
        return {"status": "degraded" if problem else "ok", "model": manifest["model"]["name"],
                "generation": manifest["generation"], "segments": manifest["segments"], **manifest["counts"],
                **shards, **newest}

    def articles(self) -> list[dict]:
        """Id, title, outlet, author, published, url and path of every article."""
        return self.view().live_articles_list()

    def article_page(self, outlet: str | None = None, since=None, until=None, limit: int | None = None,
                     offset: int = 0) -> dict:
        """A page of the articles matching outlet and dates: {"articles", "total", "offset", "limit"}."""
        from .listing import select

        return select(self.articles(), outlet, since, until, limit, offset)

    def article(self, article_id: str) -> dict:
        """One article's metadata and the exact text passage offsets refer to."""
        found = self.view().article(check_article_id(article_id))
        if found is None:
            raise ArticleNotFound(f"no article with id {article_id!r}; GET /articles lists them")
        return found


def _count_outlets(articles: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for a in articles:
        if a["outlet"]:
            counts[a["outlet"]] = counts.get(a["outlet"], 0) + 1
    dates = sorted(a["published"] for a in articles if a["published"])
    return {
        "outlets": [{"name": name, "articles": n} for name, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))],
        "articles": len(articles),
        "no_outlet": sum(1 for a in articles if not a["outlet"]),
        "dated": len(dates), "undated": len(articles) - len(dates),
        "earliest": dates[0] if dates else None, "latest": dates[-1] if dates else None,
    }
