"""Building an index from files, on this machine: the build plan (index/plan.py) with a local embedding stage.

The stage streams: a worker thread reads, cleans and cuts the next chunk of articles while the encoder embeds the
current one (ONNX Runtime releases the GIL, so both cores stay busy), and each chunk keeps only compact results
(int32 offsets, float16 sentence vectors, passage terms). Memory grows with the index, not with the tokenised corpus.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from .changes import NameClash, refuse_clash  # noqa: F401  (NameClash: raised from here, caught by callers)
from .chunks import CHUNK_CHARS, Parts, Planner, bm25_text, chunked, passage_vectors  # noqa: F401  (benchmarks)
from .documents import Article
from .encoder import DEFAULT_MODEL, TokenCounter
from .errors import QAError
from .files import count_articles
from .passages import PassageSpec
from .plan import BuildPlan, BuildReport, run_build  # noqa: F401  (BuildReport: callers name it from here)
from .segment import SegmentData
from .writer import IndexWriter

T = TypeVar("T")


_END = object()


def _ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of an iterator, each next one computed in a worker thread while the caller uses the current."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-build") as pool:
        pending = pool.submit(next, items, _END)
        while (item := pending.result()) is not _END:
            pending = pool.submit(next, items, _END)
            yield item


def prepare(articles: Iterable[Article], writer: IndexWriter, total: int | None = None, progress: bool = False) -> SegmentData | None:
    """Articles cut into passages and embedded, ready to be one segment; None when there were none.

    The build streams: a worker thread reads, cleans and cuts the next chunk of articles while the encoder embeds the
    current one (ONNX Runtime releases the GIL, so both cores stay busy), and each chunk keeps only compact results.
    """
    from tqdm import tqdm

    planner = Planner(TokenCounter(writer.model_folder), writer.spec, writer.dim)
    parts = Parts()
    chunks = (planner.plan(first, batch) for first, batch in chunked(articles, CHUNK_CHARS))
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
    paths = list(paths)

    def embed(plan: BuildPlan) -> None:
        total = count_articles(paths) if progress else None  # a total gives the bar its share done and an ETA
        data = prepare(plan.scan(), plan.writer, total, progress)
        if data is not None:
            plan.writer.add(data)
            plan.report.embedded = len(data.passages)

    return run_build(paths, root, embed, model, spec, warn, quantize, prune)


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
