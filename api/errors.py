"""One error shape for every failure: a status and `{"error": "what was wrong and what is allowed"}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from qa.checks import explain
from qa.errors import QAError


def qa_error(request: Request, exc: QAError) -> JSONResponse:
    retry = getattr(exc, "retry_after", None)
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers={"Retry-After": str(retry)} if retry else None)


def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI checked a parameter or body against the core's rules (qa/checks.py): the message is the rule's own.
    errors = exc.errors()
    return JSONResponse({"error": explain(errors[0] if errors else {})}, status_code=400)


def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = "not found: see /docs for the endpoints" if exc.status_code == 404 else str(exc.detail)
    headers = exc.headers
    if exc.status_code == 405:
        allowed = allowed_methods(request.app.state.routes, request)
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        message = f"method {request.method} not allowed here; allowed: {', '.join(allowed)}"
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=headers)


def unexpected(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "internal error; the server log has details"}, status_code=500)


def allowed_methods(routes: list[BaseRoute], request: Request) -> list[str]:
    """Every method some route answers on this path: Starlette's own Allow names only the first route's (GET /ask
    and POST /ask are two routes)."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")  # api.app.HeadAsGet
    return sorted(methods)


def install(app: FastAPI) -> None:
    """The handlers that give every error the one shape."""
    app.add_exception_handler(QAError, qa_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
