"""The floor under any Serve app shaped like `qa serve --ray`: HTTP proxy -> FastAPI ingress -> one encoder call ->
one fan-out to the shards, with no work at any step. benchmarks/ray_bench.py serves it in the same run as the real
app, so what the real app adds over single-node `qa serve` splits into Serve's own hops and everything else."""

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
    def __init__(self, encoder, shards: list):
        self.encoder, self.shards = encoder, shards

    def __serve_build_asgi_app__(self):
        app = FastAPI()

        @app.get("/ask")
        async def ask(q: str) -> dict:
            vector = await self.encoder.call.remote(q)
            parts = [shard.call.remote(vector) for shard in self.shards]
            return {"q": q, "parts": [await p for p in parts]}

        return app


def application(shards: int = 2):
    return FloorIngress.bind(Stub.options(name="Encoder").bind(),
                             [Stub.options(name=f"Shard{i}").bind() for i in range(shards)])
