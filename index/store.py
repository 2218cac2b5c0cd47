"""The on-disk index: one directory per version, switched atomically through a `current` symlink.

Layout of a version directory:
  manifest.json   format version, model, dimension, counts, FAISS type, passage spec, article hashes
  articles.sqlite article metadata and cleaned text
  passages.npy    int32 rows (article_idx, ordinal, start, end, first_unit, n_units);
                  row number = FAISS id = BM25 doc id
  units.npy       int32 rows (article_idx, start, end): the sentences passages are made of
  unit_vectors.npy float16 sentence vectors, for answer sentences and sentence-level scoring
  vectors.npy     float32 passage vectors (mean of their sentences), for exact filtered search and rescoring
  dense.faiss     FAISS index over the vectors: exact up to FLAT_MAX passages, IVF with int8 (SQ8) codes beyond
  bm25/           bm25s index over the passage terms
  model/          the ONNX export of the encoder and its tokenizer
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .documents import Article
from .encoder import copy_model
from .errors import BadIndex, IndexNotFound, ModelMismatch

FORMAT_VERSION = 1
CURRENT = "current"
ARTICLE_FIELDS = ("id", "title", "outlet", "published", "url", "path")
# Exact search up to here: measured single-threaded on the busy 2-core machine (benchmarks/scale.py), Flat took
# 0.4 ms at 10k passages, 0.95 ms at 20k, 6.8 ms at 50k and 14 ms at 100k, IVF-SQ8 0.1-0.4 ms over that range.
FLAT_MAX = 20_000
# IVF lists probed per query. At 1M passages (IVF2048,SQ8, 2x exact rerank) dense recall@10 against exact search
# measured 0.92 at 16, 0.96 at 32, 0.99 at 64, 0.997 at 128: 64 keeps a margin over the 0.95 goal.
DEFAULT_NPROBE = 64
# Candidates explored per query in HNSW indexes: builds no longer write them, but earlier ones did beyond 50k.
DEFAULT_EF_SEARCH = 64
# Approximate or int8 indexes return RERANK * k candidates, ranked again by the exact float32 vectors.
RERANK = 2
QUANTIZE = ("int8",)


@dataclass(frozen=True)
class Hit:
    """A passage row and its score from one retriever."""

    row: int
    score: float


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


def segment_max(values: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """The highest of each run of consecutive values, runs `counts` long in order; -1 for an empty run."""
    counts = np.asarray(counts, dtype=np.int64)
    best = np.full(len(counts), -1.0, dtype=np.float32)
    some = counts > 0
    if some.any():
        best[some] = np.maximum.reduceat(values, (np.cumsum(counts) - counts)[some])
    return best


def faiss_kind(n: int, quantize: str | None = None) -> str:
    """Exact search while it is cheap, IVF with int8 codes beyond; `quantize="int8"` also shrinks exact ones."""
    if quantize not in (None, *QUANTIZE):
        raise ValueError(f"quantize must be one of {QUANTIZE} or None, got {quantize!r}")
    if n > FLAT_MAX:
        return "ivf-sq8"
    return "sq8" if quantize else "flat"


def faiss_factory(kind: str, n: int) -> str:
    """The FAISS index_factory string for a kind at n vectors."""
    if kind == "ivf-sq8":
        return f"IVF{_nlist(n)},SQ8"
    return {"flat": "Flat", "sq8": "SQ8"}[kind]


def _nlist(n: int) -> int:
    """About 2*sqrt(n) lists, a power of two, each with the >= 39 training points FAISS k-means asks for."""
    target = 2 ** round(math.log2(2 * math.sqrt(max(n, 1))))
    return max(1, min(target, n // 39))


def faiss_index(vectors: np.ndarray, factory: str):
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(_training_sample(vectors, factory))
    index.add(vectors)
    return index


def _training_sample(vectors: np.ndarray, factory: str) -> np.ndarray:
    """40 points per IVF list is what k-means needs; more only slows the 1M build."""
    if not factory.startswith("IVF"):
        return vectors
    size = 40 * int(factory[3 : factory.index(",")])
    if len(vectors) <= size:
        return vectors
    rows = np.sort(np.random.default_rng(0).choice(len(vectors), size, replace=False))
    return vectors[rows]


def write_index(
    root: Path,
    articles: Sequence[Article],
    passages: np.ndarray,
    vectors: np.ndarray,
    units: np.ndarray,
    unit_vectors: np.ndarray,
    passage_terms: Iterable[list[str]],
    model_folder: Path,
    manifest: dict,
    quantize: str | None = None,
) -> Path:
    """Write a complete new version under root and switch `current` to it; a crash leaves the old one."""
    kind = faiss_kind(len(vectors), quantize)
    root.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    stage = root / f".tmp-{stamp}"
    stage.mkdir()
    try:
        copy_model(model_folder, stage / "model")
        # asarray, not astype: at 1M passages the sentence vectors alone are gigabytes, so never copy them.
        np.save(stage / "passages.npy", np.asarray(passages, dtype=np.int32))
        np.save(stage / "vectors.npy", np.asarray(vectors, dtype=np.float32))
        np.save(stage / "units.npy", np.asarray(units, dtype=np.int32))
        np.save(stage / "unit_vectors.npy", np.asarray(unit_vectors, dtype=np.float16))
        factory = faiss_factory(kind, len(vectors))
        seconds = {"dense": _timed(_write_dense, stage / "dense.faiss", vectors, factory)}
        seconds["bm25"] = _timed(_write_bm25, stage / "bm25", passage_terms)
        _write_articles(stage / "articles.sqlite", articles)
        full = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "faiss": kind,
            "faiss_factory": factory,
            "build_seconds": seconds,
            "counts": {"articles": len(articles), "passages": int(len(passages)), "sentences": int(len(units))},
            "articles": {a.id: a.hash for a in articles},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (stage / "manifest.json").write_text(json.dumps(full, indent=1))
        final = root / f"v-{stamp}"
        stage.rename(final)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    link = root / f".{CURRENT}-{stamp}"
    link.symlink_to(final.name)
    os.replace(link, root / CURRENT)
    _prune(root, keep=final.name)
    return final


def _timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return round(time.perf_counter() - started, 3)


def _write_dense(path: Path, vectors: np.ndarray, factory: str) -> None:
    import faiss

    faiss.write_index(faiss_index(vectors, factory), str(path))


def _write_bm25(path: Path, passage_terms: Iterable[list[str]]) -> None:
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index(list(passage_terms) or [[""]], show_progress=False)
    bm25.save(str(path))


def _write_articles(path: Path, articles: Sequence[Article]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE articles (idx INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, title TEXT, outlet TEXT,"
            " published TEXT, url TEXT, path TEXT, hash TEXT NOT NULL, text TEXT NOT NULL)"
        )
        db.executemany(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((i, a.id, a.title, a.outlet, a.published, a.url, a.path, a.hash, a.text) for i, a in enumerate(articles)),
        )
    db.close()


def _prune(root: Path, keep: str) -> None:
    """Remove superseded versions and leftovers of crashed builds."""
    for child in root.iterdir():
        if child.name == keep or child.name == CURRENT:
            continue
        if child.name.startswith(("v-", ".tmp-")) and child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(f".{CURRENT}-") and child.is_symlink():
            child.unlink(missing_ok=True)


def current_version(root: Path) -> Path | None:
    """The directory `current` points at, if a complete index is there."""
    link = Path(root) / CURRENT
    target = link.resolve() if link.is_symlink() else None
    return target if target is not None and (target / "manifest.json").is_file() else None


def index_exists(root: Path) -> bool:
    """True when root holds a complete, loadable index version."""
    return current_version(root) is not None


def read_manifest(root: Path) -> dict | None:
    version = current_version(root)
    return json.loads((version / "manifest.json").read_text()) if version else None


class IndexReader:
    """A loaded index version: FAISS, BM25, passage offsets and article metadata, read-only.

    `nprobe` (IVF) and `ef_search` (HNSW) trade dense recall for speed; None means the module defaults.
    """

    def __init__(
        self, root: Path, expected_model: str | None = None, nprobe: int | None = None, ef_search: int | None = None
    ):
        self.nprobe = nprobe or DEFAULT_NPROBE
        self.ef_search = ef_search or DEFAULT_EF_SEARCH
        version = current_version(root)
        if version is None:
            raise IndexNotFound(f"no index at {root}: build one with `qa build [PATH ...] --index {root}`")
        self.folder = version
        self.manifest = json.loads((version / "manifest.json").read_text())
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise BadIndex(f"index at {root} has format {self.manifest.get('format_version')}, expected "
                           f"{FORMAT_VERSION}: rebuild it with `qa build --index {root}`")
        model = self.manifest["model"]["name"]
        if expected_model and expected_model != model:
            raise ModelMismatch(
                f"index at {root} was built with model {model!r} but {expected_model!r} is configured: "
                f"rebuild with `qa build --index {root} --model {expected_model}` or set QA_MODEL={model}"
            )
        self._load()

    def _load(self) -> None:
        import bm25s
        import faiss

        folder = self.folder
        self.passages, self.vectors, self.units, self.unit_vectors = (
            _mapped(folder / name) for name in ("passages.npy", "vectors.npy", "units.npy", "unit_vectors.npy")
        )
        # MMAP_IFC maps flat codes, IVF lists and HNSW graphs in place: loading reads no vectors, the page cache
        # holds what queries touch. (IO_FLAG_MMAP instead copies flat codes and scans IVF lists 4x slower.)
        self.dense = faiss.read_index(str(folder / "dense.faiss"), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        self.bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=True, show_progress=False)
        self._db = sqlite3.connect(f"file:{folder / 'articles.sqlite'}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        rows = self._db.execute(f"SELECT {', '.join(ARTICLE_FIELDS)} FROM articles ORDER BY idx").fetchall()
        self.articles = [dict(zip(ARTICLE_FIELDS, row)) for row in rows]
        self.article_index = {a["id"]: i for i, a in enumerate(self.articles)}
        self._outlets = np.array([(a["outlet"] or "").casefold() for a in self.articles], dtype=object)
        self._dates = np.array(
            [date.fromisoformat(a["published"]).toordinal() if a["published"] else -1 for a in self.articles],
            dtype=np.int64,
        )
        # Passages are stored article by article, so each article's rows are one contiguous slice.
        self._article_starts = np.searchsorted(self.passages[:, 0], np.arange(len(self.articles) + 1))
        self._text_cache: dict[int, str] = {}

    @property
    def dense(self):
        return self._dense

    @dense.setter
    def dense(self, index) -> None:
        """Any FAISS inner-product index over the passage rows (benchmarks swap in an exact one)."""
        import faiss

        self._dense = index
        self._ivf = faiss.try_extract_index_ivf(index) is not None
        self._hnsw = isinstance(index, faiss.IndexHNSW)
        # Only float Flat codes rank exactly; graphs, IVF and int8 codes get a second, exact ranking.
        self._rerank = not isinstance(index, faiss.IndexFlat)

    def __len__(self) -> int:
        return int(self.passages.shape[0])

    def text(self, article_idx: int) -> str:
        """An article's cleaned text, the string all offsets refer to."""
        cached = self._text_cache.get(article_idx)
        if cached is None:
            with self._lock:
                row = self._db.execute("SELECT text FROM articles WHERE idx = ?", (article_idx,)).fetchone()
            cached = row[0]
            if len(self._text_cache) > 4096:
                self._text_cache.clear()
            self._text_cache[article_idx] = cached
        return cached

    def passage(self, row: int) -> dict:
        """A passage's id, offsets, text and source article."""
        article_idx, ordinal, start, end, first_unit, n_units = self.passages[row].tolist()
        article = self.articles[article_idx]
        return {
            "id": f"{article['id']}:{ordinal}",
            "row": row,
            "article_idx": article_idx,
            "start": start,
            "end": end,
            "units": (first_unit, n_units),
            "text": self.text(article_idx)[start:end],
            "source": article,
        }

    def article_passages(self, article_idx: int) -> np.ndarray:
        """The passage rows of one article, in order."""
        return self.passages[self._article_starts[article_idx] : self._article_starts[article_idx + 1]]

    def sentences(self, rows: np.ndarray) -> Sentences:
        """The sentences of the given passage rows."""
        meta = self.passages[rows]
        first, counts = meta[:, 4].astype(np.int64), meta[:, 5].astype(np.int64)
        begins = np.cumsum(counts) - counts
        units = np.repeat(first - begins, counts) + np.arange(int(counts.sum()))
        spans = self.units[units, 1:3] - np.repeat(meta[:, 2], counts)[:, None]
        return Sentences(begins.tolist(), counts.tolist(), spans, self.unit_vectors[units].astype(np.float32))

    def passage_mask(self, articles: np.ndarray) -> np.ndarray:
        """A per-article boolean mask (article_filter's) spread over each article's passages."""
        return articles[self.passages[:, 0]]

    def undated(self) -> np.ndarray:
        """Per article: True where no publication date is known (date filters leave these out)."""
        return self._dates < 0

    def article_filter(self, outlet: str | None, since: date | None, until: date | None) -> np.ndarray | None:
        """A per-article boolean mask for the filters, or None when nothing is filtered."""
        if outlet is None and since is None and until is None:
            return None
        ok = np.ones(len(self.articles), dtype=bool)
        if outlet is not None:
            ok &= self._outlets == outlet.casefold()
        if since is not None:
            ok &= self._dates >= since.toordinal()
        if until is not None:
            ok &= (self._dates >= 0) & (self._dates <= until.toordinal())
        return ok

    def dense_search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[Hit]:
        """Top-k passages by cosine similarity, restricted to mask when given."""
        import faiss

        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        selector = None
        if mask is not None:
            allowed = np.flatnonzero(mask)
            if len(allowed) <= FLAT_MAX:
                return self._exact(allowed, query[0], k)
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
        fetch = k * RERANK if self._rerank else k
        scores, ids = self.dense.search(query, fetch, params=self._search_params(selector))
        if self._rerank:
            return self._exact(ids[0][ids[0] >= 0], query[0], k)
        return [Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def _search_params(self, selector=None):
        """FAISS search parameters carrying the knobs, and the filter when there is one."""
        import faiss

        extra = {} if selector is None else {"sel": selector}
        if self._ivf:
            return faiss.SearchParametersIVF(nprobe=self.nprobe, **extra)
        if self._hnsw:
            return faiss.SearchParametersHNSW(efSearch=self.ef_search, **extra)
        return faiss.SearchParameters(**extra) if extra else None

    def _exact(self, rows: np.ndarray, query: np.ndarray, k: int) -> list[Hit]:
        """The top k of rows by exact cosine from the float32 vectors."""
        rows = np.sort(rows)  # file order for the memory map, and ties go to the lower row
        scores = np.asarray(self.vectors[rows]) @ query
        return [Hit(int(rows[i]), float(scores[i])) for i in _top(scores, k)]

    def bm25_search(self, query_terms: list[str], k: int, mask: np.ndarray | None = None) -> list[Hit]:
        """Top-k passages by BM25 over the given terms, restricted to mask when given."""
        ids = self.bm25.get_tokens_ids(query_terms)
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        top = _top(scores, k)
        return [Hit(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, query_terms: list[str]) -> dict[str, float]:
        """BM25-style inverse document frequency of each known term."""
        vocab, indptr, n = self.bm25.vocab_dict, self.bm25.scores["indptr"], len(self)
        out = {}
        for term in set(query_terms):
            if term in vocab:
                df = int(indptr[vocab[term] + 1] - indptr[vocab[term]])
                out[term] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return out

    def close(self) -> None:
        self._db.close()


def _mapped(path: Path) -> np.ndarray:
    """A read-only memory map seen as a plain array: same pages, but indexing skips np.memmap's per-slice
    bookkeeping, which cost more than the lookups themselves on every ask."""
    return np.asarray(np.load(path, mmap_mode="r"))


def single_thread_faiss() -> None:
    """One FAISS thread per query: concurrency comes from requests and workers, and two OpenMP threads waiting for
    each other on busy cores made a 10k-passage Flat search take 64 ms instead of 0.3 ms (benchmarks/scale.py)."""
    import faiss

    faiss.omp_set_num_threads(1)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first."""
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
