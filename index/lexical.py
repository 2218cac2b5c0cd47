"""Lexical postings per segment, scored with BM25 at query time from statistics over the whole live index.

Why not bm25s (used before segments) or Tantivy: bm25s bakes each term's IDF into its stored scores when it
indexes, so a segment scored alone would rank by its own statistics, and a delete could never lower a document
frequency. Tantivy computes statistics across segments but counts deleted documents until a merge, and would be a
second store of every passage beside ours. Plain postings (term -> passage rows and term frequencies) keep the
counts the formula needs, so N, the average length and every df are taken over the live set at query time, deletes
included: a ranking over 20 segments equals the ranking of one index of the same articles. Merging is
concatenation, and nothing is re-tokenised.

The formula is Lucene's BM25, as bm25s's default: idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
tf part = tf / (tf + k1 (1 - b + b dl / avgdl)), k1 = 1.5, b = 0.75; a term repeated in the question counts twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

K1, B = 1.5, 0.75
VOCAB, INDPTR, DOCS, FREQS, LENGTHS = "vocab.json", "indptr.npy", "docs.npy", "freqs.npy", "lengths.npy"


class Postings:
    """One segment's postings: for each term, the passage rows holding it and how often; and each row's length."""

    def __init__(self, vocab: dict[str, int], indptr: np.ndarray, docs: np.ndarray, freqs: np.ndarray, lengths: np.ndarray):
        self.vocab, self.indptr, self.docs, self.freqs, self.lengths = vocab, indptr, docs, freqs, lengths

    @classmethod
    def from_terms(cls, passage_terms: Iterable[Sequence[str]]) -> "Postings":
        """Postings of passages given as term lists, row i being the i-th list."""
        vocab: dict[str, int] = {}
        term_ids: list[int] = []
        lengths: list[int] = []
        for words in passage_terms:
            lengths.append(len(words))
            term_ids.extend([vocab.setdefault(w, len(vocab)) for w in words])
        lengths_array = np.asarray(lengths, dtype=np.int64)
        rows = np.repeat(np.arange(len(lengths_array)), lengths_array)
        return cls._from_pairs(vocab, np.asarray(term_ids, dtype=np.int64), rows, None, lengths_array)

    @classmethod
    def _from_pairs(cls, vocab: dict[str, int], term_ids: np.ndarray, rows: np.ndarray, freqs: np.ndarray | None,
                    lengths: np.ndarray) -> "Postings":
        """CSR postings from (term, row) pairs: repeated pairs are counted when freqs is None, else unique."""
        n = max(len(lengths), 1)
        keys = term_ids * n + rows
        if freqs is None:
            keys, counts = np.unique(keys, return_counts=True)
        else:
            order = np.argsort(keys, kind="stable")
            keys, counts = keys[order], freqs[order]
        terms_of = keys // n
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms_of, minlength=len(vocab)), out=indptr[1:])
        return cls(vocab, indptr, (keys % n).astype(np.int32), counts.astype(np.int32), lengths.astype(np.int32))

    @classmethod
    def merged(cls, parts: Sequence[tuple["Postings", np.ndarray]]) -> "Postings":
        """One segment's postings from several, each with the new row of every old row (-1: dropped)."""
        vocab: dict[str, int] = {}
        term_ids, rows, freqs, lengths = [], [], [], []
        for postings, new_rows in parts:
            lengths.append(postings.lengths[new_rows >= 0])
            mapping = np.fromiter((vocab.setdefault(t, len(vocab)) for t in postings.vocab), np.int64, len(postings.vocab))
            # vocab maps each term to its id; postings are stored in id order, so terms come out in that order too.
            order = np.argsort(np.fromiter(postings.vocab.values(), np.int64, len(postings.vocab)))
            per_term = np.diff(postings.indptr)
            ids = np.repeat(mapping[order], per_term)
            new = new_rows[postings.docs]
            keep = new >= 0
            term_ids.append(ids[keep])
            rows.append(new[keep].astype(np.int64))
            freqs.append(postings.freqs[keep])
        cat = lambda xs, t: np.concatenate(xs + [np.zeros(0, t)])  # noqa: E731
        return cls._from_pairs(vocab, cat(term_ids, np.int64), cat(rows, np.int64), cat(freqs, np.int32), cat(lengths, np.int32))

    def write(self, folder: Path) -> None:
        (folder / VOCAB).write_text(json.dumps(sorted(self.vocab, key=self.vocab.__getitem__), ensure_ascii=False))
        for name, array in ((INDPTR, self.indptr), (DOCS, self.docs), (FREQS, self.freqs), (LENGTHS, self.lengths)):
            np.save(folder / name, array)

    @classmethod
    def load(cls, folder: Path) -> "Postings":
        vocab = {term: i for i, term in enumerate(json.loads((folder / VOCAB).read_text()))}
        arrays = (np.asarray(np.load(folder / name, mmap_mode="r")) for name in (INDPTR, DOCS, FREQS, LENGTHS))
        return cls(vocab, *arrays)

    def rows(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding a term and its frequency in each; empty when the segment lacks the term."""
        i = self.vocab.get(term)
        if i is None:
            return self.docs[:0], self.freqs[:0]
        a, b = self.indptr[i], self.indptr[i + 1]
        return self.docs[a:b], self.freqs[a:b]


def idf(n: int, df: int) -> float:
    return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


def document_frequencies(parts: Sequence[tuple[Postings, np.ndarray | None]], query_terms: Iterable[str]) -> dict[str, int]:
    """Live passages holding each term over all segments; a segment's live mask None means all its rows live."""
    out: dict[str, int] = {}
    for term in set(query_terms):
        df = 0
        for postings, live in parts:
            rows, _ = postings.rows(term)
            df += len(rows) if live is None else int(np.count_nonzero(live[rows]))
        if df:
            out[term] = df
    return out


def bm25_scores(postings: Postings, query_terms: Sequence[str], weights: dict[str, float], avgdl: float) -> np.ndarray:
    """BM25 of every row of one segment, with the index-wide IDF weights and average length."""
    scores = np.zeros(len(postings.lengths), dtype=np.float32)
    avgdl = max(avgdl, 1e-9)
    for term in query_terms:
        weight = weights.get(term)
        if weight is None:
            continue
        rows, tf = postings.rows(term)
        if len(rows):  # the length part for the matched rows only: a segment may hold a million
            scores[rows] += weight * tf / (tf + K1 * (1 - B + B * postings.lengths[rows] / avgdl))
    return scores
