"""Query latency, HTTP load and cold start on the seeds index, each beside a bare sentence-transformers baseline.

Usage: .venv/bin/python -m benchmarks.latency [--tiny] [--index DIR] [--parts latency,load,cold] [--out FILE]

Everything runs in one process and one run, so the ratios compare figures taken under the same machine load:
- bare baseline: `SentenceTransformer.encode` of one question, then a FAISS IndexFlatIP search over the index's own
  passage vectors;
- `Engine.ask` in this process, and GET /ask against `qa serve` started as a subprocess on loopback;
- load: wrk (Debian package `wrk`) with benchmarks/ask.lua cycling through the real questions;
- cold start: a fresh `qa ask` process against `python -c "import sentence_transformers"`.
Prints a markdown section and writes JSON to var/bench/latency.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from api.local import free_port
from benchmarks.common import PROJECT, machine, percentiles, qa_command, table, timed

QUESTIONS = PROJECT / "tests" / "questions"
LUA = Path(__file__).with_name("ask.lua")
OUT = PROJECT / "var" / "bench" / "latency.json"
MODEL = "all-MiniLM-L6-v2"
COLD_QUESTION = "When did Turkey shoot down the Russian jet?"
PARTS = ("latency", "load", "cold")
TICKS = os.sysconf("SC_CLK_TCK")


def load_questions(limit: int | None = None) -> list[str]:
    """Every question of tests/questions/*.jsonl, answerable or not: the service sees both."""
    from qa.evaluate import load_questions as read

    found = [question.q for path in sorted(QUESTIONS.glob("*.jsonl")) for question in read(path)]
    return found[:limit] if limit else found


def build_seeds(folder: Path) -> Path:
    from index.build import build_index

    path = folder / "index"
    build_index([PROJECT / "seeds"], path)
    return path


# --- in-process latency -------------------------------------------------------------------------------------------


class Baseline:
    """What the obvious stack does per question: sentence-transformers encode plus FAISS Flat over the same vectors."""

    def __init__(self, passage_vectors):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import faiss
        from sentence_transformers import SentenceTransformer

        from index.encoder import resolve_model

        self.model = SentenceTransformer(str(resolve_model(MODEL)), device="cpu")
        self.flat = faiss.IndexFlatIP(passage_vectors.shape[1])
        self.flat.add(passage_vectors)

    def encode(self, question: str):
        return self.model.encode([question], normalize_embeddings=True)

    def search(self, question: str):
        return self.flat.search(self.encode(question), 10)


def passage_vectors(engine) -> np.ndarray:
    """The passage vectors the engine itself searches: every segment's live rows, from the float32 copies the
    segments keep beside FAISS (whose codes may be int8)."""
    view = engine.view()
    parts = [s.vectors if live is None else s.vectors[live] for s, live in zip(view.segments, view.live)]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


# --- the HTTP server --------------------------------------------------------------------------------------------------


def get(port: int, path: str) -> tuple[int, bytes]:
    """One GET on a fresh connection to the local server: status and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Server:
    """`qa serve` in a subprocess; its CPU time is read from /proc so load figures carry a per-request CPU cost."""

    def __init__(self, index: Path, workers: int | None, threads: int | None):
        self.port = free_port()
        command = [*qa_command(), "serve", "--index", str(index), "--port", str(self.port)]
        command += ["--workers", str(workers)] if workers else []
        command += ["--threads", str(threads)] if threads else []
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"qa serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                if self.get("/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"qa serve not ready after {seconds}s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def get(self, path: str) -> tuple[int, bytes]:
        return get(self.port, path)

    def pids(self) -> list[int]:
        """The server and its worker processes."""
        pids, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                todo += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                continue
        return pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / TICKS

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.log.close()


@contextmanager
def serving(index: Path, workers: int | None, threads: int | None) -> Iterator[Server]:
    server = Server(index, workers, threads)
    try:
        yield server
    finally:
        server.stop()


def ask_path(question: str, route: str = "/ask") -> str:
    return route + "?" + urllib.parse.urlencode({"q": question})


class Client:
    """One keep-alive connection, as a real client or proxy would hold; every answer must be a 200."""

    def __init__(self, port: int, questions: list[str]):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        # URL building is the client's time, not the server's
        self.paths = {route: {q: ask_path(q, route) for q in questions} for route in ("/ask", "/search")}

    def _get(self, route: str, question: str) -> bytes:
        self.connection.request("GET", self.paths[route][question])
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {route} {question!r} answered {response.status}: {body[:300]!r}")
        return body

    def ask(self, question: str) -> bytes:
        return self._get("/ask", question)

    def search(self, question: str) -> bytes:
        return self._get("/search", question)

    def reopen(self) -> None:
        """A fresh, already connected socket: uvicorn drops keep-alive connections idle for 5 s."""
        self.connection.close()
        self.connection.connect()

    def close(self) -> None:
        self.connection.close()


def measure_latency(engine, server: Server, questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per question for each path, in blocks that alternate round by round.

    Whole blocks per path, not path after path per question, so torch's idle worker threads do not spin into the
    next path's timing; alternating blocks spread the machine's background load evenly over the paths.
    """
    baseline = Baseline(passage_vectors(engine))
    client = Client(server.port, questions)
    paths = {
        "st_encode": baseline.encode,
        "st_encode_flat": baseline.search,
        "engine_search": engine.search,
        "engine_ask": engine.ask,
        "http_search": client.search,
        "http_ask": client.ask,
    }
    for fn in paths.values():  # warm-up: first calls allocate buffers and fill caches
        for question in questions[:5]:
            fn(question)
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, fn in paths.items():
            if name.startswith("http_"):
                client.reopen()
            samples[name] += [timed(fn, question)[0] for question in questions]
    client.close()
    return samples


def latency_report(samples: dict[str, list[float]]) -> dict:
    stats = {name: percentiles(values) for name, values in samples.items()}
    st = stats["st_encode"]["p50"]
    ratios = {
        "http_search_p50_over_st_encode_p50": stats["http_search"]["p50"] / st,
        "http_p50_over_st_encode_p50": stats["http_ask"]["p50"] / st,
        "engine_p50_over_st_encode_p50": stats["engine_ask"]["p50"] / st,
        "engine_p50_over_st_encode_flat_p50": stats["engine_ask"]["p50"] / stats["st_encode_flat"]["p50"],
        "http_p50_over_engine_p50": stats["http_ask"]["p50"] / stats["engine_ask"]["p50"],
    }
    return {"samples": len(samples["st_encode"]), "ms": stats, "ratios": ratios}


# --- load -------------------------------------------------------------------------------------------------------------


WRK_MISSING = "wrk not found: install it with `apt-get install -y wrk` (Debian) to run the load test"


def run_wrk(server: Server, questions: list[str], seconds: int, connections: int) -> dict:
    """wrk on loopback for `seconds`; errors count socket errors, timeouts and every non-2xx answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("".join(ask_path(q) + "\n" for q in questions))
    try:
        # One wrk thread leaves as much of the two cores as possible to the server.
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA), f"http://127.0.0.1:{server.port}"]
        cpu_before = server.cpu_seconds()
        done = subprocess.run([*command, "--", handle.name], capture_output=True, text=True, check=True)
        cpu = server.cpu_seconds() - cpu_before
    finally:
        os.unlink(handle.name)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    errors = sum(result[key] for key in ("non2xx", "connect", "read", "write", "timeout"))
    requests = result["requests"]
    return {
        "connections": connections,
        "seconds": result["duration_us"] / 1e6,
        "requests": requests,
        "req_per_s": requests / (result["duration_us"] / 1e6),
        "errors": errors,
        "wrk": result,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "server_cpu_ms_per_request": 1000 * cpu / requests if requests else None,
    }


def measure_load(server: Server, questions: list[str], seconds: int, connections: int, warm_up: bool = True) -> dict:
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return {"skipped": WRK_MISSING}
    if warm_up:  # every worker process has answered before timing
        run_wrk(server, questions, 2, connections)
    return run_wrk(server, questions, seconds, connections)


# --- cold start -------------------------------------------------------------------------------------------------------


def _wall(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def cold_commands(index: Path) -> dict[str, list[str]]:
    return {
        "qa_ask": [*qa_command(), "ask", COLD_QUESTION, "--index", str(index)],
        "import_sentence_transformers": [sys.executable, "-c", "import sentence_transformers"],
    }


def measure_cold(index: Path, runs: int, warm_up: bool = True) -> dict:
    """Median wall seconds of fresh processes, the two commands alternating so both see the same background load."""
    commands = cold_commands(index)
    for command in commands.values() if warm_up else ():  # both then read their files from the page cache
        _wall(command)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            walls[name].append(_wall(command))
    medians = {name: statistics.median(values) for name, values in walls.items()}
    return {
        "runs": runs,
        "median_s": medians,
        "runs_s": walls,
        "ratio": medians["qa_ask"] / medians["import_sentence_transformers"],
    }


# --- report -----------------------------------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    lines = [
        "## Query latency, HTTP load and cold start (seeds index, one run)",
        "",
        f"Machine: {result['machine']}; load average at start {result['loadavg']} (1, 5, 15 min).",
        f"Command: `{result['command']}`. {result['questions']} questions from tests/questions/*.jsonl.",
    ]
    if "latency" in result:
        lines += _latency_lines(result["latency"], result["server"])
    if "load" in result:
        lines += _load_lines(result["load"], result["server"])
    if "cold_start" in result:
        lines += _cold_lines(result["cold_start"])
    return "\n".join(lines)


def _latency_lines(latency: dict, server: dict) -> list[str]:
    names = {
        "st_encode": "bare: SentenceTransformer.encode (1 question)",
        "st_encode_flat": "bare: encode + FAISS IndexFlatIP top-10",
        "engine_search": f"Engine.search in-process, passages only ({server['threads']} threads)",
        "engine_ask": f"Engine.ask in-process, with the reader ({server['threads']} threads)",
        "http_search": f"HTTP GET /search, keep-alive ({server['workers']} workers x {server['threads']} threads)",
        "http_ask": f"HTTP GET /ask, keep-alive ({server['workers']} workers x {server['threads']} threads)",
    }
    goals = {"http_search_p50_over_st_encode_p50": "<= 0.7", "http_p50_over_st_encode_p50": "<= 4"}
    rows = [(names[n], s["p50"], s["p99"], s["mean"]) for n, s in latency["ms"].items()]
    ratios = [(name, value, goals.get(name, "")) for name, value in latency["ratios"].items()]
    return [
        "", f"Latency, {latency['samples']} asks per path, ms:", "",
        table(rows, ("path", "p50", "p99", "mean")), "", table(ratios, ("ratio", "value", "goal")),
    ]


def _load_lines(load: dict, server: dict) -> list[str]:
    if "skipped" in load:
        return ["", f"Load: skipped ({load['skipped']})."]
    row = (
        server["workers"], server["threads"], load["connections"], load["seconds"], load["requests"],
        load["req_per_s"], load["errors"], load["p50_ms"], load["p99_ms"], load["server_cpu_ms_per_request"],
    )
    header = ("workers", "ONNX threads", "connections", "s", "requests", "req/s", "errors", "p50 ms", "p99 ms", "server CPU ms/req")
    return ["", "Load, wrk -t1 with benchmarks/ask.lua (GET /ask cycling the questions; goal >= 150 req/s, 0 errors):", "", table([row], header)]


def _cold_lines(cold: dict) -> list[str]:
    rows = [(name, seconds) for name, seconds in cold["median_s"].items()]
    return [
        "", f"Cold start, median of {cold['runs']} fresh processes each, s (goal ratio <= 0.5):", "",
        table(rows + [("ratio qa_ask / import", cold["ratio"])], ("command", "median")),
    ]


# --- main -------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="Smoke run: 3 questions, 1 round, 2 s of load, 1 cold run, no warm-ups.")
    parser.add_argument("--index", type=Path, help="An index already built from the seeds (default: build one in a temp dir).")
    parser.add_argument("--parts", default=",".join(PARTS), help="Comma-separated subset of latency,load,cold.")
    parser.add_argument("--rounds", type=int, default=5, help="Times each path asks every question.")
    parser.add_argument("--seconds", type=int, default=20, help="Duration of the wrk run.")
    # Within one worker's admission (QA_ASK_THREADS 2 + QA_ASK_QUEUE 8, api/gate.py) even if every connection lands
    # on the same worker: at 16, most answers were the gate's 503s, a measure of refusals rather than of throughput.
    parser.add_argument("--connections", type=int, default=8, help="wrk connections.")
    parser.add_argument("--workers", type=int, help="qa serve --workers (default: its own, one per core).")
    parser.add_argument("--threads", type=int, help="qa serve --threads (default: its own).")
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.parts = [p for p in args.parts.split(",") if p]
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    if args.tiny:
        args.rounds, args.seconds, args.cold_runs = 1, 2, 1
    return args


def server_config(workers: int | None, threads: int | None) -> dict:
    """What `qa serve` picks when not told, so the report names the configuration measured."""
    from qa.settings import serving_plan

    workers, threads = serving_plan(workers, threads)
    return {"workers": workers, "threads": threads}


def run(args: argparse.Namespace, index: Path) -> dict:
    from qa.engine import Engine
    from qa.settings import Settings

    questions = load_questions(3 if args.tiny else None)
    result = {
        "machine": machine(),
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "command": args.command,
        "questions": len(questions),
        "server": server_config(args.workers, args.threads),
    }
    if {"latency", "load"} & set(args.parts):
        with serving(index, args.workers, args.threads) as server:
            if "latency" in args.parts:
                # The server workers' thread count, so http_p50_over_engine_p50 isolates what HTTP adds.
                engine = Engine.open(Settings.from_env(index=index, threads=result["server"]["threads"]))
                result["latency"] = latency_report(measure_latency(engine, server, questions, args.rounds))
            if "load" in args.parts:
                result["load"] = measure_load(server, questions, args.seconds, args.connections, warm_up=not args.tiny)
    if "cold" in args.parts:
        result["cold_start"] = measure_cold(index, args.cold_runs, warm_up=not args.tiny)
    return result


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    args.command = " ".join([".venv/bin/python -m benchmarks.latency", *(sys.argv[1:] if argv is None else argv)])
    with tempfile.TemporaryDirectory(prefix="qa-bench-latency-") as scratch:
        index = args.index or build_seeds(Path(scratch))
        result = run(args, index)
    print(markdown(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
