"""Articles cut into sentences and passages, chunk by chunk, and chunks gathered into one segment's data.

Both embedding stages use these: a local build (index/build.py) and a Ray build (index/ray_build.py), so a passage
and its vector come out the same whichever embedded them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from .documents import Article
from .encoder import TokenCounter
from .lexical import Postings
from .passages import PassageSpec, fit_units, group_units, sentences
from .segment import SegmentData
from .terms import terms

# Text per chunk: about a thousand sentences, enough for full, length-sorted encoder batches with little padding,
# and small enough that the next chunk's preparation overlaps most of the encoding.
CHUNK_CHARS = 100_000


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


def chunked(articles: Iterable[Article], size: int) -> Iterator[tuple[int, list[Article]]]:
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


class Parts:
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
