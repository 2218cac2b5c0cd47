"""Where a Ray-served question's time goes: the real ingress, with its encoder, fan-out and reader timed from inside.

Served by benchmarks/ray_bench.py (`--parts probe`). Each timed step records its wall time, the CPU time of the
ingress process, how long the ingress's threads sat runnable but not running (the kernel's run-queue wait,
/proc/self/task/*/schedstat), and the CPU every other process on the machine used meanwhile (/proc/PID/stat), so a
slow step is split into "worked longer" and "waited for a core someone else held", with the someone named.
`GET /_probe` returns the records and clears them; `GET /_read_alone?n=` reads the last question's windows again
back to back in the same process, with no Ray call between, as the baseline for the reader.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from ray import serve

from api.ray_serve import REPLICA_CPUS, _Remote, ingress_engine, plain, unplain

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _own_threads() -> tuple[float, float]:
    """(CPU ms, run-queue wait ms) summed over this process's threads."""
    cpu = wait = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            run, queued, _ = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        cpu += int(run)
        wait += int(queued)
    return cpu / 1e6, wait / 1e6


def _processes() -> dict[int, tuple[str, float]]:
    """CPU ms (user + system, all threads) of every process, with a short name."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(entry)] = (name, (int(fields[11]) + int(fields[12])) * TICK_MS)
    return out


class Probe:
    """Wraps callables of an Engine so each call leaves a record."""

    def __init__(self, sleep_before_read_ms: float = 0.0):
        self.records: list[dict] = []
        self.sleep_before_read_ms = sleep_before_read_ms
        self.last_read: tuple | None = None
        self._lock = threading.Lock()

    def wrap(self, step: str, fn, others: bool = False):
        def timed(*args, **kwargs):
            if step == "read" and args[1]:  # the reports' reads may have no other article to read
                self.last_read = (fn, args, kwargs)
                if self.sleep_before_read_ms:
                    time.sleep(self.sleep_before_read_ms / 1000)
            before = _processes() if others else None
            cpu0, wait0 = _own_threads()
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                wall = (time.perf_counter() - t) * 1000
                cpu1, wait1 = _own_threads()
                record = {"step": step, "wall_ms": wall, "cpu_ms": cpu1 - cpu0, "runq_wait_ms": wait1 - wait0}
                if before is not None:
                    after, me = _processes(), os.getpid()
                    record["others_ms"] = {f"{after[p][0]}:{p}": after[p][1] - before[p][1]
                                           for p in after if p in before and p != me and after[p][1] > before[p][1]}
                with self._lock:
                    self.records.append(record)

        return timed


@serve.deployment(ray_actor_options={"num_cpus": REPLICA_CPUS})
@serve.ingress()
class ProbeIngress:
    def __init__(self, shards: list, settings: dict, sleep_before_read_ms: float = 0.0):
        self.settings, self.shards = unplain(settings), shards
        self.probe = Probe(sleep_before_read_ms)

    def __serve_build_asgi_app__(self):
        from fastapi import FastAPI

        from api.app import create_app

        engine = ingress_engine(self.settings, [_Remote(h) for h in self.shards])
        probe = self.probe
        engine.encoder.encode = probe.wrap("encode", engine.encoder.encode)
        engine.live.fan_out = probe.wrap("fan_out", engine.live.fan_out)
        engine.reader.read = probe.wrap("read", engine.reader.read, others=True)
        app: FastAPI = create_app(self.settings, engine, offload=True)

        @app.get("/_probe")
        def records() -> dict:
            with probe._lock:
                out, probe.records = probe.records, []
            return {"records": out, "pid": os.getpid(), "nice": os.getpriority(os.PRIO_PROCESS, 0),
                    "affinity": sorted(os.sched_getaffinity(0)), "threads": engine.reader._session.get_session_options().intra_op_num_threads,
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}

        @app.get("/_read_alone")
        def read_alone(n: int = 20) -> dict:
            fn, args, kwargs = probe.last_read
            alone = Probe()
            timed = alone.wrap("read_alone", fn, others=True)
            for _ in range(n):
                timed(*args, **kwargs)
            return {"records": alone.records}

        return app


def application(settings, shards: int = 1, sleep_before_read_ms: float = 0.0):
    """The real app with the probing ingress in place of the plain one."""
    from api.ray_serve import Shard
    from index.store import newest_commit

    commit = newest_commit(settings.index)
    shard_apps = [Shard.options(name=f"Shard{i}").bind(str(settings.index), i, shards, commit.model["name"])
                  for i in range(shards)]
    return ProbeIngress.bind(shard_apps, plain(settings), sleep_before_read_ms)
