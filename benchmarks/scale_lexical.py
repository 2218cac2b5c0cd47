"""The lexical side at scale: postings whose vocabulary grows as a real archive's does, and what BM25's global
statistics cost with them.

Replicating a sample's passages repeats its vocabulary, which would make any per-term table look free. So copies
of the sample get new terms the way a growing corpus does: by Heaps' law V = K T^b with Reuters RCV1's exponent
b = 0.49 (Manning, Raghavan and Schuetze, Introduction to Information Retrieval, 5.1.1), taken relative to the
sample (V(n copies) = V_sample n^b). Copy r renames the next V_sample ((r+1)^b - r^b) of the sample's hapax terms
to `term~r`, so its new terms are as rare as real new terms are; everything else repeats.

Two designs for the statistics a sharded index needs, both exact:
- the table each shard sent once per generation (every term's live df; the ingress summed them), measured here by
  `term_table` (the code that did it, kept only as this benchmark's baseline);
- the df of a question's terms only, asked per question (qa/shards.py): `IndexReader.document_frequencies`.
"""

from __future__ import annotations

import pickle
import sys
import time

import numpy as np

from benchmarks.common import percentiles
from index.lexical import Postings

HEAPS_B = 0.49


class GrowingTerms:
    """Term ids for copies of a sample's passages, with new terms per copy as Heaps' law grows a vocabulary."""

    def __init__(self, sample_terms: list[list[str]]):
        vocab: dict[str, int] = {}
        ids = [np.array([vocab.setdefault(w, len(vocab)) for w in words], dtype=np.int64) for words in sample_terms]
        self.names = list(vocab)
        self.lengths = np.array([len(x) for x in ids], dtype=np.int64)
        self.ids = np.concatenate(ids)
        self.rows = np.repeat(np.arange(len(ids)), self.lengths)
        df = np.bincount(np.unique(self.ids * len(ids) + self.rows) // len(ids), minlength=len(vocab))
        hapax = np.flatnonzero(df == 1)
        self.rank = np.full(len(vocab), len(vocab), dtype=np.int64)  # a hapax's place in the renaming order
        self.rank[np.random.default_rng(0).permutation(hapax)] = np.arange(len(hapax))
        self.hapax = hapax[np.argsort(self.rank[hapax])]

    def new_terms(self, copy: int) -> int:
        size = len(self.names)
        return 0 if copy == 0 else min(len(self.hapax), round(size * ((copy + 1) ** HEAPS_B - copy ** HEAPS_B)))

    def postings(self, first_copy: int, n: int) -> Postings:
        """Postings of n passages: copies first_copy, first_copy + 1, ... of the sample, the last one cut."""
        vocab = {name: i for i, name in enumerate(self.names)}
        per_copy = len(self.lengths)
        ids, rows, lengths = [], [], []
        for c in range(-(-n // per_copy)):
            copy, keep = first_copy + c, min(per_copy, n - c * per_copy)
            m = self.new_terms(copy)
            copy_ids = self.ids.copy()
            renamed = self.rank[copy_ids] < m
            base = len(vocab)
            copy_ids[renamed] = base + self.rank[copy_ids[renamed]]
            for j in range(m):
                vocab[f"{self.names[self.hapax[j]]}~{copy}"] = base + j
            within = self.rows < keep
            ids.append(copy_ids[within])
            rows.append(self.rows[within] + c * per_copy)
            lengths.append(self.lengths[:keep])
        return Postings._from_pairs(vocab, np.concatenate(ids), np.concatenate(rows), None, np.concatenate(lengths))


def term_table(segments: list[Postings]) -> dict:
    """The design replaced: every term's df over the segments, as one dict (what a shard sent per generation)."""
    df: dict[str, int] = {}
    for postings in segments:
        per_term = np.diff(postings.indptr)
        for term, i in postings.vocab.items():
            if per_term[i]:
                df[term] = df.get(term, 0) + int(per_term[i])
    return df


def dict_mb(table: dict) -> float:
    """A str -> int dict's memory with its keys and values, as a process that unpickled or loaded it holds it."""
    return (sys.getsizeof(table) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in table.items())) / 2**20


def statistics_cost(segments: list[Postings], query_terms: list[list[str]]) -> dict:
    """Both designs over the same segments: memory, bytes sent, seconds per generation, and per question."""
    from index.lexical import document_frequencies

    vocab_mb = sum(dict_mb(p.vocab) for p in segments)  # each segment's own vocabulary, as Segment loads it
    t = time.perf_counter()
    table = term_table(segments)
    table_s = time.perf_counter() - t
    table_mb, terms = dict_mb(table), len(table)  # terms some passage holds
    sent_mb = len(pickle.dumps(table, protocol=5)) / 2**20
    del table
    parts = [(p, None) for p in segments]
    for words in query_terms:
        document_frequencies(parts, words)
    per_question = [1000 * _seconds(document_frequencies, parts, words) for words in query_terms]
    return {"segments": len(segments), "passages": int(sum(len(p.lengths) for p in segments)),
            "terms": terms,
            "vocab_dicts_mb": round(vocab_mb, 1), "table_mb": round(table_mb, 1), "table_sent_mb": round(sent_mb, 1),
            "table_seconds": round(table_s, 2), "query_df_ms": percentiles(per_question),
            "postings_mb": round(sum(p.docs.nbytes + p.freqs.nbytes + p.indptr.nbytes + p.lengths.nbytes
                                     for p in segments) / 2**20, 1)}


def _seconds(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def archive_scale(grow: GrowingTerms, query_terms: list[list[str]], units: int, unit: int = 1_000_000) -> list[dict]:
    """The lexical side alone at 1..units x `unit` passages, one segment per unit (no vectors: the statistics
    depend on postings only)."""
    copies = -(-unit // len(grow.lengths))  # whole copies per segment keep the copy numbering simple
    segments, rows = [], []
    for m in range(units):
        segments.append(grow.postings(m * copies, copies * len(grow.lengths)))
        rows.append(statistics_cost(segments, query_terms))
        print(rows[-1], flush=True)
    return rows
