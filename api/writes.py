"""The HTTP edge of writes: the bearer token, the body size limit and JSON parsing, before the Engine sees a body."""

from __future__ import annotations

import hmac

import orjson
from fastapi import HTTPException, Request

from .schemas import ArticleIn, ArticlesIn, ErrorOut

MAX_BODY = 8 * 2**20
WRITE_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 403, 404, 413)}
ARTICLES_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"anyOf": [ArticleIn.model_json_schema(), ArticlesIn.model_json_schema(
            ref_template="#/components/schemas/{model}")]}}},
    }
}


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
        raise HTTPException(400, 'body must be JSON: one article {"text": "...", "title": "..."} or {"articles": [...]}') from None
