"""Security headers on every response: no MIME sniffing, no framing, and a Content-Security-Policy that allows the
pages' own inline style and copy-button handler by hash (never 'unsafe-inline' for scripts).

The hashes are taken from the templates when the app starts, so an edit to a template keeps its policy right; an
inline block or handler holding Jinja expressions would render differently from its template and must not be
added (move it to a static file instead).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path

_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_HANDLER = re.compile(r'\son[a-z]+="([^"]*)"')


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_policy(templates: Path) -> str:
    """The policy of the HTML pages and the JSON alike: only the templates' own inline style and handlers run."""
    texts = [p.read_text() for p in sorted(Path(templates).glob("*.html"))]
    styles = sorted({_hash(s) for t in texts for s in _STYLE.findall(t)})
    handlers = sorted({_hash(html.unescape(h)) for t in texts for h in _HANDLER.findall(t)})
    scripts = " ".join(["'unsafe-hashes'", *handlers]) if handlers else "'none'"
    return (f"default-src 'none'; style-src {' '.join(styles) or 'none'}; script-src {scripts}; img-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def docs_policy(page: str) -> str:
    """Swagger UI's page: its bundle from /static, its one inline start-up script by hash; it styles elements
    inline and draws icons from data: URIs, so styles and images are looser here than on the other pages."""
    scripts = " ".join(_hash(s) for s in _SCRIPT.findall(page))
    return (f"default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")


class SecurityHeaders:
    """Pure ASGI middleware adding the headers to every response (errors from the app included)."""

    def __init__(self, app, policy: str, docs: str | None = None):
        self.app, self.policy, self.docs = app, policy, docs

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = self.docs if self.docs and scope["path"] == "/docs" else self.policy
        extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                 (b"content-security-policy", policy.encode()), (b"referrer-policy", b"same-origin")]

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
