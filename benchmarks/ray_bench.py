"""Ray against one process, same corpus and same run: build throughput, and serving latency and throughput.

    .venv/bin/python -m benchmarks.ray_bench [--stories 2000] [--requests 150]

- build: the first N Reuters stories built by `build_index` (one process), then on a local Ray cluster with 1 and
  2 encoder actors (`build_on_ray`); Ray's own cost is the 1-actor build against the one-process build.
- identity: every question of every set in tests/questions asked of the three indexes; the Ray-built ones must give
  the local build's top-5 passages and answer sentence.
- serve: the same index (as 8 segments, so shards have something to split) served by `qa serve` (2 workers) and
  by Ray Serve with 1 and 2 shards; /ask p50/p99 from one client asking in turn, and requests/s with 4 clients;
  then Serve's floor for an app of the same shape doing no work (benchmarks/serve_floor.py).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

from .common import PROJECT, machine, percentiles, reuters_article, reuters_stories
from .latency import Server

QUESTIONS = PROJECT / "tests" / "questions" / "reuters_heldout.jsonl"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def builds(work: Path, stories: int) -> dict:
    from index.build import build_index
    from index.ray_build import build_on_ray, connect

    # 20 files: the Ray build spreads whole files over its blocks, so one jsonl file would be one block.
    source = work / "stories"
    source.mkdir()
    lines = [json.dumps(reuters_article(s)) + "\n" for s in reuters_stories(stories)]
    for i in range(20):
        (source / f"part-{i:02}.jsonl").write_text("".join(lines[i::20]))
    out = {}
    t = time.perf_counter()
    report = build_index([source], work / "local")
    out["local_s"] = time.perf_counter() - t
    out["passages"] = report.passages
    t = time.perf_counter()
    connect("local")
    out["ray_start_s"] = time.perf_counter() - t
    for actors in (1, 2):
        t = time.perf_counter()
        build_on_ray([source], work / f"ray{actors}", "auto", actors=actors)
        out[f"ray_{actors}_actor_s"] = time.perf_counter() - t
    for key in ("local_s", "ray_1_actor_s", "ray_2_actor_s"):
        out[key.replace("_s", "_passages_per_s")] = out["passages"] / out[key]
    return out


def identity(work: Path) -> dict:
    """Per question set: how many questions the Ray-built indexes answer exactly as the local build does."""
    from qa.engine import Engine
    from qa.settings import Settings

    engines = {name: Engine.open(Settings.from_env(index=work / name)) for name in ("local", "ray1", "ray2")}
    out = {}
    for path in sorted((PROJECT / "tests" / "questions").glob("*.jsonl")):
        questions = [json.loads(line)["q"] for line in path.read_text().splitlines()]
        seen = {}
        for name, engine in engines.items():
            answers = [engine.ask(q) for q in questions]
            seen[name] = [([p.id for p in a.passages], a.answer and a.answer.sentence) for a in answers]
        out[path.stem] = {"questions": len(questions),
                          **{f"{name}_identical": sum(a == b for a, b in zip(seen["local"], seen[name]))
                             for name in ("ray1", "ray2")}}
    return out


def _timed_asks(port: int, questions: list[str], requests: int) -> list[float]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for i in range(requests):
        t = time.perf_counter()
        connection.request("GET", f"/ask?q={quote(questions[i % len(questions)])}")
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            times.append((time.perf_counter() - t) * 1000)
    connection.close()
    return times


def _throughput(port: int, questions: list[str], clients: int, seconds: float) -> float:
    done = [0]
    stop = time.perf_counter() + seconds

    def client(offset: int) -> None:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = offset
        while time.perf_counter() < stop:
            connection.request("GET", f"/ask?q={quote(questions[i % len(questions)])}")
            response = connection.getresponse()
            response.read()
            done[0] += response.status == 200
            i += clients
        connection.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / seconds


def serving(work: Path, stories: int, requests: int) -> dict:
    from ray import serve

    from api.ray_serve import application
    from index.build import add_articles
    from index.documents import load_articles
    from qa.settings import Settings

    root = work / "served"
    articles = list(load_articles([work / "stories"]))
    size = -(-len(articles) // 8)
    for i in range(0, len(articles), size):
        add_articles(root, articles[i : i + size])
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text().splitlines()]
    out = {}
    server = Server(root, workers=2, threads=None)
    try:
        _timed_asks(server.port, questions, 10)
        out["single_node"] = {**percentiles(_timed_asks(server.port, questions, requests)),
                              "rps_4_clients": _throughput(server.port, questions, 4, 20)}
    finally:
        server.process.terminate()
        server.process.wait()
    for shards in (1, 2):
        port = _port()
        t = time.perf_counter()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(application(Settings.from_env(index=root), shards=shards), name="qa", route_prefix="/")
        started = time.perf_counter() - t
        _timed_asks(port, questions, 10)
        out[f"ray_{shards}_shards"] = {**percentiles(_timed_asks(port, questions, requests)),
                                       "rps_4_clients": _throughput(port, questions, 4, 20), "deploy_s": started}
        serve.shutdown()
    from .serve_floor import application as floor

    port = _port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(floor(2), name="floor", route_prefix="/")
    _timed_asks(port, questions, 10)
    out["serve_floor_2_shards"] = percentiles(_timed_asks(port, questions, requests))
    serve.shutdown()
    for shards in (1, 2):
        out[f"ray_{shards}_shards"]["p50_minus_single_ms"] = out[f"ray_{shards}_shards"]["p50"] - out["single_node"]["p50"]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--out", type=Path, default=PROJECT / "var" / "bench" / "ray.json")
    args = parser.parse_args(argv)
    result = {"machine": machine(), "command": " ".join([".venv/bin/python -m benchmarks.ray_bench", *(argv or sys.argv[1:])])}
    with tempfile.TemporaryDirectory(prefix="qa-bench-ray-") as scratch:
        work = Path(scratch)
        result["build"] = builds(work, args.stories)
        print(json.dumps(result["build"]), flush=True)
        result["identity"] = identity(work)
        print(json.dumps(result["identity"]), flush=True)
        result["serve"] = serving(work, args.stories, args.requests)
        print(json.dumps(result["serve"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
