"""Reading an index: one generation's segments seen as one index, and the live handle that follows new generations.

An index folder holds `commit-N.json` files (index/commit.py), immutable `seg-*` segments (index/segment.py) and
the ONNX export of the encoder (`model/`). A view numbers the passages of its segments one after another: global
row = the segment's offset + the row inside it, and articles likewise. Deleted articles keep their rows, masked out
of every search, so a view never copies a segment's arrays.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Sequence

import numpy as np

from .commit import Commit, generations, latest, read_commit
from .dense import single_thread_faiss, top  # noqa: F401  (single_thread_faiss: the query side's import point)
from .errors import BadIndex, IndexNotFound, ModelMismatch, rebuild_hint
from .lexical import bm25_scores, document_frequencies, idf
from .segment import Hit, Segment

log = logging.getLogger(__name__)
# A newest commit that failed to open is tried again this often (and whenever the folder changes): a commit file
# never changes, but a segment it names may still be arriving on a slow shared file system.
RETRY = 5.0

__all__ = ["IndexReader", "LiveIndex", "Hit", "Sentences", "paragraph_number", "segment_max", "index_exists",
           "single_thread_faiss"]


@dataclass(frozen=True)
class Sentences:
    """The sentences of several passages, read in one go: spans as offsets into each passage's own text, and
    float32 vectors (the float16 store is converted once per question, not once per use)."""

    begins: list[int]
    counts: list[int]
    spans: np.ndarray
    vectors: np.ndarray

    def of(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Spans and vectors of the i-th passage asked for."""
        b, c = self.begins[i], self.counts[i]
        return self.spans[b : b + c], self.vectors[b : b + c]

    def best(self, scores: np.ndarray) -> np.ndarray:
        """Per passage, the highest of its sentences' scores (-1 for a passage without sentences)."""
        return segment_max(scores, self.counts)


def paragraph_number(text: str, offset: int) -> int:
    """1-based paragraph of the article text holding offset; paragraphs are separated by blank lines."""
    return text.count("\n\n", 0, offset) + 1


def segment_max(values: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """The highest of each run of consecutive values, runs `counts` long in order; -1 for an empty run."""
    counts = np.asarray(counts, dtype=np.int64)
    best = np.full(len(counts), -1.0, dtype=np.float32)
    some = counts > 0
    if some.any():
        best[some] = np.maximum.reduceat(values, (np.cumsum(counts) - counts)[some])
    return best


def shard_of(segment: str, shards: int) -> int:
    """Which of `shards` shards serves a segment (a stable hash of its name)."""
    return zlib.crc32(segment.encode()) % shards


def is_legacy(root: Path) -> bool:
    """An index in the one-version format before segments (a `current` link)."""
    return (Path(root) / "current").is_symlink()


def index_exists(root: Path) -> bool:
    """True when root holds an index (a commit), or an older format that asks to be rebuilt."""
    return bool(generations(root)) or is_legacy(root)


class IndexReader:
    """One generation of an index, read-only: its live segments minus deleted articles, searched as one.

    `segments` reuses segments already open (by name): a new generation opens only the segments it adds.
    `nprobe` (IVF) and `ef_search` (HNSW) trade dense recall for speed; None means the defaults.
    """

    def __init__(self, root: Path, expected_model: str | None = None, nprobe: int | None = None,
                 ef_search: int | None = None, commit: Commit | None = None, segments: dict[str, Segment] | None = None,
                 shard: tuple[int, int] | None = None):
        root = Path(root)
        if commit is None:
            commit = newest_commit(root)
        self.shard = shard
        if shard is not None:  # a shard serves the segments whose names hash to it: new ones spread by themselves
            commit = replace(commit, segments=[e for e in commit.segments if shard_of(e["name"], shard[1]) == shard[0]])
        self.root, self.commit, self.generation = root, commit, commit.generation
        self.model_folder = root / commit.model_dir
        model = commit.model.get("name")
        if expected_model and expected_model != model:
            raise ModelMismatch(
                f"index at {root} was built with model {model!r} but {expected_model!r} is configured: "
                f"rebuild with `qa build --index {root} --model {expected_model}` or set QA_MODEL={model}"
            )
        self.segments = _open_segments(root, commit, {} if segments is None else segments, nprobe, ef_search)
        self._setup([set(e.get("deleted", ())) for e in commit.segments])
        self.manifest = {"model": commit.model, "passages": commit.passages, "generation": self.generation,
                         "segments": len(self.segments), "counts": self.counts()}

    def _setup(self, deleted_ids: list[set[str]]) -> None:
        segs = self.segments
        self.row_offsets = np.cumsum([0] + [len(s) for s in segs])
        self.article_offsets = np.cumsum([0] + [len(s.articles) for s in segs])
        self.deleted = [{s.ids[i] for i in ids if i in s.ids} for s, ids in zip(segs, deleted_ids)]
        self.live = [s.live_rows(d) for s, d in zip(segs, self.deleted)]  # per segment; None: every row
        self.articles = [a for s in segs for a in s.articles]
        self.hashes = [h for s in segs for h in s.hashes]
        self.leads = [n for s in segs for n in s.leads]
        live_articles = np.ones(len(self.articles), dtype=bool)
        for offset, gone in zip(self.article_offsets, self.deleted):
            live_articles[[offset + i for i in gone]] = False
        self.live_articles = live_articles
        self.article_index = {a["id"]: i for i, a in enumerate(self.articles) if live_articles[i]}
        self._dates = np.concatenate([s.dates for s in segs] + [np.zeros(0, np.int64)])
        self._outlets = np.concatenate([s.outlets for s in segs] + [np.zeros(0, object)])
        self.live_sentences = sum(len(s.units) if not gone else int((~np.isin(s.units[:, 0], list(gone))).sum())
                                  for s, gone in zip(segs, self.deleted))
        lengths = [s.postings.lengths if m is None else s.postings.lengths[m] for s, m in zip(segs, self.live)]
        self.live_passages = int(sum(len(x) for x in lengths))
        self.live_length = sum(int(x.sum()) for x in lengths)
        self.avgdl = self.live_length / max(self.live_passages, 1)

    def counts(self) -> dict:
        return {"articles": len(self.article_index), "passages": self.live_passages,
                "sentences": self.live_sentences}

    def __len__(self) -> int:
        return int(self.row_offsets[-1])

    def _locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        segs = np.searchsorted(self.row_offsets, rows, side="right") - 1
        return segs, rows - self.row_offsets[segs]

    def _article(self, article_idx: int) -> tuple[Segment, int]:
        s = int(np.searchsorted(self.article_offsets, article_idx, side="right") - 1)
        return self.segments[s], article_idx - int(self.article_offsets[s])

    def text(self, article_idx: int) -> str:
        """An article's cleaned text, the string all offsets refer to."""
        segment, local = self._article(article_idx)
        return segment.text(local)

    def passage(self, row: int) -> dict:
        """A passage's id, offsets, text and source article."""
        s = int(np.searchsorted(self.row_offsets, row, side="right") - 1)
        segment = self.segments[s]
        article, ordinal, start, end, _, _ = segment.passages[row - int(self.row_offsets[s])].tolist()
        article_idx = int(self.article_offsets[s]) + article
        source = self.articles[article_idx]
        text = segment.text(article)
        # The paragraph the passage starts in: with it a shard's passage tells the paragraph of any of its sentences
        # (citations) without the article's whole text. Counted as a reader of the published article counts: from
        # the story's first paragraph, below the headline and standfirst (0 or less: a sentence above the story).
        return {
            "id": f"{source['id']}:{ordinal}", "row": row, "article_idx": article_idx, "start": start, "end": end,
            "text": text[start:end], "source": source,
            "paragraph": paragraph_number(text, start) - self.leads[article_idx],
        }

    def passage_vectors(self, rows: np.ndarray) -> np.ndarray:
        """Float32 passage vectors of the given rows, in their order."""
        segs, local = self._locate(rows)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        for s in np.unique(segs).tolist():
            at = segs == s
            out[at] = self.segments[s].vectors[local[at]]
        return out

    def passage_cosines(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Cosine of each given passage to the (unit) query vector."""
        return self.passage_vectors(rows) @ query

    @property
    def dim(self) -> int:
        return int(self.commit.model.get("dim") or self.segments[0].vectors.shape[1])

    def sentences(self, rows: np.ndarray) -> Sentences:
        """The sentences of the given passage rows."""
        segs, local = self._locate(np.asarray(rows, dtype=np.int64))
        counts = np.empty(len(rows), dtype=np.int64)
        metas = {}
        for s in np.unique(segs).tolist():
            at = np.flatnonzero(segs == s)
            meta = self.segments[s].passages[local[at]]
            counts[at] = meta[:, 5]
            metas[s] = (at, meta)
        begins = np.cumsum(counts) - counts
        total = int(counts.sum())
        spans = np.empty((total, 2), dtype=np.int64)
        vectors = np.empty((total, self.dim), dtype=np.float32)
        for s, (at, meta) in metas.items():
            segment, n = self.segments[s], meta[:, 5].astype(np.int64)
            within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            units = np.repeat(meta[:, 4].astype(np.int64), n) + within
            where = np.repeat(begins[at], n) + within
            spans[where] = segment.units[units, 1:3] - np.repeat(meta[:, 2], n)[:, None]
            vectors[where] = segment.unit_vectors[units]
        return Sentences(begins.tolist(), counts.tolist(), spans, vectors)

    def passage_mask(self, articles: np.ndarray) -> np.ndarray:
        """A per-article boolean mask (article_filter's) spread over each article's passages."""
        parts = [articles[off + s.passages[:, 0]] for s, off in zip(self.segments, self.article_offsets)]
        return np.concatenate(parts + [np.zeros(0, bool)])

    def undated(self) -> np.ndarray:
        """Per article: True where a live article has no known publication date (date filters leave these out)."""
        return (self._dates < 0) & self.live_articles

    def article_filter(self, outlet: str | None, since: date | None, until: date | None) -> np.ndarray | None:
        """A per-article boolean mask for the filters, or None when nothing is filtered."""
        if outlet is None and since is None and until is None:
            return None
        ok = self.live_articles.copy()
        if outlet is not None:
            ok &= self._outlets == outlet.casefold()
        if since is not None:
            ok &= self._dates >= since.toordinal()
        if until is not None:
            ok &= (self._dates >= 0) & (self._dates <= until.toordinal())
        return ok

    def prepare(self, query_vector: np.ndarray, query_terms: list[str], depth: int, outlet: str | None,
                since: date | None, until: date | None) -> tuple["IndexReader", np.ndarray | None, list[int] | None]:
        """For one question: what to search (this view), the passage mask of the filters (None: every passage), and
        [articles the filters leave, undated articles a date filter left out] (None: nothing filtered). A sharded
        view answers the same call with the shards' merged candidates (qa/shards.py)."""
        ok = self.article_filter(outlet, since, until)
        if ok is None:
            return self, None, None
        undated = int((self.undated() & ~ok).sum()) if since or until else 0
        return self, self.passage_mask(ok), [int(ok.sum()), undated]

    def _masks(self, mask: np.ndarray | None) -> list[np.ndarray | None]:
        """Per segment, the rows a search may return: the filter's and not deleted (None: all)."""
        out = []
        for s, live in enumerate(self.live):
            part = None if mask is None else mask[self.row_offsets[s] : self.row_offsets[s + 1]]
            out.append(live if part is None else (part if live is None else part & live))
        return out

    def dense_search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[Hit]:
        """Top-k passages by cosine similarity over all segments, restricted to mask when given."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        hits = []
        for s, (segment, m) in enumerate(zip(self.segments, self._masks(mask))):
            offset = int(self.row_offsets[s])
            hits.extend(Hit(offset + h.row, h.score) for h in segment.dense_search(query, k, m))
        hits.sort(key=lambda h: (-h.score, h.row))
        return hits[:k]

    def bm25_search(self, query_terms: list[str], k: int, mask: np.ndarray | None = None,
                    weights: dict[str, float] | None = None, avgdl: float | None = None) -> list[Hit]:
        """Top-k passages by BM25 over all segments, with N, average length and df taken over the live set; a shard
        is given the whole index's IDF weights and average length instead of its own."""
        weights = self.idf(query_terms) if weights is None else weights
        if not weights or not self.segments:
            return []
        parts = []
        for segment, m in zip(self.segments, self._masks(mask)):
            scores = bm25_scores(segment.postings, query_terms, weights, self.avgdl if avgdl is None else avgdl)
            parts.append(scores if m is None else np.where(m, scores, 0.0))
        scores = np.concatenate(parts)
        return [Hit(int(i), float(scores[i])) for i in top(scores, k) if scores[i] > 0]

    def document_frequencies(self, query_terms: list[str]) -> dict[str, int]:
        """Live passages holding each term some live passage holds (a shard's share of the global df)."""
        return document_frequencies([(s.postings, live) for s, live in zip(self.segments, self.live)], query_terms)

    def idf(self, query_terms: list[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each term some live passage holds."""
        return {term: idf(self.live_passages, df) for term, df in self.document_frequencies(query_terms).items()}

    def article(self, article_id: str) -> dict | None:
        """A live article's metadata with its text, or None."""
        idx = self.article_index.get(article_id)
        return None if idx is None else {**self.articles[idx], "text": self.text(idx)}

    def live_articles_list(self) -> list[dict]:
        """Metadata of every live article, in row order."""
        return [self.articles[i] for i in sorted(self.article_index.values())]

    def live_hashes(self) -> dict[str, str]:
        """Content hash of every live article, by id."""
        return {article_id: self.hashes[i] for article_id, i in self.article_index.items()}

    def passage_count(self, article_id: str) -> int:
        """How many passages a live article has."""
        segment, local = self._article(self.article_index[article_id])
        return int(segment.article_starts[local + 1] - segment.article_starts[local])

    def locate(self, article_id: str) -> tuple[str, int] | None:
        """The segment name and local index of a live article."""
        idx = self.article_index.get(article_id)
        if idx is None:
            return None
        segment, local = self._article(idx)
        return segment.name, local

    def close(self) -> None:
        for segment in self.segments:
            segment.close()


def _open_segments(root: Path, commit: Commit, cached: dict[str, Segment], nprobe: int | None,
                   ef_search: int | None) -> list[Segment]:
    """The commit's segments, reusing those already open; BadIndex naming the first that cannot be read."""
    out, fresh = [], []
    try:
        for entry in commit.segments:
            segment = cached.get(entry["name"])
            if segment is None:
                folder = root / entry["name"]
                if not folder.is_dir():
                    raise BadIndex(f"segment {entry['name']} is missing")
                segment = Segment(folder, nprobe, ef_search, entry.get("meta_checksum"), commit.model.get("dim"))
                fresh.append(segment)
            out.append(segment)
    except BadIndex as exc:
        for segment in fresh:
            segment.close()
        raise BadIndex(f"index at {root} is damaged: {exc}; {rebuild_hint(root)}") from None
    return out


def newest_commit(root: Path) -> Commit:
    """The newest commit, listing again if a writer cleaned it away between the listing and the read; IndexNotFound
    or BadIndex, each naming the command to run, when there is none to read."""
    for _ in range(5):
        try:
            commit = latest(root)
        except FileNotFoundError:
            continue
        if commit is None:
            if is_legacy(root):
                raise BadIndex(f"index at {root} is in the format before segments; {rebuild_hint(root)}")
            raise IndexNotFound(f"no index at {root}: build one with `qa build [PATH ...] --index {root}`")
        return commit
    raise BadIndex(f"index at {root} changed faster than it could be read; try again")


class LiveIndex:
    """The index a server reads: the newest generation, checked for cheaply on every request.

    `view()` stats the folder (a commit's rename changes its mtime) and, at most every POLL seconds, lists it anyway,
    since a coarse clock can give two changes one mtime. A new generation opens only its new segments and is swapped
    in whole; a request keeps the view it started with.
    """

    POLL = 0.25

    def __init__(self, root: Path, expected_model: str | None = None, nprobe: int | None = None,
                 ef_search: int | None = None, shard: tuple[int, int] | None = None):
        self.root, self.expected_model, self.nprobe, self.ef_search = Path(root), expected_model, nprobe, ef_search
        self.shard = shard
        self._lock = threading.Lock()
        self._stamp = self._mtime()
        self._checked = time.monotonic()
        self._view = IndexReader(self.root, expected_model, nprobe, ef_search, shard=shard)
        self.problem: dict | None = None  # the newest generation that could not be opened, and why
        self._failed: int | None = None
        self._tried = 0.0

    def _mtime(self) -> int:
        try:
            return os.stat(self.root).st_mtime_ns
        except FileNotFoundError:
            return 0

    def view(self) -> IndexReader:
        """The newest generation's view; while the newest commit cannot be opened, the last good one (`problem`
        says why, and /health reports it)."""
        stamp, now = self._mtime(), time.monotonic()
        if stamp == self._stamp and now - self._checked < self.POLL:
            return self._view
        with self._lock:
            found = generations(self.root)
            newest = found[-1] if found else None
            if newest is not None and newest == self._failed and stamp == self._stamp and now - self._tried < RETRY:
                self._checked = now
                return self._view
            self._stamp, self._checked = stamp, now
            if newest is not None and newest != self._view.generation:
                self._open(newest, now)
            elif newest == self._view.generation:
                self.problem = self._failed = None  # a rebuild replaced the damaged commit with a good one
        return self._view

    def _open(self, generation: int, now: float) -> None:
        """Swap in a new generation, or keep the current one and remember why not. Serving the last good
        generation, rather than refusing, is the documented choice (README): answers stay those of a whole,
        checked generation, and the refusal would flip-flop with every poll."""
        try:
            commit = read_commit(self.root, generation)
            cached = {s.name: s for s in self._view.segments}
            self._view = IndexReader(self.root, self.expected_model, self.nprobe, self.ef_search, commit, cached,
                                     self.shard)
            self.problem = self._failed = None
        except FileNotFoundError:
            return
        except (BadIndex, ModelMismatch) as exc:
            if self._failed != generation:
                log.warning("serving generation %d: generation %d cannot be opened: %s",
                            self._view.generation, generation, exc)
            self._failed, self._tried = generation, now
            self.problem = {"generation": generation, "error": str(exc)}
