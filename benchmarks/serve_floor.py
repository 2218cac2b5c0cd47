"""The floor under any Serve app shaped like `qa serve --ray`: HTTP proxy -> FastAPI ingress -> one fan-out to the
shards, with no work at any step (the ingress encodes and reads itself, so it makes no other call).
benchmarks/ray_bench.py serves it in the same run as the real app, so what the real app adds over single-node
`qa serve` splits into Serve's own hops and everything else."""

from __future__ import annotations

from fastapi import FastAPI
from ray import serve

from api.ray_serve import REPLICA_CPUS


@serve.deployment(ray_actor_options={"num_cpus": REPLICA_CPUS})
class Stub:
    def call(self, *args) -> list:
        return [0.0]


@serve.deployment(ray_actor_options={"num_cpus": REPLICA_CPUS})
@serve.ingress()
class FloorIngress:
    def __init__(self, shards: list):
        self.shards = shards

    def __serve_build_asgi_app__(self):
        app = FastAPI()

        # A plain def runs in the thread pool and waits on the shards with .result(), as the real ingress's Engine
        # does (api/app.py offload=True).
        @app.get("/ask")
        def ask(q: str) -> dict:
            parts = [shard.call.remote(q) for shard in self.shards]
            return {"q": q, "parts": [p.result(timeout_s=10) for p in parts]}

        return app


def application(shards: int = 2):
    return FloorIngress.bind([Stub.options(name=f"Shard{i}").bind() for i in range(shards)])
