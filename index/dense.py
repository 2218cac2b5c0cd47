"""FAISS per segment: which index type for how many vectors, and how to build one."""

from __future__ import annotations

import math

import numpy as np

# Exact search up to here: measured single-threaded on the busy 2-core machine (benchmarks/scale.py), Flat took
# 0.4 ms at 10k passages, 0.95 ms at 20k, 6.8 ms at 50k and 14 ms at 100k, IVF-SQ8 0.1-0.4 ms over that range.
FLAT_MAX = 20_000
# IVF lists probed per query. At 1M passages (IVF2048,SQ8, 2x exact rerank) dense recall@10 against exact search
# measured 0.92 at 16, 0.96 at 32, 0.99 at 64, 0.997 at 128: 64 keeps a margin over the 0.95 goal.
DEFAULT_NPROBE = 64
# Candidates explored per query in HNSW indexes: builds no longer write them, but earlier ones did beyond 50k.
DEFAULT_EF_SEARCH = 64
# Approximate or int8 indexes return RERANK * k candidates, ranked again by the exact float32 vectors.
RERANK = 2
QUANTIZE = ("int8",)


def faiss_kind(n: int, quantize: str | None = None) -> str:
    """Exact search while it is cheap, IVF with int8 codes beyond; `quantize="int8"` also shrinks exact ones."""
    if quantize not in (None, *QUANTIZE):
        raise ValueError(f"quantize must be one of {QUANTIZE} or None, got {quantize!r}")
    if n > FLAT_MAX:
        return "ivf-sq8"
    return "sq8" if quantize else "flat"


def faiss_factory(kind: str, n: int) -> str:
    """The FAISS index_factory string for a kind at n vectors."""
    if kind == "ivf-sq8":
        return f"IVF{_nlist(n)},SQ8"
    return {"flat": "Flat", "sq8": "SQ8"}[kind]


def _nlist(n: int) -> int:
    """About 2*sqrt(n) lists, a power of two, each with the >= 39 training points FAISS k-means asks for."""
    target = 2 ** round(math.log2(2 * math.sqrt(max(n, 1))))
    return max(1, min(target, n // 39))


def faiss_index(vectors: np.ndarray, factory: str):
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(_training_sample(vectors, factory))
    index.add(vectors)
    return index


def _training_sample(vectors: np.ndarray, factory: str) -> np.ndarray:
    """40 points per IVF list is what k-means needs; more only slows the 1M build."""
    if not factory.startswith("IVF"):
        return vectors
    size = 40 * int(factory[3 : factory.index(",")])
    if len(vectors) <= size:
        return vectors
    rows = np.sort(np.random.default_rng(0).choice(len(vectors), size, replace=False))
    return vectors[rows]


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first; ties go to the lower index."""
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k)[:k]
    part = part[np.lexsort((part, -scores[part]))]
    return part


def single_thread_faiss() -> None:
    """One FAISS thread per query: concurrency comes from requests and workers, and two OpenMP threads waiting for
    each other on busy cores made a 10k-passage Flat search take 64 ms instead of 0.3 ms (benchmarks/scale.py)."""
    import faiss

    faiss.omp_set_num_threads(1)
