"""Building an index from files, re-embedding only articles that are new or changed."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .documents import Article, load_articles
from .encoder import DEFAULT_MODEL, TokenCounter, open_encoder, prepare_onnx
from .errors import QAError
from .passages import PassageSpec, group_units, split_units
from .store import IndexReader, current_version, read_manifest, write_index
from .terms import terms

log = logging.getLogger(__name__)


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


def bm25_text(article: Article, start: int, end: int) -> str:
    """What BM25 indexes for a passage: the headline gives every passage its article's topic words."""
    text = article.text[start:end]
    return text if not article.title or text.startswith(article.title) else f"{article.title}\n{text}"


def passage_vectors(unit_vectors: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Each passage as the normalised mean of its sentence vectors, so only sentences are ever embedded."""
    ends = windows[:, 0] + windows[:, 1]
    # Prefix sums give every window's sum at once, overlapping windows included.
    cumulative = np.vstack([np.zeros((1, unit_vectors.shape[1]), np.float32), np.cumsum(unit_vectors, axis=0, dtype=np.float32)])
    sums = cumulative[ends] - cumulative[windows[:, 0]]
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def _reusable(root: Path, model: str, spec: PassageSpec) -> IndexReader | None:
    manifest = read_manifest(root)
    if not manifest or manifest["model"]["name"] != model or manifest.get("passages") != spec.as_dict():
        return None
    try:
        return IndexReader(root)
    except QAError:
        return None


def build_index(
    paths: Iterable[Path | str],
    root: Path,
    model: str = DEFAULT_MODEL,
    spec: PassageSpec = PassageSpec(),
    warn: Callable[[str], None] | None = None,
    progress: bool = False,
) -> BuildReport:
    """Build or update the index at root from the given files and folders."""
    started = time.perf_counter()
    report = BuildReport(path=Path(root))

    def note(message: str) -> None:
        report.warnings.append(message)
        (warn or log.warning)(message)

    paths = list(paths)
    articles = list(load_articles(paths, note))
    if not articles:
        shown = ", ".join(str(p) for p in paths)
        raise QAError(f"no articles found in {shown}: give .txt, .md, .html or .jsonl files with text")
    old = _reusable(Path(root), model, spec)
    with tempfile.TemporaryDirectory(prefix="qa-model-") as scratch:
        model_folder = old.folder / "model" if old else Path(scratch) / "model"
        if old is None:
            prepare_onnx(model, model_folder)
        count = TokenCounter(model_folder)
        units: list[tuple[int, int, int]] = []
        unit_vectors: list[np.ndarray | None] = []
        passages: list[tuple[int, int, int, int, int, int]] = []
        todo: list[int] = []
        old_hashes = old.manifest["articles"] if old else {}
        for idx, article in enumerate(articles):
            first = len(units)
            if old is not None and old_hashes.get(article.id) == article.hash:
                old_passages = old.article_passages(old.article_index[article.id])
                old_first = int(old_passages[0, 4])
                old_units = range(old_first, int(old_passages[-1, 4] + old_passages[-1, 5]))
                units.extend((idx, int(old.units[u, 1]), int(old.units[u, 2])) for u in old_units)
                unit_vectors.extend(np.asarray(old.unit_vectors[u]) for u in old_units)
                windows = [(int(p[4]) - old_first, int(p[5])) for p in old_passages]
                report.reused += len(windows)
            else:
                spans, sizes = split_units(article.text, count, spec.max_tokens)
                todo.extend(range(first, first + len(spans)))
                units.extend((idx, a, b) for a, b in spans)
                unit_vectors.extend([None] * len(spans))
                windows = group_units(sizes, spec)
                report.embedded += len(windows)
            for ordinal, (start_unit, n) in enumerate(windows):
                u0, u1 = first + start_unit, first + start_unit + n - 1
                passages.append((idx, ordinal, units[u0][1], units[u1][2], u0, n))
        if todo:
            encoder = open_encoder(model_folder, model)
            fresh = encoder.encode([articles[units[u][0]].text[units[u][1] : units[u][2]] for u in todo], progress=progress)
            for u, vector in zip(todo, fresh):
                unit_vectors[u] = vector
        report.removed = len(set(old_hashes) - {a.id for a in articles})
        # Sentence vectors are stored as float16; round fresh ones the same way so rebuilds are reproducible.
        unit_matrix = np.vstack(unit_vectors).astype(np.float16).astype(np.float32)
        passage_rows = np.array(passages, dtype=np.int32).reshape(-1, 6)
        vectors = passage_vectors(unit_matrix, passage_rows[:, 4:6])
        passage_terms = (terms(bm25_text(articles[p[0]], p[2], p[3])) for p in passages)
        manifest = {"model": {"name": model, "dim": int(unit_matrix.shape[1])}, "passages": spec.as_dict()}
        if old is not None:
            old.close()
        write_index(
            Path(root), articles, passage_rows, vectors, np.array(units, dtype=np.int32).reshape(-1, 3),
            unit_matrix, passage_terms, model_folder, manifest,
        )
    report.articles, report.passages = len(articles), len(passages)
    report.seconds = time.perf_counter() - started
    return report


def index_exists(root: Path) -> bool:
    """True when root holds a complete, loadable index version."""
    return current_version(Path(root)) is not None
