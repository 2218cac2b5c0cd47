"""The live index: write cost, query cost over unmerged segments, merge time, and freshness under load.

    .venv/bin/python -m benchmarks.live                    # every part (the whole-Reuters parts take ~10 min)
    .venv/bin/python -m benchmarks.live --parts query,fresh --stories 2000

- write: the whole Reuters corpus is indexed as 50 segments (50 commits of ~380 stories), then one new article is
  added in process with the encoder loaded (what POST /articles does); the full build of the same corpus, timed in
  the same run, is what adding one article cost before segments.
- merge: `qa merge`'s work (index.merge.merge(force=True)) on those segments, then the same add on one segment, in
  process and as a `qa add` command (a fresh process: imports and model load included).
- query: Engine.ask p50 and Engine.search top-10 over 2,000 stories as 20 segments against one segment.
- fresh: `qa serve` (2 workers) on the seeds with ~50 requests/s of background /search load; 50 times, POST an
  article that alone answers a question, then ask it on fresh connections until 4 in a row answer from it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import PROJECT, machine, percentiles, reuters_article, reuters_stories
from .latency import Server, get, qa_command

QUESTIONS = PROJECT / "tests" / "questions" / "reuters_heldout.jsonl"
NEWS = ("Officials in Quillhaven said on Tuesday that the Varnett river bridge, closed since the spring floods, "
        "will reopen to traffic on March {n}, 2031, after repairs costing {n}4 million crowns.")


def _articles(work: Path, limit: int | None) -> tuple[Path, list]:
    """Reuters stories as a jsonl file, and as the articles a build reads from it."""
    from index.documents import load_articles

    source = work / f"stories-{limit}.jsonl"
    source.write_text("".join(json.dumps(reuters_article(s)) + "\n" for s in reuters_stories(limit)))
    return source, list(load_articles([source]))


def _batches(items: list, n: int) -> list[list]:
    size = -(-len(items) // n)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _new_article(n: int):
    from index.documents import Article

    return Article(id=f"bench-{n}", title=f"Varnett bridge {n}", text=NEWS.format(n=n))


def write_and_merge(work: Path, stories: int | None, segments: int, rounds: int) -> dict:
    from index.build import add_articles, build_index
    from index.commit import latest
    from index.encoder import open_encoder
    from index.merge import merge
    from index.store import IndexReader

    source, articles = _articles(work, stories)
    started = time.perf_counter()
    build_index([source], work / "one")
    full = time.perf_counter() - started
    root = work / "many"
    started = time.perf_counter()
    for batch in _batches(articles, segments):
        add_articles(root, batch)
    incremental = time.perf_counter() - started
    view = IndexReader(root)
    encoder = open_encoder(view.model_folder, view.manifest["model"]["name"])

    def add_in_process(label: int) -> float:
        t = time.perf_counter()
        add_articles(root, [_new_article(label)], encoder=encoder)
        return time.perf_counter() - t

    def add_command(label: int) -> float:
        doc = work / f"new-{label}.txt"
        doc.write_text(NEWS.format(n=label))
        t = time.perf_counter()
        subprocess.run([*qa_command(), "add", str(doc), "--index", str(root)], check=True, capture_output=True)
        return time.perf_counter() - t

    # Unmerged first, in process only: `qa add` runs the merge policy, which would merge the 50 before they are timed.
    before = {"segments": len(latest(root).segments),
              "in_process_s": statistics.median(add_in_process(i) for i in range(rounds))}
    merged_from = len(latest(root).segments)
    started = time.perf_counter()
    merge(root, force=True)
    merged = time.perf_counter() - started
    after = {"segments": len(latest(root).segments),
             "in_process_s": statistics.median(add_in_process(100 + i) for i in range(rounds)),
             "qa_add_s": statistics.median(add_command(200 + i) for i in range(rounds))}
    counts = IndexReader(root).counts()
    return {"stories": len(articles), "passages": counts["passages"], "full_build_s": full,
            "incremental_build_s": incremental, "add_unmerged": before, "merge_s": merged,
            "merged_from": merged_from, "add_merged": after}


def query_cost(work: Path, stories: int, segments: int, rounds: int) -> dict:
    from index.build import add_articles
    from qa.engine import Engine
    from qa.settings import Settings

    _, articles = _articles(work, stories)
    add_articles(work / "q1", articles)
    for batch in _batches(articles, segments):
        add_articles(work / "q20", batch)
    one, many = (Engine.open(Settings.from_env(index=work / name)) for name in ("q1", "q20"))
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text().splitlines()]
    same = all([p.id for p in one.search(q, k=10).passages] == [p.id for p in many.search(q, k=10).passages]
               for q in questions)
    times = {"one": [], "many": []}
    for _ in range(rounds):
        for q in questions:  # alternate, so drift in machine load hits both alike
            for name, engine in (("one", one), ("many", many)):
                t = time.perf_counter()
                engine.ask(q)
                times[name].append((time.perf_counter() - t) * 1000)
    p50 = {name: statistics.median(v) for name, v in times.items()}
    return {"stories": stories, "segments": len(many.view().segments), "questions": len(questions),
            "top10_identical": same, "ask_p50_ms_one": p50["one"], "ask_p50_ms_many": p50["many"],
            "ratio": p50["many"] / p50["one"]}


class Load(threading.Thread):
    """About `rate` /search requests a second on fresh connections, counting failures."""

    def __init__(self, port: int, rate: float):
        super().__init__(daemon=True)
        self.port, self.gap, self.stop, self.sent, self.failed = port, 1 / rate, threading.Event(), 0, 0

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                status, _ = get(self.port, "/search?q=Putin+Erdogan+Syria&k=3")
                self.failed += status != 200
            except OSError:
                self.failed += 1
            self.sent += 1
            next_at += self.gap
            time.sleep(max(0.0, next_at - time.monotonic()))


def _post(port: int, body: dict, token: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/articles", json.dumps(body),
                           {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def freshness(work: Path, posts: int, rate: float) -> dict:
    from urllib.parse import quote

    from index.build import build_index

    build_index([PROJECT / "seeds"], work / "fresh")
    token = "bench-token"
    os.environ["QA_WRITE_TOKEN"] = token
    server = Server(work / "fresh", workers=2, threads=1)
    load = Load(server.port, rate)
    load.start()
    delays, failures = [], 0
    started = time.perf_counter()
    try:
        for n in range(posts):
            status, _ = _post(server.port, {"id": f"fresh-{n}", "title": f"Varnett bridge {n}", "text": NEWS.format(n=n)}, token)
            if status != 201:
                failures += 1
                continue
            posted = time.perf_counter()
            question = quote(f"When will the Varnett river bridge reopen after repairs costing {n}4 million crowns?")
            streak, first = 0, None
            while streak < 4 and time.perf_counter() - posted < 10:
                _, body = get(server.port, f"/search?q={question}&k=1")
                hit = json.loads(body)["passages"][0]["source"]["id"] == f"fresh-{n}"
                if hit and first is None:
                    first = time.perf_counter() - posted
                streak = streak + 1 if hit else 0
                first = first if hit else None
            delays.append(first if streak >= 4 else float("inf"))
    finally:
        load.stop.set()
        load.join()
        elapsed = time.perf_counter() - started
        server.process.terminate()
    ms = [d * 1000 for d in delays]
    return {"posts": posts, "post_failures": failures, "visible_ms": percentiles(ms), "max_ms": max(ms),
            "background_requests": load.sent, "background_rate": load.sent / elapsed,
            "background_failures": load.failed}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="write,query,fresh")
    parser.add_argument("--stories", type=int, help="Reuters stories for the write and merge parts (default: all)")
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--out", type=Path, default=PROJECT / "var" / "bench" / "live.json")
    args = parser.parse_args(argv)
    result = {"machine": machine(), "command": " ".join([".venv/bin/python -m benchmarks.live", *(argv or sys.argv[1:])])}
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="qa-bench-live-") as scratch:
        work = Path(scratch)
        if "query" in parts:
            (work / "query").mkdir()
            result["query"] = query_cost(work / "query", 2000, 20, 3)
            print(json.dumps(result["query"]), flush=True)
        if "fresh" in parts:
            (work / "fresh-run").mkdir()
            result["fresh"] = freshness(work / "fresh-run", args.posts, 50)
            print(json.dumps(result["fresh"]), flush=True)
        if "write" in parts:
            (work / "write").mkdir()
            result["write"] = write_and_merge(work / "write", args.stories, args.segments, args.rounds)
            print(json.dumps(result["write"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
