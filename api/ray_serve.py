"""`qa serve --ray ADDRESS`: the same routes and JSON as `qa serve`, as a Ray Serve application.

    Ingress (FastAPI: the app of api/app.py over an Engine that encodes and reads itself)
        --> Shard 0..N-1 (each with replicas), one fan-out per question

A shard serves the segments whose names hash to it (index.store.shard_of) and follows new generations itself, so
writes reach every shard replica on its next request. The ingress encodes the question with the 8-bit query model
(a few ms, less than a Serve hop costs here), fans out once, and runs fusion, picking, the reader, the decision and
the reports over the merged candidates (qa/shards.py), so answers equal a single node's. An encoder deployment of
its own (the earlier shape) cost a hop per question; BENCHMARKS.md measures the two shapes.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from ray import serve

from index.encoder import open_encoder
from index.store import LiveIndex, newest_commit, single_thread_faiss
from qa.engine import QUERY_SPIN_US, Engine, query_model_file
from qa.reader import Reader
from qa.settings import Settings
from qa.shards import ShardedIndex, ShardService

from .app import create_app

# Fractional CPUs: on a small machine whole ones would leave the deployments waiting for each other's cores.
REPLICA_CPUS = 0.25
# ONNX threads of the ingress's encoder and reader when QA_THREADS does not say (see BENCHMARKS.md, "Ray Serve").
INGRESS_THREADS = 2


@serve.deployment(ray_actor_options={"num_cpus": REPLICA_CPUS})
class Shard(ShardService):
    def __init__(self, root: str, shard: int, shards: int, model: str):
        single_thread_faiss()
        super().__init__(LiveIndex(Path(root), model, shard=(shard, shards)))


class _Remote:
    """A deployment handle called the way qa/shards.py calls a shard: client(method, *args).result(timeout_s)."""

    def __init__(self, handle):
        self.handle = handle

    def __call__(self, method: str, *args):
        return getattr(self.handle, method).remote(*args)


@serve.deployment(ray_actor_options={"num_cpus": REPLICA_CPUS})
@serve.ingress()
class Ingress:
    def __init__(self, shards: list, settings: dict):
        self.settings, self.shards = unplain(settings), shards

    def __serve_build_asgi_app__(self):
        return create_app(self.settings, ingress_engine(self.settings, [_Remote(h) for h in self.shards]), offload=True)


def plain(settings: Settings) -> dict:
    """Settings as plain values, to pass to a deployment."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}


def unplain(settings: dict) -> Settings:
    return Settings(**{**settings, **{k: Path(settings[k]) for k in ("index", "reader", "seeds")}})


def ingress_engine(settings: Settings, shards: list) -> Engine:
    """The ingress's Engine: its own query encoder and reader over the shards' candidates."""
    commit = newest_commit(settings.index)
    threads = settings.threads or INGRESS_THREADS
    encoder = open_encoder(settings.index / commit.model_dir, commit.model["name"], threads, query_model_file(settings),
                           spin_us=QUERY_SPIN_US)
    return Engine(ShardedIndex(shards, commit.model), encoder, Reader(settings.reader, threads), settings)


def application(settings: Settings, shards: int = 1, replicas: int = 1):
    """The bound Serve application for the index in settings."""
    commit = newest_commit(settings.index)
    shard_apps = [Shard.options(name=f"Shard{i}", num_replicas=replicas).bind(str(settings.index), i, shards,
                                                                             commit.model["name"])
                  for i in range(shards)]
    return Ingress.bind(shard_apps, plain(settings))


def run(settings: Settings, address: str, host: str, port: int, shards: int, replicas: int) -> None:
    """Deploy on the cluster at address and serve until interrupted."""
    from index.ray_build import connect

    connect(address)
    serve.start(http_options={"host": host, "port": port})
    serve.run(application(settings, shards, replicas), name="qa", route_prefix="/")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        serve.shutdown()
