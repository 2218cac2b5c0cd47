"""FastAPI app: JSON for machines and an HTML form for people, both over the same Engine.ask."""

import os
from pathlib import Path as FilePath
from typing import Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from swagger_ui.utils import SWAGGER_UI_PY_ROOT

from qa.answer import Answer, Results
from qa.checks import ARTICLE_ID, ARTICLE_ID_RULE, MAX_K, MAX_QUESTION
from qa.engine import Engine
from qa.listing import MAX_LIMIT
from qa.errors import QAError
from qa.render import filter_notes, mark_parts
from qa.settings import Settings

from .schemas import ArticleOut, ArticleText, AskRequest, AskResponse, ErrorOut, OutletsOut, SearchResponse, WriteOut
from .gate import Gate
from .limits import BodyLimit
from .security import SecurityHeaders, docs_policy, page_policy
from .writes import ARTICLES_BODY, MAX_BODY, WRITE_ERRORS, check_token, read_json, with_article_schemas

TEMPLATES = FilePath(__file__).parent / "templates"
RULES = {
    "q": f"question must be 1-{MAX_QUESTION} characters of text",
    "question": f"question must be 1-{MAX_QUESTION} characters of text",
    "k": f"k must be an integer from 1 to {MAX_K}",
    "outlet": "outlet must be a string",
    "since": "since must be a date in ISO format YYYY-MM-DD",
    "until": "until must be a date in ISO format YYYY-MM-DD",
    "article_id": ARTICLE_ID_RULE,
    "limit": f"limit must be an integer from 1 to {MAX_LIMIT}",
    "offset": "offset must be an integer of 0 or more",
}
BODY_RULE = 'body must be a JSON object like {"question": "...", "k": 5}'
ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}


def _validation_message(exc: RequestValidationError) -> str:
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        if error.get("type") in ("json_invalid", "model_attributes_type", "dict_type") or loc in (["body"], []):
            return BODY_RULE
        field = loc[-1]
        if error.get("type") == "string_unicode":
            return f"{field} must be valid Unicode text (it holds a lone surrogate)"
        if error.get("type") == "missing":
            return f"{field} is required: " + RULES.get(field, BODY_RULE)
        if field in RULES:
            return RULES[field]
        return f"{field}: {error.get('msg', 'invalid value')}; " + BODY_RULE
    return BODY_RULE


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


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route answers on this path: Starlette's own Allow names only the first route's (GET /ask
    and POST /ask are two routes)."""
    methods: set[str] = set()
    for route in app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")  # HeadAsGet
    return sorted(methods)


async def question_query(
    q: str = Query(..., min_length=1, max_length=MAX_QUESTION, description="The question"),
    k: int = Query(5, ge=1, le=MAX_K, description=f"Passages to return, 1-{MAX_K}"),
    outlet: str | None = Query(None, description="Only this outlet (GET /outlets lists them)"),
    since: str | None = Query(None, description="YYYY-MM-DD", json_schema_extra={"format": "date"}),
    until: str | None = Query(None, description="YYYY-MM-DD", json_schema_extra={"format": "date"}),
    sort: Literal["relevance", "date"] = Query("relevance", description="relevance, or date: newest first, undated last"),
) -> dict:
    """The query parameters /ask and /search share, as Engine keyword arguments; async, so no thread-pool hop."""
    return {"question": q, "k": k, "outlet": outlet, "since": since, "until": until, "sort": sort}


def _int_or(value: str, default: int) -> int:
    """int() of a form field, or default: "²" passes str.isdigit but not int()."""
    try:
        return int(value)
    except ValueError:
        return default


def _json(answer: Answer | Results) -> Response:
    return Response(answer.to_json(), media_type="application/json")


def create_app(settings: Settings | None = None, engine: Engine | None = None, offload: bool = False) -> FastAPI:
    """The app for one engine; it loads the configured index when none is given, and builds the seeds into the
    default location on first run (a configured index that is missing is an error, never a silent substitute).
    `offload` runs questions in the thread pool: on Ray Serve the engine waits on other deployments, which must not
    block the replica's event loop."""
    default = settings is None and not os.environ.get("QA_INDEX")
    settings = settings or Settings.from_env()
    engine = engine or Engine.open(settings, build_missing=default)
    app = FastAPI(
        title="News QA", description="Answers with sources from news articles.", version="0.1.0", docs_url=None, redoc_url=None
    )
    # Swagger UI's own assets, from the installed swagger-ui-py package (Swagger UI 5, which reads OpenAPI 3.1):
    # FastAPI's default page loads them from a CDN, which leaves /docs blank offline.
    app.mount("/static/swagger", StaticFiles(directory=str(SWAGGER_UI_PY_ROOT / "static")), name="swagger")

    docs_page = get_swagger_ui_html(
        openapi_url="/openapi.json", title="News QA API", swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css", swagger_favicon_url="/static/swagger/favicon-32x32.png",
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return docs_page
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, larger={("POST", "/articles"): MAX_BODY})
    app.add_middleware(SecurityHeaders, policy=page_policy(TEMPLATES), docs=docs_policy(docs_page.body.decode()))
    app.openapi = lambda: with_article_schemas(app)
    gate = Gate(settings.ask_threads, settings.ask_queue)

    async def run(method, **kwargs):
        # Questions are CPU-bound: on the event loop they held /health and writes behind them (issue 19).
        return await run_in_threadpool(method, **kwargs) if offload else await gate.run(method, **kwargs)
    templates = Jinja2Templates(directory=str(TEMPLATES))

    @app.exception_handler(QAError)
    def qa_error(request: Request, exc: QAError) -> JSONResponse:
        retry = getattr(exc, "retry_after", None)
        return JSONResponse({"error": str(exc)}, status_code=exc.status,
                            headers={"Retry-After": str(retry)} if retry else None)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "not found: see /docs for the endpoints" if exc.status_code == 404 else str(exc.detail)
        headers = exc.headers
        if exc.status_code == 405:
            allowed = _allowed_methods(app, request)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            message = f"method {request.method} not allowed here; allowed: {', '.join(allowed)}"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "internal error; the server log has details"}, status_code=500)

    # /ask and /search run on the gate's threads (api/gate.py), off the event loop, so /health and writes are
    # answered while questions run. Answers are serialised once by orjson; response_model only documents them
    # (tests/test_api.py checks the two agree).
    @app.get("/ask", response_model=AskResponse, responses=ERRORS)
    async def ask_get(asked: dict = Depends(question_query)) -> Response:
        """The answer (answered, uncertain, or not stated) with its source and citation, and the top passages."""
        return _json(await run(engine.ask, **asked))

    @app.post("/ask", response_model=AskResponse, responses=ERRORS)
    async def ask_post(body: AskRequest) -> Response:
        """As GET /ask, with the question in a JSON body."""
        return _json(await run(engine.ask, **body.model_dump()))

    # The passages without the reader, for clients that only want them; same parameters, same passages.
    @app.get("/search", response_model=SearchResponse, responses=ERRORS)
    async def search_get(asked: dict = Depends(question_query)) -> Response:
        """The top passages with their sources and best sentences, without the reader (faster)."""
        return _json(await run(engine.search, **asked))

    @app.post("/search", response_model=SearchResponse, responses=ERRORS)
    async def search_post(body: AskRequest) -> Response:
        """As GET /search, with the question in a JSON body."""
        return _json(await run(engine.search, **body.model_dump()))

    @app.get("/outlets", response_model=OutletsOut)
    def outlets() -> dict:
        """The outlets the index knows, with article counts, and the range of publication dates."""
        return engine.outlets()

    @app.get("/articles", response_model=list[ArticleOut], responses=ERRORS)
    def articles(
        response: Response,
        outlet: str | None = Query(None, description="Only this outlet (case-insensitive; GET /outlets lists them)"),
        since: str | None = Query(None, description="Published on or after, YYYY-MM-DD", json_schema_extra={"format": "date"}),
        until: str | None = Query(None, description="Published on or before, YYYY-MM-DD", json_schema_extra={"format": "date"}),
        limit: int = Query(MAX_LIMIT, ge=1, le=MAX_LIMIT, description=f"At most this many, 1-{MAX_LIMIT}"),
        offset: int = Query(0, ge=0, description="Skip this many matching articles first"),
    ) -> list[dict]:
        """The articles matching the filters (metadata, no text), a page at a time; X-Total-Count says how many
        match in all."""
        page = engine.article_page(outlet, since, until, limit, offset)
        response.headers["X-Total-Count"] = str(page["total"])
        return page["articles"]

    @app.get("/articles/{article_id:path}", response_model=ArticleText, responses=ERRORS)
    def article(article_id: str = Path(..., pattern=ARTICLE_ID.pattern)) -> dict:
        """One article's metadata and the exact text that passage offsets refer to."""
        return engine.article(article_id)

    @app.get("/health")
    def health() -> dict:
        """ok or degraded, the generation served, its segments and the article, passage and sentence counts."""
        manifest = engine.view().manifest
        shards = {"shards": manifest["shards"]} if "shards" in manifest else {}  # on Ray: each shard's generation
        # A newest generation that cannot be opened: the last good one is served, and this says which and why.
        problem = getattr(engine.live, "problem", None)
        newest = {"newest": problem} if problem else {}
        return {"status": "degraded" if problem else "ok", "model": manifest["model"]["name"],
                "generation": manifest["generation"], "segments": manifest["segments"], **manifest["counts"],
                **shards, **newest}

    def writer(request: Request) -> None:
        """Writes need the server's token, compared in constant time; without one configured they are off."""
        check_token(settings.write_token, request.headers.get("authorization"))

    @app.post("/articles", status_code=201, response_model=WriteOut, responses=WRITE_ERRORS,
              dependencies=[Depends(writer)], openapi_extra=ARTICLES_BODY, response_model_exclude_none=True)
    async def add_articles(request: Request, force: bool = Query(
            False, description="Re-admit articles deleted earlier (their ids have tombstones); without it: 409")) -> JSONResponse:
        """Add or replace articles (one object, or {"articles": [...]}) in one commit; needs the write token."""
        body = await read_json(request)
        return JSONResponse(await run_in_threadpool(engine.add, body, force), status_code=201)

    @app.delete("/articles/{article_id:path}", response_model=WriteOut, responses=WRITE_ERRORS,
                dependencies=[Depends(writer)], response_model_exclude_none=True)
    def delete_article(article_id: str = Path(..., pattern=ARTICLE_ID.pattern)) -> dict:
        """Delete one article; the id is remembered so builds do not bring it back. Needs the write token."""
        return engine.delete(article_id)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def form(
        request: Request,
        q: str | None = None,
        k: str = "5",
        outlet: str | None = None,
        since: str | None = None,
        until: str | None = None,
        sort: str = "relevance",
    ) -> HTMLResponse:
        context = {"q": q or "", "k": k, "outlet": outlet or "", "since": since or "", "until": until or "", "sort": sort}
        status, answer, error = 200, None, None
        if q is not None:
            try:
                kk = _int_or(k, -1)
                answer = await run(engine.ask, question=q, k=kk, outlet=outlet or None, since=since or None,
                                   until=until or None, sort=sort)
            except QAError as exc:
                status, error = exc.status, str(exc)
        known = await run_in_threadpool(engine.outlets)  # on Ray it waits on the shards: never on the event loop
        return templates.TemplateResponse(
            request, "index.html",
            {**context, "answer": answer, "error": error, "mark_parts": mark_parts, "known": known,
             "notes": filter_notes(answer) if answer else []},
            status_code=status,
        )

    @app.get("/read/{article_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def read(
        request: Request, article_id: str, start: int = 0, end: int = 0, span_start: int = 0, span_end: int = 0
    ) -> HTMLResponse:
        try:
            doc = engine.article(article_id)
        except QAError as exc:
            return templates.TemplateResponse(request, "article.html", {"error": str(exc), "doc": None}, status_code=exc.status)
        text = doc["text"]
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        span = (span_start, span_end) if start <= span_start < span_end <= end else None
        parts = mark_parts(text, {"start": start, "end": end}, span) if end > start else (text, [], "")
        return templates.TemplateResponse(request, "article.html", {"doc": doc, "parts": parts, "error": None})

    return app
