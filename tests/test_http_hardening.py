"""Issue 19 over HTTP: body caps before reading, questions off the event loop behind a bounded queue, the OpenAPI
document valid as a whole, field-named errors, protocol errors as JSON from a real uvicorn, security headers."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.gate import Busy, Gate
from api.local import ThreadedServer
from api.protocol import GuardedHttpTools
from qa.settings import Settings

from conftest import JET

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def guarded(settings, engine):
    return TestClient(create_app(Settings.from_env(index=settings.index, write_token=TOKEN), engine))


def _chunks(total: int, sent: list[int]):
    for _ in range(total // 65536):
        sent.append(1)
        yield b"x" * 65536


@pytest.mark.parametrize("method, path, cap", [
    ("POST", "/ask", 16 * 1024), ("POST", "/search", 16 * 1024), ("GET", "/health", 16 * 1024),
    ("DELETE", "/articles/abc", 16 * 1024), ("POST", "/articles", 8 * 2**20),
])
def test_every_route_caps_its_body(guarded, method, path, cap):
    if method == "POST":  # routes that read a body; the others never read it, so it is never held in memory
        sent: list[int] = []
        answer = guarded.request(method, path, content=_chunks(cap + 2**20, sent), headers=AUTH)  # chunked
        assert answer.status_code == 413 and answer.json()["error"].startswith("body too large")
    declared = guarded.request(method, path, content=b"{}", headers={**AUTH, "content-length": str(2**30)})
    assert declared.status_code == 413


def test_a_question_body_within_the_cap_is_answered(guarded):
    assert guarded.post("/search", json={"question": JET, "k": 2}).status_code == 200


class _Blocking:
    """The real engine, with search held until released: a question thread that stays busy."""

    def __init__(self, engine):
        self._engine, self.started, self.release = engine, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def search(self, *args, **kwargs):
        self.started.set()
        self.release.wait(30)
        return self._engine.search(*args, **kwargs)


def test_questions_wait_off_the_loop_and_a_full_queue_is_503(settings, engine):
    blocking = _Blocking(engine)
    client = TestClient(create_app(Settings.from_env(index=settings.index, ask_threads=1, ask_queue=1), blocking))
    results = []
    first = threading.Thread(target=lambda: results.append(client.get("/search", params={"q": JET}).status_code))
    first.start()
    assert blocking.started.wait(30)
    second = threading.Thread(target=lambda: results.append(client.get("/search", params={"q": JET}).status_code))
    second.start()
    time.sleep(0.3)  # the second question is queued behind the first
    try:
        health = client.get("/health")  # answered while the only question thread is busy
        assert health.status_code == 200 and health.json()["status"] == "ok"
        full = client.get("/search", params={"q": JET})
        assert full.status_code == 503 and full.headers["retry-after"] == "1" and "busy" in full.json()["error"]
    finally:
        blocking.release.set()
        first.join(30)
        second.join(30)
    assert results == [200, 200]


def test_the_gate_frees_places_of_questions_that_finish_or_fail():
    import asyncio

    gate = Gate(1, 0)

    def boom():
        raise ValueError("x")

    async def scenario():
        with pytest.raises(ValueError):
            await gate.run(boom)
        return await gate.run(lambda: 7)

    assert asyncio.run(scenario()) == 7
    gate.close()
    assert Busy.status == 503


def test_the_whole_openapi_document_is_valid(client):
    from openapi_spec_validator import validate

    schema = client.get("/openapi.json").json()
    validate(schema)  # resolves every $ref, ArticleIn's included
    assert {"ArticleIn", "ArticlesIn"} <= set(schema["components"]["schemas"])


def test_a_lone_surrogate_in_a_field_names_the_field(guarded):
    body = b'{"text": "Officials counted 12 boats.", "title": "Bad \\ud800 title"}'
    answer = guarded.post("/articles", content=body, headers={**AUTH, "content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"].startswith("body.title")


@pytest.mark.parametrize("article_id", [".", ".."])
def test_dot_ids_are_refused(guarded, article_id):
    answer = guarded.post("/articles", json={"id": article_id, "text": "Officials counted 12 boats."}, headers=AUTH)
    assert answer.status_code == 400 and "not '.' or '..'" in answer.json()["error"]


@pytest.mark.parametrize("path", ["/", f"/?q={JET}", "/ask?q=Idlib", "/docs", "/no-such-page", "/read/nope"])
def test_security_headers_on_every_page(client, path):
    answer = client.get(path)
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["x-frame-options"] == "DENY"
    policy = dict(part.strip().split(" ", 1) for part in answer.headers["content-security-policy"].split(";"))
    assert "'unsafe-inline'" not in policy["script-src"] and policy["frame-ancestors"] == "'none'"
    if path == "/docs":
        assert "'sha256-" in policy["script-src"]  # Swagger UI's start-up script, by hash


def test_the_page_policy_allows_exactly_the_inline_style_it_serves(client):
    import base64
    import hashlib
    import re

    page = client.get("/").text
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in client.get("/").headers["content-security-policy"]


@pytest.fixture(scope="module")
def server(client):
    """A real uvicorn with the protocol class `qa serve` uses, a short head deadline for the test."""
    class Quick(GuardedHttpTools):
        HEAD_TIMEOUT = 0.5
        MAX_HEAD = 4096

    with ThreadedServer(client.app, http=Quick, log_level="error") as running:
        yield running.port


def _raw(port: int, data: bytes, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status_and_json(reply: bytes) -> tuple[int, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    return int(head.split()[1]), json.loads(body)


def test_protocol_errors_are_json(server):
    status, body = _status_and_json(_raw(server, b"NOT HTTP AT ALL\r\n\r\n"))
    assert status == 400 and "malformed HTTP request" in body["error"]


def test_oversized_headers_are_431(server):
    status, body = _status_and_json(_raw(server, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n"))
    assert status == 431 and "too large" in body["error"]


def test_a_request_line_sent_slowly_is_closed(server):
    started = time.monotonic()
    status, body = _status_and_json(_raw(server, b"GET /health HTTP/1.1\r\nHost: x\r\n"))  # never finished
    assert status == 408 and "not received within" in body["error"] and time.monotonic() - started < 4


def test_a_chunked_body_is_refused_once_past_the_cap_before_the_rest_is_sent(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as conn:
        conn.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):  # 24 KiB of an endless body, then nothing more
            conn.sendall(b"2000\r\n" + b" " * 0x2000 + b"\r\n")
        reply = conn.recv(65536)
    status, body = _status_and_json(reply)
    assert status == 413 and "16 KiB" in body["error"]


def test_a_declared_huge_body_is_refused_before_it_is_sent(server):
    reply = _raw(server, b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1073741824\r\n\r\n{\"question\": ")
    status, body = _status_and_json(reply)
    assert status == 413 and "16 KiB" in body["error"]
