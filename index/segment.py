"""A segment: the immutable files of one batch of articles, written once and never changed (as in Lucene).

Files of a segment folder `seg-<id>`:
  segment.json     counts, the FAISS type and the checksum of every other file (index/checksums.py)
  articles.sqlite  article metadata, content hash and cleaned text; idx is the article's row in this segment
  passages.npy     int32 rows (article_idx, ordinal, start, end, first_unit, n_units); row = FAISS id = postings row
  units.npy        int32 rows (article_idx, start, end): the sentences passages are made of
  unit_vectors.npy float16 sentence vectors, for answer sentences and sentence-level scoring
  vectors.npy      float32 passage vectors (mean of their sentences), for exact search and rescoring
  dense.faiss      FAISS over the vectors: exact up to FLAT_MAX passages, IVF with int8 (SQ8) codes beyond
  vocab.json, indptr.npy, docs.npy, freqs.npy, lengths.npy: lexical postings (index/lexical.py)

A segment is written under a hidden name, fsynced, then renamed into place: a folder named `seg-*` is complete.
It becomes part of the index only when a commit lists it (index/commit.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import dense as dense_config  # FLAT_MAX read at search time: benchmarks move it
from .dense import DEFAULT_EF_SEARCH, DEFAULT_NPROBE, RERANK, faiss_factory, faiss_index, faiss_kind, top
from .documents import Article
from .checksums import Damaged, digests, verify
from .errors import BadIndex
from .lexical import Postings
from .owned import OWNER, claim

PREFIX = "seg-"
META = "segment.json"
ARTICLE_FIELDS = ("id", "title", "outlet", "published", "url", "path", "author")
# Columns segments written before bylines were read lack: read as these values.
_LATER_COLUMNS = {"author": "NULL", "lead": "0"}
ARRAYS = ("passages.npy", "vectors.npy", "units.npy", "unit_vectors.npy")
# np.load parses each header with ast.literal_eval, and on CPython 3.11.7 two threads compiling at once can fail
# with "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905): a writer and a request thread
# both opening segments did. Opening is milliseconds, so one at a time costs nothing.
_LOADING = threading.Lock()


@dataclass(frozen=True)
class Hit:
    """A passage row and its score from one retriever."""

    row: int
    score: float


@dataclass
class SegmentData:
    """What a segment holds, in memory, before it is written."""

    articles: Sequence[Article]
    passages: np.ndarray
    vectors: np.ndarray
    units: np.ndarray
    unit_vectors: np.ndarray
    postings: Postings


def new_name() -> str:
    """Segment names sort by creation time, which is also the order a view lays their rows out in."""
    return f"{PREFIX}{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"


def write_segment(root: Path, data: SegmentData, quantize: str | None = None) -> tuple[str, dict]:
    """Write a complete segment under root, durably, and return its name and its segment.json."""
    name = new_name()
    stage = root / f".{name}.tmp"
    stage.mkdir(parents=True)
    try:
        claim(stage, root)  # before any data: a crash from here on leaves a folder cleaning can prove is ours
        # asarray, not astype: at 1M passages the sentence vectors alone are gigabytes, so never copy them.
        np.save(stage / "passages.npy", np.asarray(data.passages, dtype=np.int32))
        np.save(stage / "vectors.npy", np.asarray(data.vectors, dtype=np.float32))
        np.save(stage / "units.npy", np.asarray(data.units, dtype=np.int32))
        np.save(stage / "unit_vectors.npy", np.asarray(data.unit_vectors, dtype=np.float16))
        kind = faiss_kind(len(data.vectors), quantize)
        factory = faiss_factory(kind, len(data.vectors))
        started = time.perf_counter()
        _write_dense(stage / "dense.faiss", data.vectors, factory)
        dense_seconds = time.perf_counter() - started
        data.postings.write(stage)
        _write_articles(stage / "articles.sqlite", data.articles)
        meta = {
            "articles": len(data.articles), "passages": int(len(data.passages)), "sentences": int(len(data.units)),
            "faiss": kind, "faiss_factory": factory, "dense_seconds": round(dense_seconds, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "checksums": digests(stage, [p.name for p in stage.iterdir() if p.name != OWNER]),
        }
        (stage / META).write_text(json.dumps(meta, indent=1))
        sync_folder(stage)
        stage.rename(root / name)
        sync_folder(root, files=False)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return name, meta


def sync_folder(folder: Path, files: bool = True) -> None:
    """fsync every file in a folder (with files), then the folder itself, so a rename after it is durable."""
    if files:
        for path in folder.iterdir():
            if path.is_file():
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_dense(path: Path, vectors: np.ndarray, factory: str) -> None:
    import faiss

    faiss.write_index(faiss_index(vectors, factory), str(path))


def _write_articles(path: Path, articles: Iterable[Article]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE articles (idx INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, title TEXT, outlet TEXT,"
            " published TEXT, url TEXT, path TEXT, hash TEXT NOT NULL, text TEXT NOT NULL, author TEXT,"
            " lead INTEGER NOT NULL DEFAULT 0)"
        )
        db.executemany(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((i, a.id, a.title, a.outlet, a.published, a.url, a.path, a.hash, a.text, a.author, a.lead)
             for i, a in enumerate(articles)),
        )
    db.close()


class Segment:
    """One segment opened read-only: memory-mapped arrays, FAISS, postings and article metadata.

    Opening reads no vectors: the page cache holds what queries touch. Once open, a segment keeps working after its
    files are deleted (POSIX keeps open files alive), so a merge can drop it under a running server.
    """

    def __init__(self, folder: Path, nprobe: int | None = None, ef_search: int | None = None,
                 meta_digest: str | None = None, dim: int | None = None):
        import faiss

        self.folder, self.name = folder, folder.name
        self.nprobe, self.ef_search = nprobe or DEFAULT_NPROBE, ef_search or DEFAULT_EF_SEARCH
        try:
            # Every byte is checked before any is used: damaged files are refused, never served (index/checksums.py).
            if meta_digest is not None:
                verify(folder, {META: meta_digest})
            self.meta = json.loads((folder / META).read_text())
            sums = self.meta.get("checksums") if isinstance(self.meta, dict) else None
            if sums is not None:
                if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
                    raise ValueError("its checksums are not a table of digests")
                verify(folder, sums)
            with _LOADING:
                self.passages, self.vectors, self.units, self.unit_vectors = (
                    np.asarray(np.load(folder / name, mmap_mode="r")) for name in ARRAYS
                )
                self.postings = Postings.load(folder)
            # MMAP_IFC maps flat codes and IVF lists in place (IO_FLAG_MMAP copies flat codes, scans IVF 4x slower).
            self.dense = faiss.read_index(str(folder / "dense.faiss"), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
            self._db = sqlite3.connect(f"file:{folder / 'articles.sqlite'}?mode=ro", uri=True, check_same_thread=False)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(articles)")}
            columns = [c if c in have else f"{_LATER_COLUMNS[c]} AS {c}" if c in _LATER_COLUMNS else c
                       for c in (*ARTICLE_FIELDS, "lead", "hash")]
            rows = self._db.execute(f"SELECT {', '.join(columns)} FROM articles ORDER BY idx").fetchall()
        except Damaged as exc:
            raise BadIndex(f"segment {folder.name}: {exc}") from None
        except (OSError, ValueError, RuntimeError, sqlite3.Error, KeyError, EOFError, MemoryError, IndexError,
                TypeError, AttributeError) as exc:
            # EOFError: np.load of an empty file (click would print only "Aborted!" for it).
            raise BadIndex(f"segment {folder.name} is damaged ({_reason(exc)})") from None
        problem = self._shape_problem(dim, len(rows), checked=sums is not None)
        if problem:
            self._db.close()
            raise BadIndex(f"segment {folder.name} is damaged ({problem})")
        self.articles = [dict(zip(ARTICLE_FIELDS, row[:-2])) for row in rows]
        self.leads = [int(row[-2] or 0) for row in rows]
        self.hashes = [row[-1] for row in rows]
        self.ids = {a["id"]: i for i, a in enumerate(self.articles)}
        self.dates = np.array(
            [date.fromisoformat(a["published"]).toordinal() if a["published"] else -1 for a in self.articles], np.int64
        )
        self.outlets = np.array([(a["outlet"] or "").casefold() for a in self.articles], dtype=object)
        # Passages are stored article by article, so each article's rows are one contiguous slice.
        self.article_starts = np.searchsorted(self.passages[:, 0], np.arange(len(self.articles) + 1))
        self.use_dense(self.dense)
        self._lock = threading.Lock()
        self._texts: dict[int, str] = {}

    def _shape_problem(self, dim: int | None, articles: int, checked: bool) -> str | None:
        """Why the arrays cannot be this segment's (a segment from before checksums, or a commit that lies about
        the model's dimension), or None."""
        p, v, u, uv = self.passages, self.vectors, self.units, self.unit_vectors
        dim = v.shape[-1] if dim is None else dim
        if (p.dtype, p.ndim, p.shape[-1:]) != (np.int32, 2, (6,)) or (u.dtype, u.ndim, u.shape[-1:]) != (np.int32, 2, (3,)):
            return "passages.npy or units.npy has the wrong type or shape"
        if v.shape != (len(p), dim) or v.dtype != np.float32 or uv.shape != (len(u), dim) or uv.dtype != np.float16:
            return f"vectors.npy or unit_vectors.npy does not hold {dim}-dimensional vectors for every row"
        if len(p) != self.dense.ntotal or len(p) != len(self.postings.lengths) or self.dense.d != dim:
            return "its passages, vectors and postings disagree"
        if len(p) and (p[:, 0].min() < 0 or p[:, 0].max() >= articles or (p[:, 4].astype(np.int64) + p[:, 5]).max() > len(u)):
            return "passages.npy points outside its articles or sentences"
        pt = self.postings
        if len(pt.indptr) != len(pt.vocab) + 1 or int(pt.indptr[-1]) != len(pt.docs) or len(pt.freqs) != len(pt.docs):
            return "its postings (vocab.json, indptr.npy, docs.npy, freqs.npy) disagree"
        # Bytes that passed their checksums are the ones written; a segment from before checksums gets a full scan.
        if not checked and len(pt.docs) and (int(pt.docs.max()) >= len(p) or int(pt.docs.min()) < 0):
            return "docs.npy points outside its passages"
        return None

    def use_dense(self, index) -> None:
        """Search this FAISS inner-product index over the segment's rows (benchmarks swap in exact or HNSW ones)."""
        import faiss

        self.dense = index
        self._ivf = faiss.try_extract_index_ivf(index) is not None
        self._hnsw = isinstance(index, faiss.IndexHNSW)
        # Only float Flat codes rank exactly; IVF and int8 codes get a second, exact ranking.
        self._rerank = not isinstance(index, faiss.IndexFlat)

    def __len__(self) -> int:
        return int(self.passages.shape[0])

    def text(self, article: int) -> str:
        """An article's cleaned text, the string all offsets refer to."""
        cached = self._texts.get(article)
        if cached is None:
            with self._lock:
                cached = self._db.execute("SELECT text FROM articles WHERE idx = ?", (article,)).fetchone()[0]
            if len(self._texts) > 4096:
                self._texts.clear()
            self._texts[article] = cached
        return cached

    def live_rows(self, deleted: set[int]) -> np.ndarray | None:
        """The passage rows not deleted (None: all are live)."""
        if not deleted:
            return None
        live = np.ones(len(self.articles), dtype=bool)
        live[list(deleted)] = False
        return live[self.passages[:, 0]]

    def dense_search(self, query: np.ndarray, k: int, mask: np.ndarray | None) -> list[Hit]:
        """Top-k rows by cosine similarity (exact scores), restricted to mask when given."""
        import faiss

        selector = None
        if mask is not None:
            allowed = np.flatnonzero(mask)
            if len(allowed) <= dense_config.FLAT_MAX:
                return self.exact(allowed, query, k)
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
        fetch = k * RERANK if self._rerank else k
        scores, ids = self.dense.search(query.reshape(1, -1), fetch, params=self._search_params(selector))
        if self._rerank:
            return self.exact(ids[0][ids[0] >= 0], query, k)
        return [Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def _search_params(self, selector=None):
        import faiss

        extra = {} if selector is None else {"sel": selector}
        if self._ivf:
            return faiss.SearchParametersIVF(nprobe=self.nprobe, **extra)
        if self._hnsw:
            return faiss.SearchParametersHNSW(efSearch=self.ef_search, **extra)
        return faiss.SearchParameters(**extra) if extra else None

    def exact(self, rows: np.ndarray, query: np.ndarray, k: int) -> list[Hit]:
        """The top k of rows by exact cosine from the float32 vectors."""
        rows = np.sort(rows)  # file order for the memory map, and ties go to the lower row
        scores = np.asarray(self.vectors[rows]) @ query
        return [Hit(int(rows[i]), float(scores[i])) for i in top(scores, k)]

    def close(self) -> None:
        self._db.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1][:200]}" if text else type(exc).__name__
