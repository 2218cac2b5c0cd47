"""The JSON routes: each parses its input, calls the Engine and returns what it gives."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from qa.answer import Answer, Results
from qa.checks import ARTICLE_ID, MAX_K, MAX_LIMIT, MAX_QUESTION, RULES, AskRequest, Page
from qa.engine import Engine

from .schemas import ArticleOut, ArticleText, AskResponse, ErrorOut, OutletsOut, SearchResponse, WriteOut
from .writes import ARTICLES_BODY, WRITE_ERRORS, check_token, read_json

ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}
router = APIRouter()


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def run(request: Request, method, **kwargs):
    """A question on the app's gate (api/gate.py), off the event loop, so /health and writes are answered while
    questions run (issue 19)."""
    return await request.app.state.run(method, **kwargs)


async def question_query(
    q: str = Query(..., min_length=1, max_length=MAX_QUESTION, description=RULES["question"]),
    k: int = Query(5, ge=1, le=MAX_K, description=RULES["k"]),
    outlet: str | None = Query(None, description="Only this outlet (GET /outlets lists them)"),
    since: str | None = Query(None, description=RULES["since"], json_schema_extra={"format": "date"}),
    until: str | None = Query(None, description=RULES["until"], json_schema_extra={"format": "date"}),
    sort: Literal["relevance", "date"] = Query("relevance", description="relevance, or date: newest first, undated last"),
) -> dict:
    """The query parameters /ask and /search share (AskRequest's rules), as Engine keyword arguments; async, so no
    thread-pool hop."""
    return {"question": q, "k": k, "outlet": outlet, "since": since, "until": until, "sort": sort}


def _json(answer: Answer | Results) -> Response:
    # Answers are serialised once by orjson; response_model only documents them (tests/test_api.py checks the two agree).
    return Response(answer.to_json(), media_type="application/json")


def _question_routes(path: str, method: str, model: type, description: str) -> None:
    """GET `path` with the question in the query, and POST with it in a JSON body: the same Engine method."""

    async def from_query(request: Request, asked: dict = Depends(question_query),
                         engine: Engine = Depends(get_engine)) -> Response:
        return _json(await run(request, getattr(engine, method), **asked))

    async def from_body(request: Request, body: AskRequest, engine: Engine = Depends(get_engine)) -> Response:
        return _json(await run(request, getattr(engine, method), **body.model_dump()))

    for verb, endpoint, said in (("GET", from_query, description), ("POST", from_body,
                                 f"As GET {path}, with the question in a JSON body.")):
        router.add_api_route(path, endpoint, methods=[verb], response_model=model, responses=ERRORS, description=said,
                             name=f"{method}_{verb.lower()}")


_question_routes("/ask", "ask", AskResponse,
                 "The answer (answered, uncertain, or not stated) with its source and citation, and the top passages.")
# The passages without the reader, for clients that only want them; same parameters, same passages.
_question_routes("/search", "search", SearchResponse,
                 "The top passages with their sources and best sentences, without the reader (faster).")


@router.get("/outlets", response_model=OutletsOut)
def outlets(engine: Engine = Depends(get_engine)) -> dict:
    """The outlets the index knows, with article counts, and the range of publication dates."""
    return engine.outlets()


@router.get("/articles", response_model=list[ArticleOut], responses=ERRORS)
def articles(
    response: Response,
    outlet: str | None = Query(None, description="Only this outlet (case-insensitive; GET /outlets lists them)"),
    since: str | None = Query(None, description="Published on or after, YYYY-MM-DD", json_schema_extra={"format": "date"}),
    until: str | None = Query(None, description="Published on or before, YYYY-MM-DD", json_schema_extra={"format": "date"}),
    limit: int = Query(MAX_LIMIT, ge=1, le=MAX_LIMIT, description=Page.model_fields["limit"].description),
    offset: int = Query(0, ge=0, description=Page.model_fields["offset"].description),
    engine: Engine = Depends(get_engine),
) -> list[dict]:
    """The articles matching the filters (metadata, no text), a page at a time; X-Total-Count says how many
    match in all."""
    page = engine.article_page(outlet, since, until, limit, offset)
    response.headers["X-Total-Count"] = str(page["total"])
    return page["articles"]


@router.get("/articles/{article_id:path}", response_model=ArticleText, responses=ERRORS)
def article(article_id: str = Path(..., pattern=ARTICLE_ID.pattern), engine: Engine = Depends(get_engine)) -> dict:
    """One article's metadata and the exact text that passage offsets refer to."""
    return engine.article(article_id)


@router.get("/health")
def health(engine: Engine = Depends(get_engine)) -> dict:
    """ok or degraded, the generation served, its segments and the article, passage and sentence counts."""
    return engine.health()


def writer(request: Request) -> None:
    """Writes need the server's token, compared in constant time; without one configured they are off."""
    check_token(request.app.state.settings.write_token, request.headers.get("authorization"))


@router.post("/articles", status_code=201, response_model=WriteOut, responses=WRITE_ERRORS,
             dependencies=[Depends(writer)], openapi_extra=ARTICLES_BODY, response_model_exclude_none=True)
async def add_articles(request: Request, force: bool = Query(
        False, description="Re-admit articles deleted earlier (their ids have tombstones); without it: 409"),
        engine: Engine = Depends(get_engine)) -> JSONResponse:
    """Add or replace articles (one object, or {"articles": [...]}) in one commit; needs the write token."""
    body = await read_json(request)
    return JSONResponse(await run_in_threadpool(engine.add, body, force), status_code=201)


@router.delete("/articles/{article_id:path}", response_model=WriteOut, responses=WRITE_ERRORS,
               dependencies=[Depends(writer)], response_model_exclude_none=True)
def delete_article(article_id: str = Path(..., pattern=ARTICLE_ID.pattern), engine: Engine = Depends(get_engine)) -> dict:
    """Delete one article; the id is remembered so builds do not bring it back. Needs the write token."""
    return engine.delete(article_id)
