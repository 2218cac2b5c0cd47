"""The 1M-passage scale run: FAISS index choice, knobs, recall against exact search, RAM, load time, BM25.

    .venv/bin/python -m benchmarks.scale [--n 1000000] [--nprobe 8,16,32,64] [--out var/bench/scale.json]

What is real and what is synthetic:
- Texts are real: Reuters-21578 stories (a sample of --stories), cut into passages by the project's own build.
  The index holds that sample's passages replicated until there are --n, each copy under a distinct article id.
- Copy 0 of each passage carries the project's real embeddings (build_index on the sample). Every other copy gets
  synthetic vectors: each real sentence vector plus Gaussian noise, renormalised, and the passage vector the mean of
  those, as the build computes it. The noise is calibrated so that copies of one passage are as similar to each
  other as a real passage is to its nearest passage from another story (median cosine).
- Queries are real: held-out Reuters headlines (stories outside the sample) embedded with the project's encoder.
- The index is one segment written by index.segment.write_segment under a commit, as a build writes it, and read
  by IndexReader; only the embedding of 1M texts is skipped. Exact search (FAISS Flat over the same vectors) is the
  baseline in the same run.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import PROJECT, machine, percentiles, reuters_article, reuters_stories, table, timed
from index import dense as dense_config
from index.build import bm25_text, build_index, passage_vectors
from index.commit import Commit, generations, write_commit
from index.documents import Article
from index.encoder import copy_model, open_encoder
from index.segment import Segment, SegmentData, write_segment
from index.store import IndexReader, single_thread_faiss
from index.terms import terms
from qa.search import hybrid_search

from .scale_lexical import GrowingTerms, archive_scale, statistics_cost
from .scale_serve import add_and_merge, http_paths

WORK = PROJECT / "var" / "bench" / "scale"
SWEEP = (5_000, 10_000, 20_000, 50_000, 100_000)
SIGMAS = np.arange(0.25, 3.01, 0.125)


@dataclass
class Sample:
    """The real part: a built index over some Reuters stories, and held-out headlines as queries."""

    reader: IndexReader
    terms: list[list[str]]
    query_vectors: np.ndarray
    query_terms: list[list[str]]

    @property
    def segment(self) -> Segment:
        """The sample's arrays: a fresh build writes one segment, so its local rows are the view's rows."""
        return only_segment(self.reader)


def only_segment(reader: IndexReader) -> Segment:
    if len(reader.segments) != 1:
        raise RuntimeError(f"{reader.root} has {len(reader.segments)} segments; this benchmark expects one")
    return reader.segments[0]


# ---------------------------------------------------------------- the real sample


def load_sample(work: Path, stories: int, queries: int) -> Sample:
    """Build (once, cached under var/bench) the real index of the first `stories` stories; embed held-out headlines."""
    picked = list(reuters_stories(stories + queries))
    folder = work / f"sample-{stories}"
    # No commit: absent, or a cache in the format before segments, which the build replaces.
    if not generations(folder / "index"):
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / "stories.jsonl"
        source.write_text("".join(json.dumps(reuters_article(s)) + "\n" for s in picked[:stories]))
        build_index([source], folder / "index")
    reader = IndexReader(folder / "index")
    encoder = open_encoder(reader.model_folder, reader.manifest["model"]["name"])
    headlines = [s["title"] for s in picked[stories:] if s["title"].strip()]
    return Sample(reader, _sample_terms(reader), encoder.encode(headlines), [terms(h) for h in headlines])


def _sample_terms(reader: IndexReader) -> list[list[str]]:
    """BM25 terms of each sample passage, as the build derives them."""
    out = []
    for article_idx, _, start, end, _, _ in np.asarray(only_segment(reader).passages):
        meta = reader.articles[int(article_idx)]
        out.append(terms(bm25_text(Article(id=meta["id"], text=reader.text(int(article_idx)), title=meta["title"]), int(start), int(end))))
    return out


# ---------------------------------------------------------------- the synthetic copies


def _perturb(units: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = units + rng.standard_normal(units.shape, dtype=np.float32) * np.float32(sigma / np.sqrt(units.shape[1]))
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return noisy.astype(np.float16)


def calibrate_sigma(sample: Sample, rng: np.random.Generator) -> tuple[float, float]:
    """The noise whose copies are as alike as real passages are to their nearest other-story passage."""
    segment = sample.segment
    vectors = np.asarray(segment.vectors)[:3000]
    owner = np.asarray(segment.passages[: len(vectors), 0])
    sims = vectors @ vectors.T
    sims[owner[:, None] == owner[None, :]] = -1.0
    target = float(np.median(sims.max(axis=1)))
    units = np.asarray(segment.unit_vectors, dtype=np.float32)
    windows = np.asarray(segment.passages[: len(vectors), 4:6])

    def sibling_cosine(sigma: float) -> float:
        a, b = (passage_vectors(_perturb(units, sigma, rng).astype(np.float32), windows) for _ in range(2))
        return float(np.median((a * b).sum(axis=1)))

    sigma = min(SIGMAS, key=lambda s: abs(sibling_cosine(s) - target))
    return float(sigma), target


@dataclass
class Corpus:
    articles: list[Article]
    passages: np.ndarray
    vectors: np.ndarray
    units: np.ndarray
    unit_vectors: np.ndarray
    copies: int


def replicate(sample: Sample, n: int, sigma: float, scratch: Path, rng: np.random.Generator) -> Corpus:
    """n passages: whole copies of the sample, copy-major, cut after the n-th passage."""
    reader, segment = sample.reader, sample.segment
    base_passages, base_units = np.asarray(segment.passages), np.asarray(segment.units)
    base_vectors = np.asarray(segment.unit_vectors)
    n_art, n_pass, n_unit = len(reader.articles), len(base_passages), len(base_units)
    copies = -(-n // n_pass)
    passages = np.concatenate([base_passages + [[r * n_art, 0, 0, 0, r * n_unit, 0]] for r in range(copies)])[:n]
    used_units = int(passages[-1, 4] + passages[-1, 5])
    used_articles = int(passages[-1, 0]) + 1
    units = np.concatenate([base_units + [[r * n_art, 0, 0]] for r in range(copies)])[:used_units]
    unit_vectors = np.lib.format.open_memmap(scratch / "unit_vectors.npy", "w+", np.float16, (used_units, base_vectors.shape[1]))
    vectors = np.empty((n, base_vectors.shape[1]), np.float32)
    for r in range(copies):
        block = base_vectors if r == 0 else _perturb(base_vectors.astype(np.float32), sigma, rng)
        u0, p0 = r * n_unit, r * n_pass
        unit_vectors[u0 : u0 + n_unit] = block[: max(0, min(n_unit, used_units - u0))]
        vectors[p0 : p0 + n_pass] = passage_vectors(block.astype(np.float32), base_passages[:, 4:6])[: max(0, min(n_pass, n - p0))]
    return Corpus(_articles(reader, used_articles), passages, vectors, units, unit_vectors, copies)


def _articles(reader: IndexReader, count: int) -> list[Article]:
    texts = [reader.text(i) for i in range(len(reader.articles))]
    out = []
    for idx in range(count):
        meta = reader.articles[idx % len(texts)]
        fields = {key: meta[key] for key in ("title", "outlet", "published")}
        out.append(Article(id=f"{meta['id']}.{idx // len(texts)}", text=texts[idx % len(texts)], **fields))
    return out


# ---------------------------------------------------------------- measuring


def _status(key: str) -> float:
    """A /proc/self/status memory figure in MiB."""
    match = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(match.group(1)) / 1024 if match else float("nan")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: restart VmHWM from the current RSS


def write_index(root: Path, corpus: Corpus, sample: Sample) -> dict:
    """The corpus as a one-segment index at root, written as a build writes it: the segment (postings, FAISS,
    arrays, articles), the sample's model beside it and commit 1. Returns seconds per part. The postings' copies
    gain new terms as a growing archive does (benchmarks/scale_lexical.py)."""
    started = time.perf_counter()
    postings = GrowingTerms(sample.terms).postings(0, len(corpus.passages))
    lexical = time.perf_counter() - started
    data = SegmentData(corpus.articles, corpus.passages, corpus.vectors, corpus.units, corpus.unit_vectors, postings)
    name, meta = write_segment(root, data)
    copy_model(sample.reader.model_folder, root / "model")
    base = sample.reader.commit  # the model and passage size the copied passages and vectors come from
    entry = {"name": name, "articles": meta["articles"], "passages": meta["passages"], "deleted": []}
    write_commit(root, Commit(generation=1, model=base.model, passages=base.passages, model_dir="model", segments=[entry]))
    return {"dense": meta["dense_seconds"], "bm25": round(lexical, 3)}


def write(corpus: Corpus, sample: Sample, root: Path) -> dict:
    """write_index over the corpus, with wall time and peak RSS."""
    shutil.rmtree(root, ignore_errors=True)  # a kept index from an earlier run: commit 1 must be the only one
    root.mkdir(parents=True)
    _reset_peak()
    before = _status("VmRSS")
    ms, seconds = timed(write_index, root, corpus, sample)
    return {"seconds": ms / 1000, "rss_before_mb": before, "peak_rss_mb": _status("VmHWM"), "build_seconds": seconds}


def _memory() -> dict:
    return {key: _status(key) for key in ("VmRSS", "RssAnon", "RssFile")}


def probe(root: str, queries: str) -> None:
    """In a fresh process, as a server would: load the index, answer every query, print load time and RSS."""
    data = np.load(queries, allow_pickle=True)
    single_thread_faiss()  # as Engine.open does
    started = time.perf_counter()
    reader = IndexReader(Path(root))
    out = {"load_seconds": time.perf_counter() - started, "loaded": _memory()}
    for vector, words in zip(data["vectors"], data["terms"]):
        hybrid_search(reader, vector, list(words), 10)
    out["after_queries"] = _memory()
    print(json.dumps(out))


def fresh_process(root: Path, sample: Sample, scratch: Path) -> dict:
    """Load time and RSS of a process that only serves, not of this one that also built the index."""
    queries = scratch / "queries.npz"
    np.savez(queries, vectors=sample.query_vectors, terms=np.array(sample.query_terms, dtype=object))
    code = f"from benchmarks.scale import probe; probe({str(root)!r}, {str(queries)!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def exact_top(flat, queries: np.ndarray, k: int) -> list[set[int]]:
    _, ids = flat.search(np.ascontiguousarray(queries), k)
    return [set(row.tolist()) for row in ids]


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    return float(np.mean([len(f & t) / max(1, len(t)) for f, t in zip(found, truth)]))


def run_queries(reader: IndexReader, sample: Sample, k: int = 10) -> tuple[dict, list[set[int]], list[set[int]]]:
    """Whole-search latency (dense + BM25 + fusion) after a warm-up pass, and each query's dense and fused top k."""
    pairs = list(zip(sample.query_vectors, sample.query_terms))
    for vector, words in pairs:
        hybrid_search(reader, vector, words, k)
    samples, fused = [], []
    for vector, words in pairs:
        ms, result = timed(hybrid_search, reader, vector, words, k)
        samples.append(ms)
        fused.append({c.row for c in result[:k]})
    dense = [{hit.row for hit in reader.dense_search(vector, k)} for vector, _ in pairs]
    return percentiles(samples), dense, fused


def bm25_latency(reader: IndexReader, sample: Sample) -> dict:
    for words in sample.query_terms:
        reader.bm25_search(words, 40)
    return percentiles([timed(reader.bm25_search, words, 40)[0] for words in sample.query_terms])


def knob_rows(reader: IndexReader, baseline: IndexReader, sample: Sample, nprobes: list[int]) -> list[dict]:
    """The chosen index at each nprobe, against exact search through the same IndexReader code."""
    truth_latency, truth_dense, truth_fused = run_queries(baseline, sample)
    exact = only_segment(baseline).dense
    rows = [{"index": "Flat (exact baseline)", "nprobe": None, "latency": truth_latency, "recall_dense": 1.0,
             "recall_fused": 1.0, "vectors_mb": exact.ntotal * exact.d * 4 / 2**20}]
    segment = only_segment(reader)
    size_mb = (segment.folder / "dense.faiss").stat().st_size / 2**20
    factory = segment.meta["faiss_factory"]
    for nprobe in nprobes if segment.meta["faiss"].startswith("ivf") else [None]:
        segment.nprobe = nprobe or segment.nprobe
        latency, dense, fused = run_queries(reader, sample)
        rows.append({"index": factory, "nprobe": nprobe, "latency": latency, "recall_dense": recall(dense, truth_dense),
                     "recall_fused": recall(fused, truth_fused), "vectors_mb": size_mb})
    segment.nprobe = dense_config.DEFAULT_NPROBE
    return rows


def use_dense(segment: Segment, index) -> Segment:
    """A copy of a segment that searches another FAISS index over the same rows."""
    twin = copy.copy(segment)
    twin.use_dense(index)
    return twin


def with_dense(reader: IndexReader, index) -> IndexReader:
    """A copy of a one-segment view whose dense search goes to another FAISS index over the same rows."""
    twin = copy.copy(reader)
    twin.segments = [use_dense(only_segment(reader), index)]
    return twin


def int8_cost(reader: IndexReader, sample: Sample) -> dict:
    """What --int8 changes where it applies (exact-search sizes): SQ8 codes against float ones, raw and reranked."""
    import faiss

    m = min(len(reader), dense_config.FLAT_MAX)
    vectors = np.ascontiguousarray(only_segment(reader).vectors[:m])
    flat, sq8 = faiss.IndexFlatIP(vectors.shape[1]), dense_config.faiss_index(vectors, "SQ8")
    flat.add(vectors)
    truth = exact_top(flat, sample.query_vectors, 10)
    small = use_dense(only_segment(reader), sq8)
    small.vectors = vectors  # rows beyond m do not exist for this sub-index
    ranked = [{h.row for h in small.dense_search(v, 10, None)} for v in sample.query_vectors]
    return {"passages": m, "recall_raw": recall(exact_top(sq8, sample.query_vectors, 10), truth),
            "recall_reranked": recall(ranked, truth), "flat_mb": m * vectors.shape[1] * 4 / 2**20,
            "sq8_mb": sq8.sa_code_size() * m / 2**20}


def threshold_sweep(vectors: np.ndarray, queries: np.ndarray, n: int) -> list[dict]:
    """Dense search alone, Flat against IVF-SQ8 (default nprobe), at sizes up to n: where exact stops being cheap."""
    import faiss

    rows = []
    for m in [s for s in SWEEP if s <= n]:
        subset = np.ascontiguousarray(vectors[:m])
        flat = faiss.IndexFlatIP(subset.shape[1])
        flat.add(subset)
        ivf = dense_config.faiss_index(subset, dense_config.faiss_factory("ivf-sq8", m))
        ivf.nprobe = dense_config.DEFAULT_NPROBE
        truth = exact_top(flat, queries, 10)
        row = {"passages": m, "ivf": dense_config.faiss_factory("ivf-sq8", m),
               "ivf_recall_raw": recall(exact_top(ivf, queries, 10), truth)}
        for name, index in (("flat", flat), ("ivf", ivf)):
            row[f"{name}_p50_ms"] = percentiles([timed(index.search, q[None], 40)[0] for q in queries])["p50"]
        rows.append(row)
    return rows


# ---------------------------------------------------------------- report


def report(results: dict) -> str:
    c, k = results["corpus"], results["knobs"]
    lines = [
        f"## Scale: {c['passages']:,} passages ({results['date']})", "",
        f"Machine: {results['machine']}. Other jobs were running; single runs.", "",
        f"Command: `{results['command']}`", "",
        f"Corpus: {c['sample_passages']:,} real passages from {c['sample_stories']:,} Reuters stories (real embeddings),"
        f" x{c['copies']} copies with distinct ids; copies' sentence vectors = real + noise sigma={c['sigma']}"
        f" (copy-copy median cosine {c['sibling_target']:.2f}, real nearest other-story passage); "
        f"{c['sentences']:,} sentences; {results['queries']} held-out headlines as queries.", "",
        table([(r["index"], r["nprobe"] or "-", r["latency"]["p50"], r["latency"]["p99"], r["recall_dense"],
                r["recall_fused"], round(r["vectors_mb"])) for r in k],
              ("dense index", "nprobe", "search p50 ms", "p99 ms", "dense R@10 vs exact", "fused top-10 vs exact",
               "vectors MB")), "",
    ]
    b, w, pr = results["bm25"], results["write"], results["process"]
    after = pr["after_queries"]
    lines += [
        table([
            ("write_index wall s", round(w["seconds"], 1)), ("  of which FAISS s", w["build_seconds"]["dense"]),
            ("  of which BM25 postings from terms s", w["build_seconds"]["bm25"]),
            ("peak RSS during write MiB (before it, holding the corpus)", f"{w['peak_rss_mb']:.0f} ({w['rss_before_mb']:.0f})"),
            ("index on disk MiB", round(results["disk_mb"])), ("dense.faiss MiB", round(results["dense_mb"])),
            ("fresh process: IndexReader load s (warm page cache)", round(pr["load_seconds"], 2)),
            ("fresh process: RSS after load MiB", round(pr["loaded"]["VmRSS"])),
            (f"fresh process: RSS after {results['queries']} searches MiB (anon / file-backed)",
             f"{after['VmRSS']:.0f} ({after['RssAnon']:.0f} / {after['RssFile']:.0f})"),
            ("BM25 alone p50 / p99 ms", f"{b['p50']:.2f} / {b['p99']:.2f}"),
        ], ("figure", "value")), "",
    ]
    if results["int8"]:
        i = results["int8"]
        lines += [f"int8 (`qa build --int8`, SQ8 codes) at {i['passages']:,} passages: dense R@10 vs exact "
                  f"{i['recall_raw']:.3f} raw, {i['recall_reranked']:.3f} after the 2x exact rerank; "
                  f"{i['sq8_mb']:.0f} MiB instead of {i['flat_mb']:.0f}.", ""]
    if results["sweep"]:
        lines += [table([(s["passages"], s["flat_p50_ms"], s["ivf"], s["ivf_p50_ms"], s["ivf_recall_raw"]) for s in results["sweep"]],
                        ("passages", "Flat p50 ms", "IVF-SQ8", "IVF p50 ms", "IVF raw R@10")), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="passages in the scale index")
    parser.add_argument("--stories", type=int, help="real Reuters stories embedded (default: n/20, 50-3000)")
    parser.add_argument("--queries", type=int, default=200, help="held-out headlines used as queries")
    parser.add_argument("--nprobe", default="8,16,32,64", help="IVF knob values to measure")
    parser.add_argument("--flat-max", type=int, help="override the exact-search threshold (to try IVF at tiny n)")
    parser.add_argument("--out", type=Path, default=PROJECT / "var" / "bench" / "scale.json")
    parser.add_argument("--work", type=Path, default=WORK, help="where the sample cache and the index go")
    parser.add_argument("--keep", action="store_true", help="keep the scale index (it is GBs at 1M)")
    parser.add_argument("--lexical-units", type=int, default=0,
                        help="also measure the lexical side alone at 1..N units of --lexical-unit passages (no vectors)")
    parser.add_argument("--lexical-unit", type=int, default=1_000_000)
    parser.add_argument("--no-serve", action="store_true", help="skip HTTP /search and /ask, the add and the merge")
    args = parser.parse_args(argv)
    if args.flat_max is not None:
        # Both reads of it: the writer's choice of index type, and the segment's exact path for filtered searches.
        dense_config.FLAT_MAX = args.flat_max
    stories = args.stories or min(3000, max(50, args.n // 20))
    rng = np.random.default_rng(0)
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "command": "python -m benchmarks.scale " + " ".join(sys.argv[1:] if argv is None else argv)}

    started = time.perf_counter()
    sample = load_sample(args.work, stories, args.queries)
    sigma, target = calibrate_sigma(sample, rng)
    root, scratch = args.work / "index", args.work / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    corpus = replicate(sample, args.n, sigma, scratch, rng)
    results["corpus"] = {"passages": len(corpus.passages), "articles": len(corpus.articles), "sentences": len(corpus.units),
                         "copies": corpus.copies, "sample_stories": stories, "sample_passages": len(sample.reader),
                         "sigma": sigma, "sibling_target": target}
    results["queries"] = len(sample.query_terms)
    results["write"] = write(corpus, sample, root)
    vectors = corpus.vectors
    del corpus
    single_thread_faiss()  # from here on, query like the service (Engine.open); the build above used both cores
    results["sweep"] = threshold_sweep(vectors, sample.query_vectors, args.n)
    results["process"] = fresh_process(root, sample, scratch)
    shutil.rmtree(scratch, ignore_errors=True)

    reader = IndexReader(root)
    results["disk_mb"] = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20
    results["dense_mb"] = (only_segment(reader).folder / "dense.faiss").stat().st_size / 2**20
    results["bm25"] = bm25_latency(reader, sample)
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    del vectors
    results["knobs"] = knob_rows(reader, with_dense(reader, flat), sample, [int(x) for x in args.nprobe.split(",")])
    del flat
    results["int8"] = int8_cost(reader, sample)
    results["lexical"] = statistics_cost([only_segment(reader).postings], sample.query_terms)
    reader.close()
    if not args.no_serve:
        results["http"] = http_paths(root)
        results["write_one"] = add_and_merge(root)
    if args.lexical_units:
        results["archive"] = archive_scale(GrowingTerms(sample.terms), sample.query_terms, args.lexical_units,
                                           args.lexical_unit)
    results["seconds"] = time.perf_counter() - started
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(report(results))
    return results


if __name__ == "__main__":
    main()
