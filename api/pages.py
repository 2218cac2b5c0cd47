"""The pages for people: the question form, the reading view and /docs. Every page has a JSON twin in routes.py."""

from __future__ import annotations

from pathlib import Path as FilePath

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from qa.engine import Engine
from qa.errors import QAError
from qa.render import filter_notes, mark_parts, where_in_story

from .routes import get_engine, run

TEMPLATES = FilePath(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters["where_in_story"] = where_in_story  # the CLI text's words for a report's place
router = APIRouter(include_in_schema=False)
# Swagger UI's own assets, from the installed swagger-ui-py package (Swagger UI 5, which reads OpenAPI 3.1):
# FastAPI's default page loads them from a CDN, which leaves /docs blank offline (api/app.py mounts them).
DOCS_PAGE = get_swagger_ui_html(
    openapi_url="/openapi.json", title="News QA API", swagger_js_url="/static/swagger/swagger-ui-bundle.js",
    swagger_css_url="/static/swagger/swagger-ui.css", swagger_favicon_url="/static/swagger/favicon-32x32.png",
)


@router.get("/docs")
def docs() -> HTMLResponse:
    return DOCS_PAGE


def _int_or(value: str, default: int) -> int:
    """int() of a form field, or default: "²" passes str.isdigit but not int()."""
    try:
        return int(value)
    except ValueError:
        return default


@router.get("/", response_class=HTMLResponse)
async def form(
    request: Request,
    q: str | None = None,
    k: str = "5",
    outlet: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sort: str = "relevance",
    engine: Engine = Depends(get_engine),
) -> HTMLResponse:
    context = {"q": q or "", "k": k, "outlet": outlet or "", "since": since or "", "until": until or "", "sort": sort}
    status, answer, error = 200, None, None
    if q is not None:
        try:
            answer = await run(request, engine.ask, question=q, k=_int_or(k, -1), outlet=outlet or None,
                               since=since or None, until=until or None, sort=sort)
        except QAError as exc:
            status, error = exc.status, str(exc)
    known = await run_in_threadpool(engine.outlets)  # on Ray it waits on the shards: never on the event loop
    return templates.TemplateResponse(
        request, "index.html",
        {**context, "answer": answer, "error": error, "mark_parts": mark_parts, "known": known,
         "notes": filter_notes(answer) if answer else []},
        status_code=status,
    )


@router.get("/read/{article_id:path}", response_class=HTMLResponse)
def read(request: Request, article_id: str, start: int = 0, end: int = 0, span_start: int = 0, span_end: int = 0,
         engine: Engine = Depends(get_engine)) -> HTMLResponse:
    try:
        doc = engine.article(article_id)
    except QAError as exc:
        return templates.TemplateResponse(request, "article.html", {"error": str(exc), "doc": None}, status_code=exc.status)
    text = doc["text"]
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    span = (span_start, span_end) if start <= span_start < span_end <= end else None
    parts = mark_parts(text, {"start": start, "end": end}, span) if end > start else (text, [], "")
    return templates.TemplateResponse(request, "article.html", {"doc": doc, "parts": parts, "error": None})
