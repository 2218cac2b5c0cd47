"""uvicorn's httptools protocol with what uvicorn itself lacks: a deadline and a size cap for a request's line and
headers, and JSON bodies on the errors it answers by itself.

uvicorn has no header-read timeout (its keep-alive timer runs only between requests, and stops at a request's
first byte), so a client sending a request line slowly held its connection for as long as it liked; httptools has
no header size limit. `qa serve` runs with this class (SERVER_OPTIONS). Errors uvicorn raises elsewhere (a 503 from
`limit_concurrency`, a 500 when an app fails before answering) stay uvicorn's plain text: README says so.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Options for uvicorn.run / uvicorn.Config. timeout_keep_alive is uvicorn's idle time between requests.
SERVER_OPTIONS = {"http": "api.protocol:GuardedHttpTools", "timeout_keep_alive": 5}


class GuardedHttpTools(HttpToolsProtocol):
    """Closes a connection whose request line and headers are not in within HEAD_TIMEOUT seconds (408), or pass
    MAX_HEAD bytes (431), and answers malformed requests with `{"error": ...}`."""

    HEAD_TIMEOUT = 10.0
    MAX_HEAD = 32 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_bytes, self._head_timer, self._refusal = 0, None, None
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.HEAD_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self.MAX_HEAD:
            # httptools turns this into a parser error, which uvicorn answers through send_400_response.
            self._refusal = (431, f"request line and headers too large: at most {self.MAX_HEAD // 1024} KiB")
            raise ValueError("headers too large")

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self._refusal = (408, f"request line and headers not received within {self.HEAD_TIMEOUT:g} s")
            self.send_400_response("")

    def send_400_response(self, msg: str) -> None:
        status, message = self._refusal or (400, f"malformed HTTP request ({msg.rstrip('.').lower()})")
        body = json.dumps({"error": message}).encode()
        reason = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body), b"connection: close\r\n"]
        self.transport.write(b"".join(head) + b"\r\n" + body)
        self.transport.close()
