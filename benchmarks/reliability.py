"""Issue 19's figures: /health and writes while clients ask as fast as they can, and what checksums cost on open.

    .venv/bin/python -m benchmarks.reliability                 # both parts
    .venv/bin/python -m benchmarks.reliability --part health --clients 4 --seconds 30
    .venv/bin/python -m benchmarks.reliability --part verify --passages 1000000

health: `qa serve --workers 1` over the seeds (one process, so every request meets the questions on one event loop),
N client threads each asking /ask on its own keep-alive connection in a loop, and one prober sending GET /health
every 20 ms on its own connection; then 10 POST /articles under the same load. The unloaded /health comes first.

verify: the files of a segment the size of BENCHMARKS.md's 1M-passage index (float32 passage vectors, float16
vectors of 5.07 sentences per passage, IVF-SQ8 codes, postings and SQLite), filled with arbitrary bytes (xxHash's
speed does not depend on them), checked by index/checksums.verify from the page cache (hot) and after
posix_fadvise(DONTNEED) evicts them (cold, the disk's speed). The seeds' real segment is opened with and without
its checksums for the in-context cost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .common import machine, percentiles
from .latency import build_seeds, load_questions, serving

TOKEN = "bench-token"


def _health_samples(port: int, seconds: float, every: float = 0.02) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples, ends = [], time.monotonic() + seconds
    while time.monotonic() < ends:
        started = time.perf_counter()
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"/health answered {response.status}")
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(every)
    connection.close()
    return samples


def _asker(port: int, questions: list[str], stop: threading.Event, counts: dict, lock: threading.Lock) -> None:
    from .latency import ask_path

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    i = 0
    while not stop.is_set():
        connection.request("GET", ask_path(questions[i % len(questions)]))
        response = connection.getresponse()
        response.read()
        with lock:
            counts[response.status] = counts.get(response.status, 0) + 1
        if response.getheader("connection", "").lower() == "close":
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i += 1
    connection.close()


def _post(port: int, n: int) -> list[float]:
    samples = []
    for i in range(n):
        body = json.dumps({"id": f"bench-{i}", "title": f"Bench story {i}",
                           "text": f"Officials in Quillhaven counted {i + 12} boats on the Varnett river on Monday."})
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        started = time.perf_counter()
        connection.request("POST", "/articles", body, {"Authorization": f"Bearer {TOKEN}",
                                                       "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        samples.append((time.perf_counter() - started) * 1000)
        connection.close()
        if response.status != 201:
            raise RuntimeError(f"POST /articles answered {response.status}")
        time.sleep(0.2)
    return samples


def health_part(clients: int, seconds: float) -> dict:
    questions = load_questions()
    with tempfile.TemporaryDirectory() as folder:
        index = build_seeds(Path(folder))
        os.environ["QA_WRITE_TOKEN"] = TOKEN  # the server subprocess inherits it
        with serving(index, workers=1, threads=None) as server:
            idle = _health_samples(server.port, min(seconds, 10))
            stop, lock, counts = threading.Event(), threading.Lock(), {}
            askers = [threading.Thread(target=_asker, args=(server.port, questions, stop, counts, lock))
                      for _ in range(clients)]
            for t in askers:
                t.start()
            time.sleep(2)  # every asker has a question in flight
            started = time.monotonic()
            loaded = _health_samples(server.port, seconds)
            posts = _post(server.port, 10)
            elapsed = time.monotonic() - started
            stop.set()
            for t in askers:
                t.join(120)
    return {"clients": clients, "seconds": round(elapsed, 1), "answers": counts,
            "asks_per_s": round(sum(counts.values()) / elapsed, 1),
            "health_idle_ms": _rounded(percentiles(idle), idle), "health_loaded_ms": _rounded(percentiles(loaded), loaded),
            "post_loaded_ms": _rounded(percentiles(posts), posts)}


def _rounded(stats: dict, samples: list[float]) -> dict:
    return {**{k: round(v, 2) for k, v in stats.items()}, "max": round(max(samples), 2), "n": len(samples)}


def _segment_files(passages: int, sentences_per_passage: float, dim: int = 384) -> dict[str, int]:
    """Byte sizes of a segment's files at this many passages (shapes from index/segment.py; postings and SQLite
    sized as BENCHMARKS.md's 1M-passage index measured them)."""
    sentences = int(passages * sentences_per_passage)
    return {"passages.npy": passages * 6 * 4, "vectors.npy": passages * dim * 4, "units.npy": sentences * 3 * 4,
            "unit_vectors.npy": sentences * dim * 2, "dense.faiss": passages * (dim + 8) + 2048 * dim * 4,
            "docs.npy": passages * 60 * 8, "freqs.npy": passages * 60 * 4, "lengths.npy": passages * 4,
            "articles.sqlite": passages * 500}


def _evict(folder: Path) -> None:
    for path in folder.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def verify_part(passages: int, sentences_per_passage: float, where: Path | None) -> dict:
    from index.checksums import digests, verify

    block = np.random.default_rng(0).integers(0, 256, 64 * 2**20, dtype=np.uint8).tobytes()
    with tempfile.TemporaryDirectory(dir=where) as folder:
        folder = Path(folder)
        sizes = _segment_files(passages, sentences_per_passage)
        for name, size in sizes.items():
            with open(folder / name, "wb") as out:
                for start in range(0, size, len(block)):
                    out.write(block[: min(len(block), size - start)])
        sums = digests(folder, sizes)
        hot = []
        for _ in range(3):
            started = time.perf_counter()
            verify(folder, sums)
            hot.append(time.perf_counter() - started)
        _evict(folder)
        started = time.perf_counter()
        verify(folder, sums)
        cold = time.perf_counter() - started
    total = sum(sizes.values())
    out = {"passages": passages, "bytes": total, "hot_s": round(min(hot), 3), "hot_GB_per_s": round(total / min(hot) / 1e9, 2),
           "cold_s": round(cold, 3), "cold_GB_per_s": round(total / cold / 1e9, 2)}
    out["seeds_segment"] = _seeds_open_cost()
    return out


def _seeds_open_cost() -> dict:
    """Opening the seeds' real segment with its checksums and with them left out (median of 20 opens each)."""
    import json as _json

    from index.commit import latest
    from index.segment import META, Segment

    with tempfile.TemporaryDirectory() as folder:
        root = build_seeds(Path(folder))
        seg = root / latest(root).segments[0]["name"]
        times = {}
        for label in ("with checksums", "without"):
            if label == "without":
                meta = _json.loads((seg / META).read_text())
                meta.pop("checksums")
                (seg / META).write_text(_json.dumps(meta))
            samples = []
            for _ in range(20):
                started = time.perf_counter()
                Segment(seg).close()
                samples.append((time.perf_counter() - started) * 1000)
            times[label] = round(float(np.median(samples)), 2)
        size = sum(p.stat().st_size for p in seg.iterdir())
    return {"ms": times, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["health", "verify", "all"], default="all")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--sentences-per-passage", type=float, default=5.07)
    parser.add_argument("--where", type=Path, help="folder for the verify part's files (default: the temp folder)")
    args = parser.parse_args()
    report = {"machine": machine()}
    if args.part in ("health", "all"):
        report["health"] = health_part(args.clients, args.seconds)
    if args.part in ("verify", "all"):
        report["verify"] = verify_part(args.passages, args.sentences_per_passage, args.where)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
