"""POST /articles and DELETE /articles/{id}: the token, the 201 once committed, bad bodies, and fresh answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from index.build import build_index
from qa.engine import Engine
from qa.settings import Settings

from conftest import SEEDS

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEWS = {"title": "Varnett bridge", "outlet": "Quill Gazette", "published": "2031-02-01",
        "url": "https://example.org/varnett",
        "text": "Officials in Quillhaven said the Varnett river bridge will reopen to traffic on March 3, 2031."}


@pytest.fixture()
def writable(tmp_path):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    settings = Settings.from_env(index=root, write_token=TOKEN)
    return TestClient(create_app(settings, Engine.open(settings)))


def test_post_is_answered_at_once_then_delete_removes_it(writable):
    response = writable.post("/articles", json=NEWS, headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["generation"] == 2 and len(body["ids"]) == 1
    article_id = body["ids"][0]
    health = writable.get("/health").json()
    assert health["generation"] == 2 and health["segments"] == 2 and health["articles"] == 6
    answer = writable.get("/ask", params={"q": "When will the Varnett river bridge reopen?"}).json()
    assert answer["passages"][0]["source"]["id"] == article_id
    assert answer["passages"][0]["source"]["outlet"] == "Quill Gazette"
    assert writable.post("/articles", json=NEWS, headers=AUTH).json()["ids"] == [article_id]  # same text: replaced
    assert writable.get("/health").json()["articles"] == 6
    deleted = writable.delete(f"/articles/{article_id}", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": [article_id], "generation": 4}
    answer = writable.get("/ask", params={"q": "When will the Varnett river bridge reopen?"}).json()
    assert all(p["source"]["id"] != article_id for p in answer["passages"])
    assert writable.delete(f"/articles/{article_id}", headers=AUTH).status_code == 404


def test_many_articles_in_one_commit(writable):
    many = {"articles": [{**NEWS, "id": f"n{i}", "text": NEWS["text"] + f" Note {i}."} for i in range(3)]}
    response = writable.post("/articles", json=many, headers=AUTH)
    assert response.status_code == 201 and response.json() == {"ids": ["n0", "n1", "n2"], "generation": 2}


@pytest.mark.parametrize("headers, status, words", [
    ({}, 401, "Authorization: Bearer"),
    ({"Authorization": "Bearer wrong"}, 403, "wrong write token"),
    ({"Authorization": "Basic abc"}, 401, "Bearer"),
])
def test_writes_need_the_token(writable, headers, status, words):
    response = writable.post("/articles", json=NEWS, headers=headers)
    assert response.status_code == status and words in response.json()["error"]
    assert writable.delete("/articles/000_57d2e1b9fe295f13", headers=headers).status_code == status
    assert writable.get("/health").json()["generation"] == 1


def test_writes_are_off_without_a_server_token(client):
    response = client.post("/articles", json=NEWS, headers=AUTH)
    assert response.status_code == 403 and "QA_WRITE_TOKEN" in response.json()["error"]


@pytest.mark.parametrize("body, words", [
    ({"title": "no text"}, "body.text"),
    ({"text": ""}, "body.text"),
    ({"text": 5}, "body.text"),
    ({**NEWS, "published": "yesterday"}, "body.published"),
    ({**NEWS, "url": "javascript:alert(1)"}, "body.url"),
    ({**NEWS, "id": "bad id/.."}, "body.id"),
    ({**NEWS, "colour": "red"}, "body.colour"),
    ({"articles": []}, "articles must be a list"),
    ({"articles": [NEWS, {"text": None}]}, "articles[1].text"),
    ([NEWS], "body must be an object"),
    ({**NEWS, "title": ["x"]}, "body.title"),
])
def test_bad_articles_name_the_field(writable, body, words):
    response = writable.post("/articles", json=body, headers=AUTH)
    assert response.status_code == 400 and words in response.json()["error"]
    assert writable.get("/health").json()["generation"] == 1


def test_bad_json_and_big_bodies(writable):
    response = writable.post("/articles", content=b"{nope", headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    big = {"text": "word " * (2 * 2**20)}
    response = writable.post("/articles", json=big, headers=AUTH)
    assert response.status_code == 413 and "too large" in response.json()["error"]


def test_a_busy_index_is_503_with_retry_after(writable, tmp_path, monkeypatch):
    from index.commit import WriteLock

    monkeypatch.setenv("QA_LOCK_TIMEOUT", "0.2")
    root = tmp_path / "ix"  # the writable fixture's index
    with WriteLock(root, timeout=1):
        response = writable.post("/articles", json=NEWS, headers=AUTH)
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert "another writer" in response.json()["error"] and str(root) not in response.json()["error"]
    assert writable.get("/health").json()["generation"] == 1
