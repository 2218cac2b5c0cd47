"""Ray against one process, same corpus and same run: build throughput, and serving latency and throughput.

    .venv/bin/python -m benchmarks.ray_bench [--stories 2000] [--requests 150] [--parts build,identity,serve,probe]

- build: the first N Reuters stories built by `build_index` (one process), then on a local Ray cluster with 1 and
  2 encoder actors (`build_on_ray`); Ray's own cost is the 1-actor build against the one-process build.
- identity: every question of every set in tests/questions asked of the three indexes; the Ray-built ones must give
  the local build's top-5 passages and answer sentence.
- serve: the same index (as 8 segments, so shards have something to split) served by `qa serve` (2 workers) and
  by Ray Serve with 1 and 2 shards; /ask p50/p99 from one client asking in turn, and requests/s with 4 clients;
  after each, Serve's floor for an app of the same shape and shard count doing no work (benchmarks/serve_floor.py).
  The goal: Ray p50 <= single-node p50 + floor p50 + 10 ms, all three from this run.
- probe: the ingress with its steps timed from inside (benchmarks/ray_probe.py), 1 shard, with the reader's ONNX
  threads at 2 and 1, and with a pause before the read; and the same windows read back to back in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
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


def write_stories(work: Path, stories: int) -> Path:
    # 20 files: the Ray build spreads whole files over its blocks, so one jsonl file would be one block.
    source = work / "stories"
    source.mkdir()
    lines = [json.dumps(reuters_article(s)) + "\n" for s in reuters_stories(stories)]
    for i in range(20):
        (source / f"part-{i:02}.jsonl").write_text("".join(lines[i::20]))
    return source


def builds(work: Path, stories: int) -> dict:
    from index.build import build_index
    from index.ray_build import build_on_ray, connect

    source = work / "stories"
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


def served_index(work: Path) -> Path:
    """The stories as 8 segments (so shards have something to split), built once per run."""
    from index.build import add_articles
    from index.documents import load_articles

    root = work / "served"
    if not root.exists():
        articles = list(load_articles([work / "stories"]))
        size = -(-len(articles) // 8)
        for i in range(0, len(articles), size):
            add_articles(root, articles[i : i + size])
    return root


def _deployed(app, name: str):
    """serve.run on a fresh port; returns the port and the seconds it took."""
    from ray import serve

    port = _port()
    t = time.perf_counter()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(app, name=name, route_prefix="/")
    return port, time.perf_counter() - t


def serving(work: Path, requests: int) -> dict:
    from ray import serve

    from api.ray_serve import application
    from qa.settings import Settings

    from .serve_floor import application as floor

    root = served_index(work)
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
        port, started = _deployed(application(Settings.from_env(index=root), shards=shards), "qa")
        _timed_asks(port, questions, 10)
        ray = out[f"ray_{shards}_shards"] = {**percentiles(_timed_asks(port, questions, requests)),
                                             "rps_4_clients": _throughput(port, questions, 4, 20), "deploy_s": started}
        serve.shutdown()
        port, _ = _deployed(floor(shards), "floor")
        _timed_asks(port, questions, 10)
        floor_ms = out[f"serve_floor_{shards}_shards"] = percentiles(_timed_asks(port, questions, requests))
        serve.shutdown()
        ray["p50_minus_single_ms"] = ray["p50"] - out["single_node"]["p50"]
        ray["goal_ms"] = out["single_node"]["p50"] + floor_ms["p50"] + 10
        ray["goal_met"] = ray["p50"] <= ray["goal_ms"]
    return out


def _median(values: list[float]) -> float:
    return round(float(statistics.median(values)), 2) if values else float("nan")


def _summarise(records: list[dict]) -> dict:
    """Per step: median wall, CPU and run-queue wait; for reads, the processes that used CPU meanwhile."""
    out = {}
    for step in sorted({r["step"] for r in records}):
        mine = [r for r in records if r["step"] == step]
        row = {"n": len(mine), **{key: _median([r[key] for r in mine]) for key in ("wall_ms", "cpu_ms", "runq_wait_ms")}}
        if "others_ms" in mine[0]:
            totals: dict[str, float] = {}
            for r in mine:
                for name, ms in r["others_ms"].items():
                    # Ray's workers by what they run (ray::ServeRepli...), anything else by name and pid.
                    short = name.rsplit(":", 1)[0] if name.startswith("ray::") else name
                    totals[short] = totals.get(short, 0.0) + ms
            row["others_mean_ms"] = {k: round(v / len(mine), 2) for k, v in sorted(totals.items(), key=lambda x: -x[1])[:6]}
        out[step] = row
    return out


def probing(work: Path, requests: int) -> dict:
    import httpx
    from ray import serve

    from qa.settings import Settings

    from .ray_probe import application as probe_app

    root = served_index(work)
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text().splitlines()]
    out = {}
    for name, threads, pause in (("2 threads", 2, 0.0), ("1 thread", 1, 0.0), ("2 threads, 30 ms pause before the read", 2, 30.0)):
        port, _ = _deployed(probe_app(Settings.from_env(index=root, threads=threads), 1, pause), "probe")
        _timed_asks(port, questions, 10)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            client.get("/_probe")
            asks = percentiles(_timed_asks(port, questions, requests))
            seen = client.get("/_probe").json()
            alone = client.get("/_read_alone", params={"n": 30}).json()["records"]
        serve.shutdown()
        out[name] = {"ask": asks, "steps": _summarise(seen["records"] + alone), "driver_pid": os.getpid(),
                     **{k: seen[k] for k in ("nice", "affinity", "threads", "omp_num_threads")}}
        print(json.dumps({name: out[name]}), flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--parts", default="build,identity,serve,probe")
    parser.add_argument("--out", type=Path, default=PROJECT / "var" / "bench" / "ray.json")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    result = {"machine": machine(), "command": " ".join([".venv/bin/python -m benchmarks.ray_bench", *(argv or sys.argv[1:])])}
    with tempfile.TemporaryDirectory(prefix="qa-bench-ray-") as scratch:
        work = Path(scratch)
        write_stories(work, args.stories)
        if "build" in parts or "identity" in parts:
            result["build"] = builds(work, args.stories)
            print(json.dumps(result["build"]), flush=True)
        if "identity" in parts:
            result["identity"] = identity(work)
            print(json.dumps(result["identity"]), flush=True)
        from index.ray_build import connect

        connect("local")
        if "serve" in parts:
            result["serve"] = serving(work, args.requests)
            print(json.dumps(result["serve"]), flush=True)
        if "probe" in parts:
            result["probe"] = probing(work, args.requests)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
