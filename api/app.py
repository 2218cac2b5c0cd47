"""The HTTP app: JSON for machines (routes.py) and pages for people (pages.py), both over one Engine in app.state."""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from swagger_ui.utils import SWAGGER_UI_PY_ROOT

from qa.engine import Engine
from qa.settings import Settings

from . import errors, pages, routes
from .gate import Gate
from .limits import BodyLimit
from .security import SecurityHeaders, docs_policy, page_policy
from .writes import MAX_BODY, with_article_schemas


class HeadAsGet:
    """HEAD on every GET route: FastAPI routes answer only the methods they declare, while HTTP expects HEAD
    wherever GET works (link checkers and monitors send it). Answered as GET with the body left out."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def without_body(message) -> None:
            await send({**message, "body": b""} if message["type"] == "http.response.body" else message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


def create_app(settings: Settings | None = None, engine: Engine | None = None, offload: bool = False) -> FastAPI:
    """The app for one engine; it loads the configured index when none is given, and builds the seeds into the
    default location on first run (a configured index that is missing is an error, never a silent substitute).
    `offload` runs questions in the thread pool: on Ray Serve the engine waits on other deployments, which must not
    block the replica's event loop."""
    default = settings is None and not os.environ.get("QA_INDEX")
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="News QA", description="Answers with sources from news articles.", version="0.1.0", docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.engine = engine or Engine.open(settings, build_missing=default)
    gate = Gate(settings.ask_threads, settings.ask_queue)

    async def offloaded(method, **kwargs):
        return await run_in_threadpool(method, **kwargs)

    # Questions are CPU-bound: on the event loop they held /health and writes behind them (issue 19).
    app.state.run = offloaded if offload else gate.run
    app.mount("/static/swagger", StaticFiles(directory=str(SWAGGER_UI_PY_ROOT / "static")), name="swagger")
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, larger={("POST", "/articles"): MAX_BODY})
    app.add_middleware(SecurityHeaders, policy=page_policy(pages.TEMPLATES), docs=docs_policy(pages.DOCS_PAGE.body.decode()))
    app.openapi = lambda: with_article_schemas(app)
    errors.install(app)
    app.include_router(routes.router)
    app.include_router(pages.router)
    # The routes as declared, for 405's Allow (api/errors.py): app.routes wraps an included router's as one entry.
    app.state.routes = [*routes.router.routes, *pages.router.routes]
    return app
