"""Building an index from files, re-embedding only articles that are new or changed.

The build streams: a worker thread reads, cleans and cuts the next chunk of articles while the encoder embeds the
current one (ONNX Runtime releases the GIL, so both cores stay busy), and each chunk keeps only compact results
(int32 offsets, float16 sentence vectors, passage terms). Memory grows with the index, not with the tokenised corpus.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from .documents import Article, count_articles, load_articles
from .encoder import (
    CONFIG_FILE, DEFAULT_MODEL, TokenCounter, add_query_models, copy_model, has_query_models, open_encoder,
    prepare_onnx,
)
from .errors import QAError
from .passages import PassageSpec, fit_units, group_units, sentences
from .store import IndexReader, read_manifest, write_index
from .terms import terms

log = logging.getLogger(__name__)

# Text per chunk: about a thousand sentences, enough for full, length-sorted encoder batches with little padding,
# and small enough that the next chunk's preparation overlaps most of the encoding.
CHUNK_CHARS = 100_000

T = TypeVar("T")


@dataclass
class BuildReport:
    """What a build did, for the CLI to print."""

    path: Path
    articles: int = 0
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    removed: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Chunk:
    """Consecutive articles cut into sentences and passages; `fresh` rows of unit_vectors still need embedding."""

    articles: list[Article]
    units: np.ndarray  # int32 (article_idx, start, end)
    unit_vectors: np.ndarray  # float16, reused rows filled in
    fresh: list[int]
    fresh_texts: list[str]
    passages: np.ndarray  # int32 (article_idx, ordinal, start, end, first_unit within the chunk, n_units)
    passage_terms: list[list[str]]
    reused: int = 0


def bm25_text(article: Article, start: int, end: int) -> str:
    """What BM25 indexes for a passage: the headline gives every passage its article's topic words."""
    text = article.text[start:end]
    return text if not article.title or text.startswith(article.title) else f"{article.title}\n{text}"


def passage_vectors(unit_vectors: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Each passage as the normalised mean of its sentence vectors, so only sentences are ever embedded.

    Sums run unit by unit within each passage, so a passage's vector does not depend on where its article sits in
    the corpus: a reused article gets exactly the vectors a fresh build would give it.
    """
    first, count = windows[:, 0].astype(np.int64), windows[:, 1].astype(np.int64)
    sums = np.zeros((len(windows), unit_vectors.shape[1]), np.float32)
    for k in range(int(count.max(initial=0))):
        live = count > k
        sums[live] += unit_vectors[first[live] + k]
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.maximum(norms, 1e-12)


def _interned(words: list[str]) -> list[str]:
    # bm25s holds every passage's terms at once; sharing repeated strings keeps that list small on big corpora.
    return [sys.intern(w) for w in words]


class Planner:
    """Cuts chunks of articles into units and passages, taking sentences and vectors of unchanged ones from old."""

    def __init__(self, count: TokenCounter, spec: PassageSpec, old: IndexReader | None, dim: int):
        self.count, self.spec, self.old, self.dim = count, spec, old, dim
        self.old_hashes: dict[str, str] = old.manifest["articles"] if old else {}

    def _reuse(self, article: Article) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
        """An unchanged article's sentence spans, vectors and passage windows, copied: the old version goes away."""
        old = self.old
        rows = old.article_passages(old.article_index[article.id])
        if not len(rows):
            return np.zeros((0, 2), np.int32), np.zeros((0, self.dim), np.float16), []
        first, end = int(rows[0, 4]), int(rows[-1, 4] + rows[-1, 5])
        windows = [(int(p[4]) - first, int(p[5])) for p in rows]
        return np.array(old.units[first:end, 1:3]), np.array(old.unit_vectors[first:end], dtype=np.float16), windows

    def _cut(self, articles: list[Article]) -> list[tuple[list[tuple[int, int]], list[int]]]:
        """Units and token sizes of each article, counting all sentences in one tokenizer call."""
        sents = [sentences(a.text) for a in articles]
        counts = self.count([a.text[s:e] for a, spans in zip(articles, sents) for s, e in spans])
        out, at = [], 0
        for article, spans in zip(articles, sents):
            out.append(fit_units(article.text, spans, counts[at : at + len(spans)], self.spec.max_tokens))
            at += len(spans)
        return out

    def plan(self, first_idx: int, articles: list[Article]) -> Chunk:
        keep = [self.old is not None and self.old_hashes.get(a.id) == a.hash for a in articles]
        cut = iter(self._cut([a for a, k in zip(articles, keep) if not k]))
        units, vectors, passages, fresh, fresh_texts, passage_terms = [], [], [], [], [], []
        reused = 0
        for pos, (article, kept) in enumerate(zip(articles, keep)):
            idx, first = first_idx + pos, len(units)
            if kept:
                spans, old_vectors, windows = self._reuse(article)
                vectors.append((first, old_vectors))
                reused += len(windows)
            else:
                spans, sizes = next(cut)
                windows = group_units(sizes, self.spec)
                fresh.extend(range(first, first + len(spans)))
                fresh_texts.extend(article.text[int(s) : int(e)] for s, e in spans)
            units.extend((idx, int(s), int(e)) for s, e in spans)
            for ordinal, (start_unit, n) in enumerate(windows):
                start, end = units[first + start_unit][1], units[first + start_unit + n - 1][2]
                passages.append((idx, ordinal, start, end, first + start_unit, n))
                passage_terms.append(_interned(terms(bm25_text(article, start, end))))
        unit_vectors = np.zeros((len(units), self.dim), np.float16)
        for first, block in vectors:
            unit_vectors[first : first + len(block)] = block
        return Chunk(articles, np.array(units, np.int32).reshape(-1, 3), unit_vectors, fresh, fresh_texts,
                     np.array(passages, np.int32).reshape(-1, 6), passage_terms, reused)


def _chunks(articles: Iterable[Article], size: int) -> Iterator[tuple[int, list[Article]]]:
    """Consecutive articles in runs of about `size` characters, with the index of each run's first article."""
    batch: list[Article] = []
    first = chars = 0
    for article in articles:
        batch.append(article)
        chars += len(article.text)
        if chars >= size:
            yield first, batch
            first, batch, chars = first + len(batch), [], 0
    if batch:
        yield first, batch


_END = object()


def _ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of an iterator, each next one computed in a worker thread while the caller uses the current."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-build") as pool:
        pending = pool.submit(next, items, _END)
        while (item := pending.result()) is not _END:
            pending = pool.submit(next, items, _END)
            yield item


def _reusable(root: Path, model: str, spec: PassageSpec) -> IndexReader | None:
    manifest = read_manifest(root)
    if not manifest or manifest["model"]["name"] != model or manifest.get("passages") != spec.as_dict():
        return None
    try:
        return IndexReader(root)
    except QAError:
        return None


class _Parts:
    """The build's output so far, as one compact array per chunk."""

    def __init__(self) -> None:
        self.articles: list[Article] = []
        self.units: list[np.ndarray] = []
        self.unit_vectors: list[np.ndarray] = []
        self.passages: list[np.ndarray] = []
        self.vectors: list[np.ndarray] = []
        self.terms: list[list[str]] = []
        self.n_units = 0

    def add(self, chunk: Chunk) -> None:
        unit_matrix = chunk.unit_vectors.astype(np.float32)
        self.vectors.append(passage_vectors(unit_matrix, chunk.passages[:, 4:6]))
        passages = chunk.passages.copy()
        passages[:, 4] += self.n_units
        self.passages.append(passages)
        self.units.append(chunk.units)
        self.unit_vectors.append(chunk.unit_vectors)
        self.articles.extend(chunk.articles)
        self.terms.extend(chunk.passage_terms)
        self.n_units += len(chunk.units)

    def stacked(self, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Passage rows, passage vectors, unit rows and unit vectors over the whole corpus."""
        return (np.concatenate(self.passages + [np.zeros((0, 6), np.int32)]),
                np.concatenate(self.vectors + [np.zeros((0, dim), np.float32)]),
                np.concatenate(self.units + [np.zeros((0, 3), np.int32)]),
                np.concatenate(self.unit_vectors + [np.zeros((0, dim), np.float16)]))


def build_index(
    paths: Iterable[Path | str],
    root: Path,
    model: str = DEFAULT_MODEL,
    spec: PassageSpec = PassageSpec(),
    warn: Callable[[str], None] | None = None,
    progress: bool = False,
    quantize: str | None = None,
) -> BuildReport:
    """Build or update the index at root from the given files and folders; quantize="int8" stores SQ8 codes."""
    from tqdm import tqdm

    started = time.perf_counter()
    report = BuildReport(path=Path(root))

    def note(message: str) -> None:
        report.warnings.append(message)
        (warn or log.warning)(message)

    paths = list(paths)
    old = _reusable(Path(root), model, spec)
    with tempfile.TemporaryDirectory(prefix="qa-model-") as scratch:
        model_folder = old.folder / "model" if old else Path(scratch) / "model"
        if old is None:
            prepare_onnx(model, model_folder)
        elif not has_query_models(model_folder):  # built before them: the old export plus the question models
            model_folder = Path(scratch) / "model"
            copy_model(old.folder / "model", model_folder)
            add_query_models(model_folder)
        dim = int(json.loads((model_folder / CONFIG_FILE).read_text())["dim"])
        planner = Planner(TokenCounter(model_folder), spec, old, dim)
        parts, encoder = _Parts(), None
        chunks = (planner.plan(first, batch) for first, batch in _chunks(load_articles(paths, note), CHUNK_CHARS))
        total = count_articles(paths) if progress else None  # a total gives the bar its share done and an ETA
        with tqdm(total=total, unit=" articles", desc="indexing", disable=not progress, leave=False, smoothing=0.1) as bar:
            for chunk in _ahead(chunks):
                if chunk.fresh:
                    encoder = encoder or open_encoder(model_folder, model)
                    # Stored as float16; rounding fresh vectors the same way keeps rebuilds reproducible.
                    chunk.unit_vectors[chunk.fresh] = encoder.encode(chunk.fresh_texts).astype(np.float16)
                parts.add(chunk)
                report.reused += chunk.reused
                report.embedded += len(chunk.passages) - chunk.reused
                bar.update(len(chunk.articles))
        if not parts.articles:
            shown = ", ".join(str(p) for p in paths)
            raise QAError(f"no articles found in {shown}: give .txt, .md, .html or .jsonl files with text")
        report.removed = len(set(planner.old_hashes) - {a.id for a in parts.articles})
        passage_rows, vectors, units, unit_vectors = parts.stacked(dim)
        manifest = {"model": {"name": model, "dim": dim}, "passages": spec.as_dict()}
        if old is not None:
            old.close()
        write_index(Path(root), parts.articles, passage_rows, vectors, units, unit_vectors, parts.terms,
                    model_folder, manifest, quantize=quantize)
    report.articles, report.passages = len(parts.articles), len(passage_rows)
    report.seconds = time.perf_counter() - started
    return report
