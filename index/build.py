"""Building an index from files: new and changed articles become one new segment, and gone ones are deleted.

The build streams: a worker thread reads, cleans and cuts the next chunk of articles while the encoder embeds the
current one (ONNX Runtime releases the GIL, so both cores stay busy), and each chunk keeps only compact results
(int32 offsets, float16 sentence vectors, passage terms). Memory grows with the index, not with the tokenised corpus.
"""

from __future__ import annotations

import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from .documents import Article, load_articles
from .changes import NameClash, delete_gone, refuse_clash, skipped_note  # noqa: F401 (ray_build imports them here)
from .files import count_articles, given_prefix
from .encoder import DEFAULT_MODEL, TokenCounter
from .errors import QAError
from .lexical import Postings
from .passages import PassageSpec, fit_units, group_units, sentences
from .segment import SegmentData
from .store import IndexReader
from .terms import terms
from .writer import IndexWriter

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
    kept: list[str] = field(default_factory=list)  # ids not under the paths given, kept because --prune was not
    skipped: list[str] = field(default_factory=list)  # ids of articles deleted on purpose, not brought back
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Chunk:
    """Consecutive articles cut into sentences and passages, with the sentence texts still to embed."""

    articles: list[Article]
    units: np.ndarray  # int32 (article_idx, start, end)
    unit_vectors: np.ndarray  # float16, filled in by the encoder
    texts: list[str]
    passages: np.ndarray  # int32 (article_idx, ordinal, start, end, first_unit within the chunk, n_units)
    passage_terms: list[list[str]]


def bm25_text(article: Article, start: int, end: int) -> str:
    """What BM25 indexes for a passage: the headline gives every passage its article's topic words."""
    text = article.text[start:end]
    return text if not article.title or text.startswith(article.title) else f"{article.title}\n{text}"


def passage_vectors(unit_vectors: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Each passage as the normalised mean of its sentence vectors, so only sentences are ever embedded.

    Sums run unit by unit within each passage, so a passage's vector does not depend on where its article sits in
    the corpus: the same article gets exactly the same vectors in any segment.
    """
    first, count = windows[:, 0].astype(np.int64), windows[:, 1].astype(np.int64)
    sums = np.zeros((len(windows), unit_vectors.shape[1]), np.float32)
    for k in range(int(count.max(initial=0))):
        live = count > k
        sums[live] += unit_vectors[first[live] + k]
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.maximum(norms, 1e-12)


def _interned(words: list[str]) -> list[str]:
    # Every passage's terms are held until the postings are made; sharing repeated strings keeps that list small.
    return [sys.intern(w) for w in words]


class Planner:
    """Cuts chunks of articles into units (sentences) and passages."""

    def __init__(self, count: TokenCounter, spec: PassageSpec, dim: int):
        self.count, self.spec, self.dim = count, spec, dim

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
        units, passages, texts, passage_terms = [], [], [], []
        for pos, (article, (spans, sizes)) in enumerate(zip(articles, self._cut(articles))):
            idx, first = first_idx + pos, len(units)
            texts.extend(article.text[int(s) : int(e)] for s, e in spans)
            units.extend((idx, int(s), int(e)) for s, e in spans)
            for ordinal, (start_unit, n) in enumerate(group_units(sizes, self.spec)):
                start, end = units[first + start_unit][1], units[first + start_unit + n - 1][2]
                passages.append((idx, ordinal, start, end, first + start_unit, n))
                passage_terms.append(_interned(terms(bm25_text(article, start, end))))
        return Chunk(articles, np.array(units, np.int32).reshape(-1, 3), np.zeros((len(units), self.dim), np.float16),
                     texts, np.array(passages, np.int32).reshape(-1, 6), passage_terms)


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


class _Parts:
    """The segment being prepared, as one compact array per chunk."""

    def __init__(self) -> None:
        self.articles: list[Article] = []
        self.units: list[np.ndarray] = []
        self.unit_vectors: list[np.ndarray] = []
        self.passages: list[np.ndarray] = []
        self.vectors: list[np.ndarray] = []
        self.terms: list[list[str]] = []
        self.n_units = 0

    def add(self, chunk: Chunk) -> None:
        self.vectors.append(passage_vectors(chunk.unit_vectors.astype(np.float32), chunk.passages[:, 4:6]))
        passages = chunk.passages.copy()
        passages[:, 4] += self.n_units
        self.passages.append(passages)
        self.units.append(chunk.units)
        self.unit_vectors.append(chunk.unit_vectors)
        self.articles.extend(chunk.articles)
        self.terms.extend(chunk.passage_terms)
        self.n_units += len(chunk.units)

    def segment(self, dim: int) -> SegmentData:
        return SegmentData(
            self.articles,
            np.concatenate(self.passages + [np.zeros((0, 6), np.int32)]),
            np.concatenate(self.vectors + [np.zeros((0, dim), np.float32)]),
            np.concatenate(self.units + [np.zeros((0, 3), np.int32)]),
            np.concatenate(self.unit_vectors + [np.zeros((0, dim), np.float16)]),
            Postings.from_terms(self.terms),
        )


def prepare(articles: Iterable[Article], writer: IndexWriter, total: int | None = None, progress: bool = False) -> SegmentData | None:
    """Articles cut into passages and embedded, ready to be one segment; None when there were none.

    The build streams: a worker thread reads, cleans and cuts the next chunk of articles while the encoder embeds the
    current one (ONNX Runtime releases the GIL, so both cores stay busy), and each chunk keeps only compact results.
    """
    from tqdm import tqdm

    planner = Planner(TokenCounter(writer.model_folder), writer.spec, writer.dim)
    parts = _Parts()
    chunks = (planner.plan(first, batch) for first, batch in _chunks(articles, CHUNK_CHARS))
    with tqdm(total=total, unit=" articles", desc="indexing", disable=not progress, leave=False, smoothing=0.1) as bar:
        for chunk in _ahead(chunks):
            if chunk.texts:
                # Stored as float16; rounding fresh vectors the same way keeps rebuilds reproducible.
                chunk.unit_vectors[:] = writer.encoder().encode(chunk.texts).astype(np.float16)
            parts.add(chunk)
            bar.update(len(chunk.articles))
    return parts.segment(writer.dim) if parts.articles else None


def build_index(
    paths: Iterable[Path | str],
    root: Path,
    model: str = DEFAULT_MODEL,
    spec: PassageSpec = PassageSpec(),
    warn: Callable[[str], None] | None = None,
    progress: bool = False,
    quantize: str | None = None,
    prune: bool = False,
) -> BuildReport:
    """Make the index at root match the given files and folders: new and changed articles are embedded into one new
    segment, ones whose files are gone from the folders given deleted, and unchanged ones stay where they are. A
    file that exists but cannot be read keeps its articles' old copies. Articles from files outside the paths given
    are kept (and named in a warning) unless `prune`. quantize="int8" stores SQ8 codes."""
    started = time.perf_counter()
    report = BuildReport(path=Path(root))

    def note(message: str) -> None:
        report.warnings.append(message)
        (warn or log.warning)(message)

    paths = list(paths)
    prefixes = [given_prefix(p) for p in paths]
    seen: set[str] = set()
    unreadable: set[str] = set()
    with IndexWriter(Path(root), model, spec, quantize, rebuild=True) as writer:
        live = writer.live_hashes()

        def changed() -> Iterator[Article]:
            for article in load_articles(paths, note, unreadable=unreadable.add):
                if article.id in seen:
                    note(f"skipped a second article with id {article.id!r} ({article.path})")
                    continue
                seen.add(article.id)
                if article.id in writer.tombstones:
                    report.skipped.append(article.id)
                    continue
                if live.get(article.id) == article.hash:
                    report.reused += writer.view.passage_count(article.id)
                    continue
                if not prune:
                    refuse_clash(writer, article, "built", prefixes)
                yield article

        total = count_articles(paths) if progress else None  # a total gives the bar its share done and an ETA
        data = prepare(changed(), writer, total, progress)
        if not seen:
            shown = ", ".join(str(p) for p in paths)
            raise QAError(f"no articles found in {shown}: give .txt, .md, .html or .jsonl files with text")
        if data is not None:
            writer.add(data)
            report.embedded = len(data.passages)
        report.removed = delete_gone(writer, live, seen, unreadable, note, None if prune else prefixes, report.kept)
        writer.commit()
    skipped_note(report, note)
    return finish(report, started)


def finish(report: BuildReport, started: float) -> BuildReport:
    """The report with the committed index's counts and the build's time."""
    counts = IndexReader(report.path).counts()
    report.articles, report.passages = counts["articles"], counts["passages"]
    report.seconds = time.perf_counter() - started
    return report


def _settings_of(root: Path, model: str | None = None) -> tuple[str, PassageSpec]:
    """The model and passage size an index was built with, so additions match it (defaults for a new index)."""
    from .commit import latest

    try:
        commit = latest(root)
    except (QAError, FileNotFoundError):
        commit = None
    if commit is None:
        return model or DEFAULT_MODEL, PassageSpec()
    return commit.model["name"], PassageSpec(**commit.passages)


class Buried(QAError):
    """Articles that were deleted on purpose, added again without --force."""

    status = 409


def add_articles(root: Path, articles: Iterable[Article], encoder=None, timeout: float | None = None,
                 model: str | None = None, force: bool = False) -> tuple[list[str], int]:
    """Add or replace articles (by id) in one commit; returns their ids and the generation that holds them. A new
    index is made with `model` (default all-MiniLM-L6-v2); an existing one keeps its own. An article deleted
    earlier (its id has a tombstone) is refused with Buried, naming it, unless `force` re-admits it."""
    root = Path(root)
    model, spec = _settings_of(root, model)
    with IndexWriter(root, model, spec, timeout=timeout, encoder=encoder) as writer:
        unique = list({a.id: a for a in articles}.values())  # the last copy of an id in one request wins
        buried = [a.id for a in unique if a.id in writer.tombstones]
        if buried and not force:
            shown = ", ".join(buried[:10]) + (f" and {len(buried) - 10} more" if len(buried) > 10 else "")
            raise Buried(f"{shown} deleted earlier, so nothing was added; add with --force (HTTP: ?force=true) "
                         "to re-admit on purpose")
        for article in unique:
            refuse_clash(writer, article, "added")
        for article in unique:
            writer.readmit(article.id)
        data = prepare(unique, writer)
        ids = writer.add(data) if data is not None else []
        return ids, writer.commit()


def delete_articles(root: Path, ids: Iterable[str], timeout: float | None = None) -> tuple[list[str], int]:
    """Delete articles by id in one commit; returns the ids that were not in the index and the generation."""
    root = Path(root)
    model, spec = _settings_of(root)
    with IndexWriter(root, model, spec, timeout=timeout) as writer:
        missing = writer.delete(ids)
        return missing, writer.commit()
