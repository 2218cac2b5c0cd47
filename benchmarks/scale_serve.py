"""The scale index served and written: HTTP /search and /ask over it, one article added, and a merge.

Called by benchmarks/scale.py once the index is written. Questions are tests/questions/reuters_heldout.jsonl,
written over Reuters stories the 1M index holds copies of; the server is `qa serve` as a user runs it (2 workers).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

from benchmarks.common import PROJECT, percentiles
from benchmarks.latency import Server

QUESTIONS = PROJECT / "tests" / "questions" / "reuters_heldout.jsonl"


def http_paths(root: Path, rounds: int = 2) -> dict:
    """p50/p99 of GET /search and /ask, one client asking in turn, after a warm-up round of each."""
    import http.client

    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text().splitlines()]
    server = Server(root, workers=2, threads=None)
    out = {}
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        for path in ("/search", "/ask"):
            times = []
            for r in range(rounds + 1):
                for q in questions:
                    t = time.perf_counter()
                    connection.request("GET", f"{path}?q={quote(q)}")
                    response = connection.getresponse()
                    response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{path} answered {response.status} for {q!r}")
                    if r:  # round 0 warms the page cache the index is mapped from
                        times.append((time.perf_counter() - t) * 1000)
            out[path] = {**percentiles(times), "requests": len(times)}
        connection.close()
    finally:
        server.process.terminate()
        server.process.wait()
    return out


def add_and_merge(root: Path) -> dict:
    """Seconds to add one new article (encoder loaded, as POST /articles does) and then to merge it into the big
    segment (`qa merge`: one segment, vectors and postings reused, the dense index trained again)."""
    from index.build import add_articles
    from index.commit import latest
    from index.documents import Article
    from index.encoder import open_encoder
    from index.merge import merge

    commit = latest(root)
    encoder = open_encoder(root / commit.model_dir, commit.model["name"])
    article = Article(id="scale-new-1", title="Varnett bridge reopens",
                      text="The Varnett river bridge in Quillhaven reopens on March 3, 2031, officials said. " * 6)
    encoder.encode(["warm the encoder"])
    t = time.perf_counter()
    add_articles(root, [article], encoder=encoder)
    added = time.perf_counter() - t
    t = time.perf_counter()
    merge(root, force=True)
    merged = time.perf_counter() - t
    return {"add_one_article_s": round(added, 3), "merge_s": round(merged, 1), "segments_after": len(latest(root).segments)}
