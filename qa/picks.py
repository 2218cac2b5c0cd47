"""Which retrieved passages to show: near-copies dropped.

A passage whose best sentence nearly repeats a picked one's (cosine >= NEAR_COPY: an overlapping window of the same
article, or a wire copy republished elsewhere) adds nothing to the list. Other outlets' statements of the answer are
not grouped here: what each source says comes from reading each article (qa/reports.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.store import IndexReader

from .answer import SentenceChoice, TermOverlap, choose_sentence
from .search import Candidate

POOL_EXTRA = 30
# Sentence cosines measured on the seeds: copies score >= 0.89, the two outlets' reports of the 2015 jet downing 0.64.
NEAR_COPY = 0.88


@dataclass
class Pick:
    """A retrieved passage kept for the answer: its record, best sentence and, for an answered question, the other
    outlets stating the same value."""

    candidate: Candidate
    record: dict
    choice: SentenceChoice
    vector: np.ndarray
    also_in: list

    def sentence_at(self, start: int, end: int) -> tuple[int, int]:
        """The passage sentence(s) covering [start, end), as offsets into the passage text."""
        return covering(self.candidate.sentences()[0], start, end, len(self.record["text"]))


def covering(spans: np.ndarray, start: int, end: int, length: int) -> tuple[int, int]:
    """The sentence(s) among spans that cover [start, end) of a text of the given length."""
    spans = spans.tolist()
    first = next((a for a, b in spans if b > start), 0)
    last = next((b for a, b in reversed(spans) if a < end), length)
    return min(first, start), max(last, end)


def pick_passages(
    index: IndexReader, candidates: list[Candidate], k: int, query_vector: np.ndarray, overlap: TermOverlap
) -> list[Pick]:
    """The top k passages with near-copies dropped."""
    picked: list[Pick] = []
    pick_vectors = np.empty((k, len(query_vector)), dtype=np.float32)  # row i: picked[i]'s answer sentence
    for candidate in candidates[: k + POOL_EXTRA]:
        if len(picked) >= k:
            break
        record = index.passage(candidate.row)
        spans, vectors, cosines = candidate.sentences()
        choice = choose_sentence(record["text"], spans, cosines, overlap)
        vector = vectors[choice.index] if choice.index is not None else query_vector
        if picked and _copies(picked, pick_vectors[: len(picked)], record, vectors, vector):
            continue
        pick_vectors[len(picked)] = vector
        picked.append(Pick(candidate, record, choice, vector, []))
    return picked


def _copies(picked: list[Pick], pick_vectors: np.ndarray, record: dict, vectors: np.ndarray, vector: np.ndarray) -> bool:
    """True when the passage adds nothing: an overlapping window of a picked article that answers with the same
    sentence, or another article with a sentence that nearly repeats a pick's answer sentence."""
    own = (pick_vectors @ vector).tolist()
    near = (vectors @ pick_vectors.T).max(0).tolist() if len(vectors) else [0.0] * len(picked)
    for pick, own_sim, any_sim in zip(picked, own, near):
        same_article = pick.record["article_idx"] == record["article_idx"]
        if (own_sim if same_article else any_sim) >= NEAR_COPY:
            return True
    return False
