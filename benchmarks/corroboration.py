"""Where the corroboration thresholds come from: cosine of every cross-article sentence pair in an index.

    .venv/bin/python -m benchmarks.corroboration [--index PATH] [--top 12]

Prints how many cross-article sentence pairs fall in each cosine band, and the closest pairs with their text, so
the bands `qa/picks.py` uses (NEAR_COPY for copies, CORROBORATES plus a shared name or number for the same fact
told twice) can be checked by eye on any corpus.
"""

from __future__ import annotations

import argparse

import numpy as np

from index.store import IndexReader
from qa.picks import CORROBORATES, NEAR_COPY
from qa.settings import Settings

from .common import table

BANDS = [0.0, 0.4, 0.5, CORROBORATES, 0.7, 0.8, NEAR_COPY, 1.01]


def live_sentences(reader: IndexReader) -> tuple[np.ndarray, np.ndarray]:
    """Every sentence of a live article over all segments: rows (article index in the view, start, end) and vectors."""
    units, vectors = [], []
    for segment, offset, gone in zip(reader.segments, reader.article_offsets, reader.deleted):
        keep = ~np.isin(segment.units[:, 0], list(gone))
        rows = np.array(segment.units[keep], dtype=np.int64)
        rows[:, 0] += offset
        units.append(rows)
        vectors.append(np.asarray(segment.unit_vectors[keep], dtype=np.float32))
    return np.concatenate(units + [np.zeros((0, 3), np.int64)]), np.concatenate(vectors + [np.zeros((0, reader.dim), np.float32)])


def sentence_pairs(units: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, cosine) for every pair of sentences from different articles, i < j."""
    article = units[:, 0]
    sims = vectors @ vectors.T
    i, j = np.triu_indices(len(vectors), k=1)
    keep = article[i] != article[j]
    return i[keep], j[keep], sims[i[keep], j[keep]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=None)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    reader = IndexReader(Settings.from_env(index=args.index).index)
    units, vectors = live_sentences(reader)
    i, j, cos = sentence_pairs(units, vectors)
    counts, _ = np.histogram(cos, bins=BANDS)
    print(table([(f"{lo:.2f}-{hi:.2f}", int(n)) for lo, hi, n in zip(BANDS, BANDS[1:], counts)], ("cosine", "pairs")))

    def text(unit: int) -> str:
        article, start, end = (int(v) for v in units[unit])
        return reader.text(article)[start:end][:90]

    order = np.argsort(-cos)[: args.top]
    print(table([(round(float(cos[o]), 3), text(i[o]), text(j[o])) for o in order], ("cosine", "sentence", "other article")))


if __name__ == "__main__":
    main()
