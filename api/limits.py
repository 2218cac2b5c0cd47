"""Request body caps, enforced before a body is read into memory: a declared Content-Length past the cap is refused
at once, and a body sent without one (chunked) is refused as soon as the bytes received pass it."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

# A question is at most 1000 characters: 4 KB of UTF-8, ~6 KB JSON-escaped, with room for the other fields.
DEFAULT_BODY = 16 * 1024


class BodyLimit:
    """Pure ASGI middleware: `larger` names (method, path) pairs allowed more than DEFAULT_BODY."""

    def __init__(self, app, larger: dict[tuple[str, str], int]):
        self.app, self.larger = app, larger

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.larger.get((scope["method"], scope["path"]), DEFAULT_BODY)
        message = f"body too large: at most {_size(limit)} here"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            text = message if status == 413 else "Content-Length must be a number of bytes"
            return await JSONResponse({"error": text}, status, headers={"Connection": "close"})(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    # Raised inside the app's own read, so its error handler answers with the usual JSON.
                    raise HTTPException(413, message, headers={"Connection": "close"})
            return event

        await self.app(scope, counted, send)


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 else f"{n // 1024} KiB"
