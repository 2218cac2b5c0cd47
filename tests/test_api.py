"""HTTP: the JSON contract end to end, attribution, the bad-input table, and the HTML form."""

import pytest

from qa.checks import ARTICLE_ID

from conftest import JET

MAX_Q = "question must be 1-1000 characters of text"
K_RULE = "k must be an integer from 1 to 50"
BODY = 'body must be a JSON object like {"question": "...", "k": 5}'


def test_answer_json_matches_the_documented_schema(client):
    """/ask skips FastAPI's response validation for speed, so the contract in api/schemas.py is checked here. (The
    jet answer's content is checked once on the Engine, tests/test_decide.py, and as JSON by tests/test_readme.py.)"""
    from api.schemas import AskResponse

    response = client.get("/ask", params={"q": JET})
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert AskResponse.model_validate(body).model_dump(mode="json") == body
    assert len(body["passages"]) == 5 and body["answer"]["passage_id"] == body["passages"][0]["id"]
    schema = client.get("/openapi.json").json()["paths"]["/ask"]["get"]["responses"]["200"]
    assert schema["content"]["application/json"]["schema"]["$ref"].endswith("/AskResponse")


def test_post_matches_get(client):
    got = client.get("/ask", params={"q": JET, "k": 3}).json()
    posted = client.post("/ask", json={"question": JET, "k": 3}).json()
    assert [p["id"] for p in got["passages"]] == [p["id"] for p in posted["passages"]]


@pytest.mark.parametrize("q", [JET, "How many Turkish soldiers were killed?", "Who is Turkey's defence minister?"])
def test_offsets_point_into_the_served_article(client, q):
    for p in client.get("/ask", params={"q": q, "k": 10}).json()["passages"]:
        article = client.get(f"/articles/{p['source']['id']}").json()
        assert article["text"][p["start"] : p["end"]] == p["text"]
        assert 0 <= p["highlight"]["start"] < p["highlight"]["end"] <= len(p["text"])


@pytest.mark.parametrize(
    "method, url, kwargs, status, message",
    [
        ("get", "/ask", {"params": {"q": ""}}, 400, MAX_Q),
        ("get", "/ask", {"params": {"q": "   "}}, 400, MAX_Q),
        ("get", "/ask", {"params": {"q": "x" * 1001}}, 400, MAX_Q),
        ("get", "/ask", {}, 400, "q is required: " + MAX_Q),
        ("get", "/ask", {"params": {"q": "jet", "k": 0}}, 400, K_RULE),
        ("get", "/ask", {"params": {"q": "jet", "k": 51}}, 400, K_RULE),
        ("get", "/ask", {"params": {"q": "jet", "k": "five"}}, 400, K_RULE),
        ("get", "/ask", {"params": {"q": "jet", "k": "2.5"}}, 400, K_RULE),
        ("post", "/ask", {"content": "{not json", "headers": {"content-type": "application/json"}}, 400, BODY),
        ("post", "/ask", {"json": ["a list"]}, 400, BODY),
        ("post", "/ask", {"json": {"k": 5}}, 400, "question is required: " + MAX_Q),
        ("post", "/ask", {"json": {"question": 42}}, 400, MAX_Q),
        ("post", "/ask", {"json": {"question": "jet", "k": "5"}}, 400, K_RULE),
        ("post", "/ask", {"json": {"question": "jet", "k": True}}, 400, K_RULE),
        ("post", "/ask", {"json": {"question": ""}}, 400, MAX_Q),
        ("get", "/articles/no_such_article", {}, 404, "no article with id 'no_such_article'; GET /articles lists them"),
        ("get", "/articles/..%2F..%2Fetc%2Fpasswd", {}, 400, "article id must be 1-200 letters, digits, '_', '-' or '.', and not '.' or '..'"),
        ("get", "/articles/a b", {}, 400, "article id must be 1-200 letters, digits, '_', '-' or '.', and not '.' or '..'"),
        ("get", "/ask", {"params": {"q": "jet", "since": "28/02/2020"}}, 400,
         "since must be a date in ISO format YYYY-MM-DD, got '28/02/2020'"),
        ("get", "/ask", {"params": {"q": "jet", "until": "2020-02-30"}}, 400,
         "until must be a date in ISO format YYYY-MM-DD, got '2020-02-30'"),
    ],
)
def test_bad_input(client, method, url, kwargs, status, message):
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == status
    assert response.json() == {"error": message}


def test_articles_list_and_text(client):
    listed = client.get("/articles").json()
    assert {a["id"] for a in listed} >= {"000_57d2e1b9fe295f13", "004_ff300f254502d343"}
    one = client.get("/articles/004_ff300f254502d343").json()
    assert one["outlet"] == "TASS" and one["published"] == "2020-02-28"
    assert "33 Turkish soldiers" in one["text"]


def test_health_and_docs(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    assert "/ask" in client.get("/openapi.json").json()["paths"]


def test_form_shows_answer_with_sources_and_links(client):
    page = client.get("/", params={"q": JET})
    assert page.status_code == 200
    assert page.text.count('<mark class="strong">') == 1 and "November of 2015" in page.text
    assert "/read/000_57d2e1b9fe295f13?start=" in page.text
    assert 'method="get"' in page.text


def test_form_escapes_script(client):
    page = client.get("/", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_form_bad_input_is_shown_not_crashed(client):
    page = client.get("/", params={"q": "jet", "k": "0"})
    assert page.status_code == 400 and K_RULE in page.text


def test_article_view_highlights_passage(client):
    p = client.get("/ask", params={"q": JET}).json()["passages"][0]
    page = client.get(f"/read/{p['source']['id']}", params={"start": p["start"], "end": p["end"]})
    assert page.status_code == 200 and '<mark class="strong" id="hl">' in page.text


def test_search_returns_passages_with_sources_and_no_answer(client):
    from api.schemas import SearchResponse

    got = client.get("/search", params={"q": JET, "k": 4})
    assert got.status_code == 200
    body = got.json()
    assert SearchResponse.model_validate(body).model_dump(mode="json") == body
    assert "answer" not in body and len(body["passages"]) == 4
    top = body["passages"][0]
    assert top["source"]["id"] == "000_57d2e1b9fe295f13" and "November of 2015" in top["text"]
    posted = client.post("/search", json={"question": JET, "k": 4}).json()
    assert [p["id"] for p in posted["passages"]] == [p["id"] for p in body["passages"]]
    # the same passages as /ask reads from, up to the answer's move to the top
    asked = client.get("/ask", params={"q": JET, "k": 4}).json()
    assert {p["id"] for p in asked["passages"]} == {p["id"] for p in body["passages"]}


@pytest.mark.parametrize(
    "kwargs, message",
    [({"params": {"q": ""}}, MAX_Q), ({"params": {"q": "jet", "k": 51}}, K_RULE), ({"params": {"q": "jet", "since": "x"}}, "since must be a date in ISO format YYYY-MM-DD, got 'x'")],
)
def test_search_bad_input(client, kwargs, message):
    response = client.get("/search", **kwargs)
    assert response.status_code == 400 and response.json() == {"error": message}


def test_answer_carries_its_source(client):
    body = client.get("/ask", params={"q": JET}).json()
    assert body["answer"]["source"] == body["passages"][0]["source"]


@pytest.mark.parametrize(
    "url, body, message",
    [
        ("/ask", '{"question": "who \\ud800"}', "question must be valid Unicode text (it holds a lone surrogate)"),
        ("/search", '{"question": "who", "outlet": "\\udfff"}', "outlet must be valid Unicode text (it holds a lone surrogate)"),
    ],
)
def test_lone_surrogates_are_bad_input(client, url, body, message):
    """JSON may escape half a surrogate pair ("\\ud800"); it decodes to a str no encoder accepts."""
    response = client.post(url, content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json() == {"error": message}


def test_form_k_that_is_a_digit_but_not_a_number(client):
    response = client.get("/", params={"q": "who", "k": "\u00b2"})
    assert response.status_code == 400 and "k must be an integer from 1 to 50" in response.text


def test_405_names_the_allowed_methods_and_head_works(client):
    response = client.put("/ask", json={})
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    assert response.json()["error"].startswith("method PUT not allowed here")
    head = client.head("/health")
    assert head.status_code == 200 and head.content == b""
    assert client.head("/ask", params={"q": JET}).status_code == 200


def test_openapi_declares_the_limits(client):
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/ask"]["get"]["parameters"]}
    assert params["q"]["minLength"] == 1 and params["q"]["maxLength"] == 1000
    assert params["k"]["minimum"] == 1 and params["k"]["maximum"] == 50
    body = spec["components"]["schemas"]["AskRequest"]["properties"]
    assert body["question"]["maxLength"] == 1000 and body["k"]["maximum"] == 50
    article = spec["paths"]["/articles/{article_id}"]["get"]["parameters"][0]["schema"]
    assert article["pattern"] == ARTICLE_ID.pattern


def test_outlets_lists_known_outlets_and_dates(client):
    body = client.get("/outlets").json()
    assert {"name": "TASS", "articles": 2} in body["outlets"]
    assert body["articles"] == 5 and body["dated"] + body["undated"] == 5
    assert body["earliest"] == body["latest"] == "2020-02-28"


def test_date_filters_say_how_many_undated_articles_they_left_out(client):
    body = client.get("/search", params={"q": "Idlib", "since": "2020-01-01"}).json()
    assert body["filtered"] == {"articles": 1, "undated_excluded": 4}
    assert client.get("/search", params={"q": "Idlib"}).json()["filtered"] is None
    none = client.get("/ask", params={"q": "Idlib", "outlet": "nobody"}).json()
    assert none["filtered"]["articles"] == 0 and none["passages"] == [] and none["answerable"] is False
    page = client.get("/", params={"q": "Idlib", "outlet": "nobody"}).text
    assert "No articles match these filters" in page and "do not seem to answer" not in page
    page = client.get("/", params={"q": "Idlib", "since": "2020-01-01"}).text
    assert "left out 4 undated articles" in page


def test_reading_view_marks_sentence_and_span_and_hides_machine_paths(client):
    text = client.get("/articles/000_57d2e1b9fe295f13").json()["text"]
    start = text.index("Turkey and Russia were in a state of open tension")
    end = text.index("Russian officers.", start) + len("Russian officers.")
    span = text.index("November of 2015")
    params = {"start": start, "end": end, "span_start": span, "span_end": span + len("November of 2015")}
    page = client.get("/read/000_57d2e1b9fe295f13", params=params).text
    assert '<b class="span">November of 2015</b>' in page and 'id="hl"' in page
    assert "seeds/000_57d2e1b9fe295f13.txt" in page and "/tmp/" not in page
    # the answer's own link carries the sentence's offsets
    body = client.get("/ask", params={"q": JET}).json()
    top = body["passages"][0]
    assert text[top["start"] + top["highlight"]["start"] : top["start"] + top["highlight"]["end"]] == body["answer"]["sentence"]


def test_docs_page_loads_its_assets_locally(client):
    page = client.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
