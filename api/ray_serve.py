"""`qa serve --ray ADDRESS`: the same routes and JSON as `qa serve`, as a Ray Serve application.

    Ingress (FastAPI: the app of api/app.py over an Engine) --> QueryEncoder (replicas, autoscaled on load)
                                                            --> Shard 0..N-1 (each with replicas), one fan-out

A shard serves the segments whose names hash to it (index.store.shard_of) and follows new generations itself, so
writes reach every shard replica on its next request. The Engine on the ingress runs fusion, picking and the reader
once over the merged candidates (qa/shards.py), so answers equal a single node's.
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
from qa.shards import TIMEOUT_S, ShardedIndex, Unavailable, shard_candidates, shard_summary

from .app import create_app

# Fractional CPUs: on a small machine whole ones would leave the deployments waiting for each other's cores.
REPLICA_CPUS = 0.25


@serve.deployment(ray_actor_options={"num_cpus": REPLICA_CPUS},
                  autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 4})
class QueryEncoder:
    def __init__(self, folder: str, model: str, file: str):
        self.encoder = open_encoder(Path(folder), model, 1, file, spin_us=QUERY_SPIN_US)

    def encode(self, texts: list[str]):
        return self.encoder.encode(texts)


@serve.deployment(ray_actor_options={"num_cpus": REPLICA_CPUS})
class Shard:
    def __init__(self, root: str, shard: int, shards: int, model: str):
        single_thread_faiss()
        self.live = LiveIndex(Path(root), model, shard=(shard, shards))
        self._summary: dict | None = None

    def summary(self) -> dict:
        view = self.live.view()
        if self._summary is None or self._summary["generation"] != view.generation:
            self._summary = shard_summary(view)  # its term table walks every term: once per generation
        return self._summary

    def candidates(self, *args) -> dict:
        return shard_candidates(self.live.view(), *args)

    def articles(self) -> list[dict]:
        return self.live.view().live_articles_list()

    def article(self, article_id: str) -> dict | None:
        return self.live.view().article(article_id)


class _Remote:
    """A deployment handle called the way qa/shards.py calls a shard: client(method, *args).result(timeout_s)."""

    def __init__(self, handle):
        self.handle = handle

    def __call__(self, method: str, *args):
        return getattr(self.handle, method).remote(*args)


class _RemoteEncoder:
    def __init__(self, handle, timeout_s: float = TIMEOUT_S):
        self.handle, self.timeout_s = handle, timeout_s

    def encode(self, texts: list[str]):
        try:
            return self.handle.encode.remote(list(texts)).result(timeout_s=self.timeout_s)
        except Exception as exc:  # noqa: BLE001
            raise Unavailable(f"the query encoder did not answer ({type(exc).__name__}); retry in a moment") from None


@serve.deployment(ray_actor_options={"num_cpus": REPLICA_CPUS})
@serve.ingress()
class Ingress:
    def __init__(self, encoder, shards: list, settings: dict):
        self.settings = Settings(**{**settings, "index": Path(settings["index"]), "reader": Path(settings["reader"]),
                                    "seeds": Path(settings["seeds"])})
        self.encoder, self.shards = encoder, shards

    def __serve_build_asgi_app__(self):
        model = newest_commit(self.settings.index).model
        index = ShardedIndex([_Remote(h) for h in self.shards], model)
        engine = Engine(index, _RemoteEncoder(self.encoder), Reader(self.settings.reader, 1), self.settings)
        return create_app(self.settings, engine, offload=True)


def application(settings: Settings, shards: int = 1, replicas: int = 1):
    """The bound Serve application for the index in settings."""
    commit = newest_commit(settings.index)
    encoder = QueryEncoder.bind(str(settings.index / commit.model_dir), commit.model["name"], query_model_file(settings))
    shard_apps = [Shard.options(name=f"Shard{i}", num_replicas=replicas).bind(str(settings.index), i, shards,
                                                                             commit.model["name"])
                  for i in range(shards)]
    plain = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
    return Ingress.bind(encoder, shard_apps, plain)


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
