"""Asking an index split into shards (groups of segments, each served elsewhere): one fan-out per question.

A shard answers `candidates`: its top passages by dense and by BM25 search, scored with the whole index's BM25
statistics (IDF from every shard's document frequencies, the global average length), with everything the answer
stage needs about them. The global top-k is within the union of the shards' top-k, so merging gives the ranking a
single index of the same articles gives, and `Engine` runs retrieval fusion, picking and the reader once over it.

The statistics are exact: N and the total length come with each shard's summary, and so do document frequencies.
While the index's whole vocabulary is small (at most WHOLE_VOCABULARY terms: about 11,000 for 2,000 Reuters
stories), every shard sends its df table once per generation and every question is one fan-out. Past that, a
table grows with the archive (BENCHMARKS.md measures it at 1M passages), so the df of a question's terms is asked
of the shards (`frequencies`) the first time a term is met in a generation and kept until a shard moves on: a
question whose terms are known is one fan-out, one with a new term is two.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from index.lexical import idf
from index.store import Hit, IndexReader, Sentences

from .errors import QAError

# Global row and article numbers: the shard's index in the high bits, its own number below.
SHIFT = 40
TIMEOUT_S = 10.0
# The most terms whose df the ingress takes from the shards whole, once per generation, instead of term by term: a
# Python dict of 50,000 terms is a few MB, and every write makes a generation that sends it again.
WHOLE_VOCABULARY = 50_000


class Unavailable(QAError):
    """A shard or the encoder did not answer; the client may retry (503 with Retry-After)."""

    status = 503
    retry_after = 1


class Pending(Protocol):
    def result(self, timeout_s: float | None = None) -> Any: ...


Client = Callable[..., Pending]  # client(method_name, *args) -> something with .result(timeout_s)


def shard_candidates(view: IndexReader, query_vector: np.ndarray, query_terms: list[str], weights: dict[str, float],
                     avgdl: float, depth: int, outlet: str | None, since: date | None, until: date | None) -> dict:
    """What one shard contributes to a question: its candidates and all the answer stage reads of them."""
    _, mask, filtered = view.prepare(query_vector, query_terms, depth, outlet, since, until)
    dense = view.dense_search(query_vector, depth, mask)
    lexical = view.bm25_search(query_terms, depth, mask, weights, avgdl)
    rows = np.array(sorted({h.row for h in dense} | {h.row for h in lexical}), dtype=np.int64)
    sentences = view.sentences(rows)
    # What crosses the network is most of a sharded question's cost, so only what the answer stage reads goes:
    # passage cosines rather than passage vectors, and sentence vectors as the float16 they are stored in (exact).
    return {
        "generation": view.generation, "filtered": filtered,
        "dense": [(h.row, h.score) for h in dense], "bm25": [(h.row, h.score) for h in lexical],
        "rows": rows.tolist(), "records": [view.passage(int(r)) for r in rows],
        "passage_cosines": view.passage_cosines(rows, query_vector), "counts": sentences.counts,
        "spans": sentences.spans, "sentence_vectors": sentences.vectors.astype(np.float16),
    }


class ShardService:
    """The calls a shard answers (what `ShardedIndex.fan_out` sends), each on the newest generation of its part of
    the index: the Ray Serve Shard deployment is this class, and tests call it in process."""

    def __init__(self, live):
        self.live = live

    def summary(self) -> dict:
        """The shard's generation, segments, counts, live passages and their total length (BM25's N and average)."""
        view = self.live.view()
        return {"generation": view.generation, "segments": len(view.segments), "counts": view.counts(),
                "passages": view.live_passages, "length": view.live_length}

    def frequencies(self, query_terms: list[str]) -> dict:
        """How many of the shard's live passages hold each term (absent: none), at its generation."""
        view = self.live.view()
        return {"generation": view.generation, "df": view.document_frequencies(query_terms)}

    def vocabulary(self, limit: int) -> dict:
        """The df of every term of the shard's live passages, or None when it holds more than limit terms."""
        view = self.live.view()
        vocabularies = [segment.postings.vocab for segment in view.segments]
        # One segment over the limit settles it without the union, which an archive's shard should not build.
        terms = None if any(len(v) > limit for v in vocabularies) else set().union(*vocabularies)
        small = terms is not None and len(terms) <= limit
        return {"generation": view.generation, "df": view.document_frequencies(terms) if small else None}

    def candidates(self, *args) -> dict:
        return shard_candidates(self.live.view(), *args)

    def articles(self) -> list[dict]:
        return self.live.view().live_articles_list()

    def article(self, article_id: str) -> dict | None:
        return self.live.view().article(article_id)


class Prefetched:
    """The merged candidates of one question, read through the IndexReader methods retrieval and picking use."""

    def __init__(self, parts: list[dict], weights: dict[str, float]):
        self.weights = weights
        self._dense: list[Hit] = []
        self._bm25: list[Hit] = []
        self._records: dict[int, dict] = {}
        self._cosines: dict[int, float] = {}
        self._sentences: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for s, part in enumerate(parts):
            high = s << SHIFT
            self._dense += [Hit(high | r, score) for r, score in part["dense"]]
            self._bm25 += [Hit(high | r, score) for r, score in part["bm25"]]
            begin = 0
            for i, (row, record) in enumerate(zip(part["rows"], part["records"])):
                row = high | row
                self._records[row] = {**record, "row": row, "article_idx": high | record["article_idx"]}
                self._cosines[row] = part["passage_cosines"][i]
                n = part["counts"][i]
                self._sentences[row] = (part["spans"][begin : begin + n], part["sentence_vectors"][begin : begin + n])
                begin += n
        for hits in (self._dense, self._bm25):
            hits.sort(key=lambda h: (-h.score, h.row))

    def dense_search(self, query: np.ndarray, k: int, mask: Any = None) -> list[Hit]:
        return self._dense[:k]  # filters were applied by the shards

    def bm25_search(self, query_terms: list[str], k: int, mask: Any = None) -> list[Hit]:
        return [h for h in self._bm25[:k] if h.score > 0]

    def passage_cosines(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        return np.array([self._cosines[int(r)] for r in rows], dtype=np.float32)

    def sentences(self, rows: np.ndarray) -> Sentences:
        parts = [self._sentences[int(r)] for r in rows]
        counts = [len(spans) for spans, _ in parts]
        begins = (np.cumsum(counts) - counts).tolist()
        dim = next((v.shape[1] for _, v in parts if len(v)), 1)
        spans = np.concatenate([p[0] for p in parts] + [np.zeros((0, 2), np.int64)])
        vectors = np.concatenate([p[1] for p in parts] + [np.zeros((0, dim), np.float32)]).astype(np.float32)
        return Sentences(begins, counts, spans, vectors)

    def passage(self, row: int) -> dict:
        return self._records[int(row)]

    def idf(self, query_terms: list[str]) -> dict[str, float]:
        wanted = set(query_terms)
        return {t: w for t, w in self.weights.items() if t in wanted}


@dataclass
class Statistics:
    """The whole index's BM25 statistics at one set of shard generations: N and total length summed over the
    shards, and the document frequencies of the terms questions have used so far (0: no live passage holds it)."""

    generations: tuple[int, ...]
    passages: int
    length: int
    summaries: list[dict]
    df: dict[str, int] = field(default_factory=dict)
    whole: bool = False  # df holds every term of the index: a term it lacks is in no live passage

    # A bound on the terms kept, so a long-lived generation cannot grow the cache without end.
    MAX_TERMS = 200_000

    @property
    def generation(self) -> int:
        return max(self.generations)

    def missing(self, query_terms: Sequence[str]) -> list[str]:
        return [] if self.whole else sorted({t for t in query_terms if t not in self.df})

    def learn(self, terms: list[str], parts: list[dict]) -> None:
        if len(self.df) + len(terms) > self.MAX_TERMS:
            self.df.clear()
        for term in terms:
            self.df[term] = sum(part["df"].get(term, 0) for part in parts)

    def weights(self, query_terms: Sequence[str]) -> dict[str, float]:
        return {t: idf(self.passages, self.df[t]) for t in set(query_terms) if self.df.get(t)}

    @property
    def avgdl(self) -> float:
        return self.length / max(self.passages, 1)


class ShardedIndex:
    """Stands where a LiveIndex stands for an Engine whose index is served by shards; `view()` is per request."""

    # Summaries older than this are gathered again, so /health shows each shard's generation within a second or so
    # even when no question has noticed a new one.
    STATS_TTL_S = 1.0

    def __init__(self, shards: list[Client], model: dict, timeout_s: float = TIMEOUT_S):
        self.shards, self.model, self.timeout_s = shards, model, timeout_s
        self._stats: Statistics | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def fan_out(self, method: str, *args: Any) -> list[Any]:
        """Every shard's answer to one call, sent to all at once; Unavailable when one fails or is too slow."""
        deadline = time.monotonic() + self.timeout_s  # one deadline for all: a dead shard costs it once, not per shard
        try:
            pending = [shard(method, *args) for shard in self.shards]
            return [p.result(timeout_s=max(0.0, deadline - time.monotonic())) for p in pending]
        except QAError:
            raise
        except Exception as exc:  # noqa: BLE001  (Ray's actor, timeout and task errors all mean the same here)
            raise Unavailable(f"a shard did not answer ({type(exc).__name__}); retry in a moment") from None

    def statistics(self, refresh: bool = False) -> Statistics:
        with self._lock:
            if self._stats is None or refresh or time.monotonic() - self._at > self.STATS_TTL_S:
                self._at = time.monotonic()
                summaries = self.fan_out("summary")
                generations = tuple(s["generation"] for s in summaries)
                old = self._stats
                stats = Statistics(generations, sum(s["passages"] for s in summaries), sum(s["length"] for s in summaries),
                                   summaries)
                if old is not None and old.generations == generations:
                    stats.df, stats.whole = old.df, old.whole
                else:
                    self._take_whole(stats)
                self._stats = stats
            return self._stats

    def _take_whole(self, stats: Statistics) -> None:
        """Every shard's whole df table, summed, when the index's vocabulary is small enough to hold; else the df is
        learnt term by term."""
        parts = self.fan_out("vocabulary", WHOLE_VOCABULARY)
        if any(p["df"] is None for p in parts) or tuple(p["generation"] for p in parts) != stats.generations:
            return
        df: Counter[str] = Counter()
        for part in parts:
            df.update(part["df"])
        if len(df) <= WHOLE_VOCABULARY:
            stats.df, stats.whole = dict(df), True

    def view(self) -> "ShardedView":
        return ShardedView(self, self.statistics())


class ShardedView:
    """One request's view of a sharded index."""

    def __init__(self, index: ShardedIndex, stats: Statistics):
        self.index, self.stats, self.generation = index, stats, stats.generation
        counts = {name: sum(s["counts"][name] for s in stats.summaries) for name in ("articles", "passages", "sentences")}
        self.manifest = {
            "model": index.model, "generation": stats.generation, "counts": counts,
            "segments": sum(s["segments"] for s in stats.summaries),
            "shards": [{"shard": i, "generation": s["generation"], "segments": s["segments"], **s["counts"]}
                       for i, s in enumerate(stats.summaries)],
        }

    def prepare(self, query_vector: np.ndarray, query_terms: list[str], depth: int, outlet: str | None,
                since: date | None, until: date | None) -> tuple[Prefetched, None, list[int] | None]:
        """One fan-out: every shard's candidates under the whole index's statistics, merged (the shards applied the
        filters, so there is no mask left to apply)."""
        stats = self.stats
        for attempt in range(2):
            missing = stats.missing(query_terms)
            found = self.index.fan_out("frequencies", missing) if missing else []
            if all(f["generation"] == g for f, g in zip(found, stats.generations)):
                stats.learn(missing, found)
                weights = stats.weights(query_terms)
                parts = self.index.fan_out("candidates", query_vector, query_terms, weights, stats.avgdl, depth,
                                           outlet, since, until)
                if all(p["generation"] == g for p, g in zip(parts, stats.generations)):
                    break
            if attempt:  # still mixed: an article could show twice (old and new copy), so say so instead
                raise Unavailable("the shards are switching to a new generation of the index; retry in a moment")
            stats = self.index.statistics(refresh=True)  # a shard moved on: its statistics with it, once
        filtered = [p["filtered"] for p in parts if p["filtered"] is not None]
        total = [sum(f[0] for f in filtered), sum(f[1] for f in filtered)] if filtered else None
        return Prefetched(parts, weights), None, total

    def live_articles_list(self) -> list[dict]:
        return [a for part in self.index.fan_out("articles") for a in part]

    def article(self, article_id: str) -> dict | None:
        return next((a for a in self.index.fan_out("article", article_id) if a is not None), None)
