"""Which retrieved passages to show: near-copies dropped, other outlets' statements of the same fact grouped.

A passage whose best sentence nearly repeats a picked one (cosine >= NEAR_COPY) adds nothing; one from another
article that restates a pick's sentence (cosine >= CORROBORATES) and repeats a name or number of it, not one the
question already held, is listed under that pick instead of taking a rank of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from index.store import IndexReader, segment_max

from .answer import Corroboration, SentenceChoice, Source, TermOverlap, choose_sentence
from .search import Candidate

POOL_EXTRA = 30
# Sentence cosines measured on the seeds: the two reports of the 2015 jet downing score 0.64, two different
# Putin-Erdogan meetings 0.63, so a paraphrase also has to repeat the answer span; copies score >= 0.89.
CORROBORATES = 0.6
NEAR_COPY = 0.88


@dataclass
class Pick:
    """A retrieved passage kept for the answer: its record, best sentence and the other outlets grouped under it."""

    candidate: Candidate
    record: dict
    choice: SentenceChoice
    vector: np.ndarray
    also_in: list

    def sentence_at(self, start: int, end: int) -> tuple[int, int]:
        """The passage sentence(s) covering [start, end), as offsets into the passage text."""
        spans = self.candidate.sentences()[0].tolist()
        first = next((a for a, b in spans if b > start), 0)
        last = next((b for a, b in reversed(spans) if a < end), len(self.record["text"]))
        return min(first, start), max(last, end)


def _keys(text: str) -> set[str]:
    """The numbers and names of a text: what a sentence must repeat to state the same fact."""
    return {w for w in re.findall(r"\w+", text) if w[0].isdigit() or w[0].isupper()}


def shares_key(text: str, sentence: str, question: str = "") -> bool:
    """True when a sentence repeats a number or name of text that the question did not already hold."""
    keys = _keys(text) - _keys(question)
    return any(re.search(rf"\b{re.escape(w)}\b", sentence) for w in keys)


def pick_passages(
    index: IndexReader, candidates: list[Candidate], k: int, query_vector: np.ndarray, overlap: TermOverlap, question: str
) -> list[Pick]:
    """The top k passages with near-copies dropped and other outlets' statements of the same fact grouped."""
    picked: list[Pick] = []
    pick_vectors = np.empty((k, len(query_vector)), dtype=np.float32)  # row i: picked[i]'s answer sentence
    pool = candidates[: k + POOL_EXTRA]
    for i, candidate in enumerate(pool):
        if len(picked) >= k:
            _corroborate(index, picked, pick_vectors, pool[i:], question)
            break
        record = index.passage(candidate.row)
        spans, vectors, cosines = candidate.sentences()
        choice = choose_sentence(record["text"], spans, cosines, overlap)
        vector = vectors[choice.index] if choice.index is not None else query_vector
        if _place(picked, pick_vectors, record, spans, vectors, vector, question):
            continue
        pick_vectors[len(picked)] = vector
        picked.append(Pick(candidate, record, choice, vector, []))
    return picked[:k]


def _corroborate(index: IndexReader, picked: list[Pick], pick_vectors: np.ndarray, rest: list[Candidate], question: str) -> None:
    """Once the picks are full, later candidates can only corroborate one. A single product over all their
    sentences finds the few that come close enough to any pick; only those are looked at one by one."""
    vectors = [candidate.sentences()[1] for candidate in rest]
    sizes = [len(v) for v in vectors]
    if not any(sizes):
        return
    nearest = (np.concatenate(vectors) @ pick_vectors.T).max(axis=1)
    close = segment_max(nearest, sizes) >= CORROBORATES
    for n in np.flatnonzero(close).tolist():
        spans, sentence_vectors, _ = rest[n].sentences()
        _place(picked, pick_vectors, index.passage(rest[n].row), spans, sentence_vectors, None, question)


def _place(
    picked: list[Pick], pick_vectors: np.ndarray, record: dict, spans: np.ndarray, vectors: np.ndarray,
    vector: np.ndarray | None, question: str,
) -> bool:
    """True when the passage adds nothing new: a near-copy of a pick, or (from another article) its corroboration.

    `pick_vectors` holds the picks' answer sentences in its first len(picked) rows; `vector` is the passage's own
    answer sentence; without it only corroboration is checked.
    """
    if not picked:
        return False
    pick_vectors = pick_vectors[: len(picked)]
    own = (pick_vectors @ vector).tolist() if vector is not None else None
    sims = vectors @ pick_vectors.T if len(vectors) else np.zeros((1, len(picked)))
    best_j, best_sim = sims.argmax(0).tolist(), sims.max(0).tolist()
    for n, pick in enumerate(picked):
        if pick.record["article_idx"] == record["article_idx"]:
            if own is not None and own[n] >= NEAR_COPY:
                return True  # an overlapping window answering with the same sentence
            continue
        if not len(vectors) or best_sim[n] < CORROBORATES:
            continue
        start, end = spans[best_j[n]].tolist()
        other = record["text"][start:end]
        own_sentence = pick.record["text"][pick.choice.start : pick.choice.end]
        if best_sim[n] >= NEAR_COPY or shares_key(own_sentence, other, question):
            if all(c.source.id != record["source"]["id"] for c in pick.also_in):
                at = record["start"]
                pick.also_in.append(Corroboration(record["id"], other, Source(**record["source"]), at + start, at + end))
            return True
    return False
