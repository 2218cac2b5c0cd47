"""The on-disk index: one directory per version, switched atomically through a `current` symlink.

Layout of a version directory:
  manifest.json   format version, model, dimension, counts, FAISS type, passage spec, article hashes
  articles.sqlite article metadata and cleaned text
  passages.npy    int32 rows (article_idx, ordinal, start, end, first_unit, n_units);
                  row number = FAISS id = BM25 doc id
  units.npy       int32 rows (article_idx, start, end): the sentences passages are made of
  unit_vectors.npy float16 sentence vectors, for answer sentences and sentence-level scoring
  vectors.npy     float32 passage vectors (mean of their sentences), for exact filtered search
  dense.faiss     FAISS index over the vectors
  bm25/           bm25s index over the passage terms
  model/          the ONNX export of the encoder and its tokenizer
"""

from __future__ import annotations

import json
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
from .errors import BadIndex, IndexNotFound, ModelMismatch

FORMAT_VERSION = 1
CURRENT = "current"
ARTICLE_FIELDS = ("id", "title", "outlet", "published", "url", "path")
FLAT_MAX = 50_000


@dataclass(frozen=True)
class Hit:
    """A passage row and its score from one retriever."""

    row: int
    score: float


def _faiss_index(vectors: np.ndarray, kind: str):
    import faiss

    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def faiss_kind(n: int) -> str:
    """Exact search while it is cheap, a graph index beyond."""
    return "flat" if n <= FLAT_MAX else "hnsw"


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
) -> Path:
    """Write a complete new version under root and switch `current` to it; a crash leaves the old one."""
    import bm25s

    root.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    stage = root / f".tmp-{stamp}"
    stage.mkdir()
    try:
        shutil.copytree(model_folder, stage / "model")
        np.save(stage / "passages.npy", passages.astype(np.int32))
        np.save(stage / "vectors.npy", vectors.astype(np.float32))
        np.save(stage / "units.npy", units.astype(np.int32))
        np.save(stage / "unit_vectors.npy", unit_vectors.astype(np.float16))
        kind = faiss_kind(len(vectors))
        import faiss

        faiss.write_index(_faiss_index(vectors, kind), str(stage / "dense.faiss"))
        bm25 = bm25s.BM25()
        bm25.index(list(passage_terms) or [[""]], show_progress=False)
        bm25.save(str(stage / "bm25"))
        _write_articles(stage / "articles.sqlite", articles)
        full = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "faiss": kind,
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


def read_manifest(root: Path) -> dict | None:
    version = current_version(root)
    return json.loads((version / "manifest.json").read_text()) if version else None


class IndexReader:
    """A loaded index version: FAISS, BM25, passage offsets and article metadata, read-only."""

    def __init__(self, root: Path, expected_model: str | None = None):
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
        self.passages = np.load(folder / "passages.npy", mmap_mode="r")
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        self.units = np.load(folder / "units.npy", mmap_mode="r")
        self.unit_vectors = np.load(folder / "unit_vectors.npy", mmap_mode="r")
        self.dense = faiss.read_index(str(folder / "dense.faiss"))
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
        article_idx, ordinal, start, end, first_unit, n_units = (int(x) for x in self.passages[row])
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

    def passage_sentences(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Sentence spans of a passage as offsets into the passage text, and their vectors."""
        _, _, start, _, first, n = (int(x) for x in self.passages[row])
        spans = np.asarray(self.units[first : first + n, 1:3]) - start
        return spans, np.asarray(self.unit_vectors[first : first + n], dtype=np.float32)

    def article_mask(self, outlet: str | None, since: date | None, until: date | None) -> np.ndarray | None:
        """A per-passage boolean mask for the filters, or None when nothing is filtered."""
        if outlet is None and since is None and until is None:
            return None
        ok = np.ones(len(self.articles), dtype=bool)
        if outlet is not None:
            ok &= self._outlets == outlet.casefold()
        if since is not None:
            ok &= self._dates >= since.toordinal()
        if until is not None:
            ok &= (self._dates >= 0) & (self._dates <= until.toordinal())
        return ok[self.passages[:, 0]]

    def dense_search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[Hit]:
        """Top-k passages by cosine similarity, restricted to mask when given."""
        import faiss

        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if mask is not None:
            allowed = np.flatnonzero(mask)
            if len(allowed) <= FLAT_MAX:
                scores = np.asarray(self.vectors[allowed]) @ query[0]
                top = _top(scores, k)
                return [Hit(int(allowed[i]), float(scores[i])) for i in top]
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))
            scores, ids = self.dense.search(query, k, params=params)
        else:
            scores, ids = self.dense.search(query, k)
        return [Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def best_sentence_scores(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """For each passage row, the highest cosine between the query and one of its sentences."""
        first, count = self.passages[rows, 4].astype(np.int64), self.passages[rows, 5].astype(np.int64)
        owner = np.repeat(np.arange(len(rows)), count)
        units = np.repeat(first - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
        scores = np.asarray(self.unit_vectors[units], dtype=np.float32) @ query
        best = np.full(len(rows), -1.0, dtype=np.float32)
        np.maximum.at(best, owner, scores)
        return best

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


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first."""
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
