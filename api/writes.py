"""The HTTP edge of writes: the bearer token, the body size limit and JSON parsing, before the Engine sees a body."""

from __future__ import annotations

import hmac
import json

import orjson
from fastapi import HTTPException, Request

from .schemas import ArticleIn, ArticlesIn, ErrorOut

MAX_BODY = 8 * 2**20
WRITE_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 403, 404, 413)}
_REF = "#/components/schemas/{model}"
ARTICLES_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"anyOf": [{"$ref": _REF.format(model="ArticleIn")},
                                                              {"$ref": _REF.format(model="ArticlesIn")}]}}},
    }
}


def with_article_schemas(app) -> dict:
    """FastAPI's OpenAPI document with ArticleIn and ArticlesIn in its components: POST /articles reads its body
    itself (to cap it), so FastAPI does not list the models its request body refers to."""
    from fastapi.openapi.utils import get_openapi
    from pydantic.json_schema import models_json_schema

    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, defs = models_json_schema([(ArticleIn, "validation"), (ArticlesIn, "validation")], ref_template=_REF)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = schema
    return app.openapi_schema


def check_token(expected: str | None, header: str | None) -> None:
    """403 when writes are off or the token is wrong, 401 when none is given."""
    if not expected:
        raise HTTPException(403, "writes are disabled on this server: start it with QA_WRITE_TOKEN set")
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "writes need the header Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise HTTPException(403, "wrong write token")


async def read_json(request: Request) -> object:
    """The body as JSON, refused with 413 past MAX_BODY (counted as it arrives, not trusted from Content-Length)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"body too large: at most {MAX_BODY // 2**20} MiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"body too large: at most {MAX_BODY // 2**20} MiB")
    try:
        return orjson.loads(bytes(body))
    except orjson.JSONDecodeError:
        pass
    try:
        # orjson refuses a lone surrogate escape ("\ud800"); the standard parser reads it, so the article check
        # can name the field that holds it instead of calling the whole body not JSON.
        return json.loads(bytes(body))
    except (ValueError, RecursionError):
        raise HTTPException(400, 'body must be JSON: one article {"text": "...", "title": "..."} or {"articles": [...]}') from None
