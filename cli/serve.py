"""`qa serve`: the HTTP app (api/) on uvicorn, one process or several, or on Ray Serve."""

from __future__ import annotations

import os
from dataclasses import replace

import click

from . import common
from .common import INDEX_HELP, echo_err


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--index", "index", help=INDEX_HELP)
@click.option("--workers", type=click.IntRange(min=1), help="Server processes (default: one per core).")
@click.option("--threads", type=click.IntRange(min=1), help="ONNX Runtime threads per process (default: $QA_THREADS or 2 x cores / workers).")
@click.option("--ray", "ray_address", metavar="ADDRESS", help="Serve on Ray Serve: `local`, `auto` or host:port.")
@click.option("--shards", type=click.IntRange(min=1), default=1, show_default=True, help="Shard deployments (with --ray).")
@click.option("--replicas", type=click.IntRange(min=1), default=1, show_default=True, help="Replicas per shard (with --ray).")
def serve(host: str, port: int, index: str | None, workers: int | None, threads: int | None, ray_address: str | None,
          shards: int, replicas: int) -> None:
    """Serve the HTTP API and the web form."""
    import uvicorn

    from api.protocol import SERVER_OPTIONS
    from qa.engine import Engine
    from qa.settings import serving_plan

    settings = common.settings(index)
    _port_free(host, port)
    if ray_address:
        try:
            from api.ray_serve import run
        except ImportError:
            raise click.ClickException("--ray needs Ray: pip install '.[ray]' (make install-ray)") from None
        Engine.open(settings, build_missing=common.builds_seeds(index), notify=echo_err)  # builds or checks the index
        click.echo(f"serving {settings.index} on Ray Serve at http://{host}:{port} ({shards} shards x {replicas} replicas)", err=True)
        run(replace(settings, threads=threads or settings.threads), ray_address, host, port, shards, replicas)
        return
    workers, threads = serving_plan(workers, threads or settings.threads)
    settings = replace(settings, threads=threads)
    engine = Engine.open(settings, build_missing=common.builds_seeds(index), notify=echo_err)
    click.echo(
        f"serving {engine.view().counts()['passages']} passages from {settings.index} on http://{host}:{port} "
        f"({workers} workers x {settings.threads} ONNX threads)",
        err=True,
    )
    if workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="warning", **SERVER_OPTIONS)
        return
    del engine  # opened only to build or check the index; each worker loads its own from the environment
    os.environ.update(
        QA_INDEX=str(settings.index), QA_MODEL=settings.model, QA_THREADS=str(settings.threads),
        QA_QUERY_INT8="1" if settings.query_int8 else "",
    )
    _serve_workers(uvicorn.Config("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                                  log_level="warning", **SERVER_OPTIONS))


def _port_free(host: str, port: int) -> None:
    """Fail before loading anything or saying "serving" when the address is taken (uvicorn says so only after)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise click.ClickException(f"cannot serve on http://{host}:{port}: {exc.strerror or exc}; "
                                   "stop what uses it or pick another --port") from None


def _serve_workers(config) -> None:
    """uvicorn's multi-process server, on a listener that keeps TCP_NODELAY on the connections it accepts.

    uvicorn binds that listener with proto 0; accepted sockets inherit it and asyncio then leaves Nagle on, so every
    keep-alive answer after the first waited ~40 ms for the client's delayed ACK (uvicorn issue #3149).
    """
    import socket

    from uvicorn.supervisors import Multiprocess

    bound = config.bind_socket()
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    listener.set_inheritable(True)
    Multiprocess(config, sockets=[listener]).run()
