"""FastAPI app: JSON for machines and an HTML form for people, both over the same Engine.ask."""


from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.answer import Answer, Results
from qa.engine import MAX_K, MAX_QUESTION, Engine
from qa.errors import QAError
from qa.settings import Settings

from .schemas import ArticleOut, ArticleText, AskRequest, AskResponse, ErrorOut, SearchResponse

TEMPLATES = Path(__file__).parent / "templates"
RULES = {
    "q": f"question must be 1-{MAX_QUESTION} characters of text",
    "question": f"question must be 1-{MAX_QUESTION} characters of text",
    "k": f"k must be an integer from 1 to {MAX_K}",
    "outlet": "outlet must be a string",
    "since": "since must be a date in ISO format YYYY-MM-DD",
    "until": "until must be a date in ISO format YYYY-MM-DD",
}
BODY_RULE = 'body must be a JSON object like {"question": "...", "k": 5}'
ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}


def _validation_message(exc: RequestValidationError) -> str:
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        if error.get("type") in ("json_invalid", "model_attributes_type", "dict_type") or loc in (["body"], []):
            return BODY_RULE
        field = loc[-1]
        if error.get("type") == "missing":
            return f"{field} is required: " + RULES.get(field, BODY_RULE)
        if field in RULES:
            return RULES[field]
        return f"{field}: {error.get('msg', 'invalid value')}; " + BODY_RULE
    return BODY_RULE


def segments(text: str, highlight: dict, span: tuple[int, int] | None) -> list[tuple[str, str]]:
    """Split a passage into (kind, text) pieces: plain, the marked sentence, and the bold answer span inside it."""
    h0, h1 = highlight["start"], highlight["end"]
    if span is None or not (h0 <= span[0] < span[1] <= h1):
        return [("plain", text[:h0]), ("mark", text[h0:h1]), ("plain", text[h1:])]
    return [
        ("plain", text[:h0]), ("mark", text[h0 : span[0]]), ("span", text[span[0] : span[1]]),
        ("mark", text[span[1] : h1]), ("plain", text[h1:]),
    ]


def _json(answer: Answer | Results) -> Response:
    return Response(answer.to_json(), media_type="application/json")


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The app for one engine; it loads (and if needed builds) the configured index when none is given."""
    settings = settings or Settings.from_env()
    engine = engine or Engine.open(settings, build_missing=True)
    app = FastAPI(title="News QA", description="Answers with sources from news articles.", version="0.1.0")
    templates = Jinja2Templates(directory=str(TEMPLATES))

    @app.exception_handler(QAError)
    def qa_error(request: Request, exc: QAError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "not found: see /docs for the endpoints" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse({"error": message}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "internal error; the server log has details"}, status_code=500)

    # /ask is the hot path. It runs on the event loop, not in the thread pool: the hop cost ~0.4 ms of a ~4 ms
    # answer. The price is that one worker answers one question at a time (and /health waits behind it); `qa serve`
    # runs a worker per core for concurrency. The answer is serialised once by orjson; response_model only documents
    # it (tests/test_api.py checks the two agree).
    @app.get("/ask", response_model=AskResponse, responses=ERRORS)
    async def ask_get(
        q: str = Query(..., description="The question"),
        k: int = Query(5, description=f"Passages to return, 1-{MAX_K}"),
        outlet: str | None = None,
        since: str | None = Query(None, description="YYYY-MM-DD"),
        until: str | None = Query(None, description="YYYY-MM-DD"),
    ) -> Response:
        return _json(engine.ask(q, k=k, outlet=outlet, since=since, until=until))

    @app.post("/ask", response_model=AskResponse, responses=ERRORS)
    async def ask_post(body: AskRequest) -> Response:
        return _json(engine.ask(body.question, k=body.k, outlet=body.outlet, since=body.since, until=body.until))

    # The passages without the reader, for clients that only want them; same parameters, same passages.
    @app.get("/search", response_model=SearchResponse, responses=ERRORS)
    async def search_get(
        q: str = Query(..., description="The question"),
        k: int = Query(5, description=f"Passages to return, 1-{MAX_K}"),
        outlet: str | None = None,
        since: str | None = Query(None, description="YYYY-MM-DD"),
        until: str | None = Query(None, description="YYYY-MM-DD"),
    ) -> Response:
        return _json(engine.search(q, k=k, outlet=outlet, since=since, until=until))

    @app.post("/search", response_model=SearchResponse, responses=ERRORS)
    async def search_post(body: AskRequest) -> Response:
        return _json(engine.search(body.question, k=body.k, outlet=body.outlet, since=body.since, until=body.until))

    @app.get("/articles", response_model=list[ArticleOut])
    def articles() -> list[dict]:
        return engine.articles()

    @app.get("/articles/{article_id:path}", response_model=ArticleText, responses=ERRORS)
    def article(article_id: str) -> dict:
        return engine.article(article_id)

    @app.get("/health")
    def health() -> dict:
        manifest = engine.index.manifest
        return {"status": "ok", "model": manifest["model"]["name"], **manifest["counts"]}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def form(
        request: Request,
        q: str | None = None,
        k: str = "5",
        outlet: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> HTMLResponse:
        context = {"q": q or "", "k": k, "outlet": outlet or "", "since": since or "", "until": until or ""}
        status, answer, error = 200, None, None
        if q is not None:
            try:
                kk = int(k) if k.strip().lstrip("-").isdigit() else -1
                answer = engine.ask(q, k=kk, outlet=outlet or None, since=since or None, until=until or None)
            except QAError as exc:
                status, error = exc.status, str(exc)
        return templates.TemplateResponse(
            request, "index.html", {**context, "answer": answer, "error": error, "segments": segments}, status_code=status
        )

    @app.get("/read/{article_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def read(request: Request, article_id: str, start: int = 0, end: int = 0) -> HTMLResponse:
        try:
            doc = engine.article(article_id)
        except QAError as exc:
            return templates.TemplateResponse(request, "article.html", {"error": str(exc), "doc": None}, status_code=exc.status)
        text = doc["text"]
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        parts = [("plain", text[:start]), ("mark", text[start:end]), ("plain", text[end:])] if end > start else [("plain", text)]
        return templates.TemplateResponse(request, "article.html", {"doc": doc, "parts": parts, "error": None})

    return app
