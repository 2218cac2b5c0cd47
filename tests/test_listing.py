"""Listing articles by outlet and date with paging (GET /articles, qa articles), and the small things of issue 20."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from conftest import JET
from cli.main import main


def test_articles_filter_and_page(client):
    tass = client.get("/articles", params={"outlet": "tass"})
    assert tass.status_code == 200 and {a["outlet"] for a in tass.json()} == {"TASS"} and len(tass.json()) == 2
    dated = client.get("/articles", params={"since": "2020-01-01", "until": "2020-12-31"}).json()
    assert [a["published"] for a in dated] == ["2020-02-28"]
    every = client.get("/articles").json()
    page = client.get("/articles", params={"limit": 2, "offset": 1})
    assert page.json() == every[1:3] and page.headers["x-total-count"] == str(len(every))
    assert {"author", "url"} <= set(every[0])
    empty = client.get("/articles", params={"since": "2021-01-01", "until": "2020-01-01"})
    assert empty.json() == [] and empty.headers["x-total-count"] == "0"


@pytest.mark.parametrize("params, message", [
    ({"limit": 0}, "limit must be an integer from 1 to 1000"),
    ({"offset": -1}, "offset must be an integer of 0 or more"),
    ({"since": "March"}, "since must be a date in ISO format YYYY-MM-DD"),
])
def test_bad_article_filters_are_named(client, params, message):
    response = client.get("/articles", params=params)
    assert response.status_code == 400 and response.json()["error"].startswith(message)


@pytest.fixture(scope="module")
def cli(seeds_index):
    def invoke(*args):
        return CliRunner().invoke(main, [*args], env={"QA_INDEX": str(seeds_index), "NO_COLOR": "1"})
    return invoke


def test_qa_articles_lists_with_filters(cli):
    listed = cli("articles", "--outlet", "TASS", "--limit", "1")
    assert listed.exit_code == 0, listed.output
    assert listed.output.count(" | TASS | ") == 1 and "(1-1 of 2; --offset 1 for more)" in listed.output
    assert "by Elad Benari" in cli("articles", "--outlet", "arutz sheva").output


def test_an_unknown_outlet_lists_the_known_ones_and_fails(cli):
    for args in (["ask", JET], ["search", JET], ["articles"]):
        result = cli(*args, "--outlet", "nobody")
        assert result.exit_code == 1, result.output
        assert "no articles from outlet 'nobody'; the outlets in this index: TASS (2), Arutz Sheva (1)" in result.output


def test_serve_on_a_busy_port_says_so_before_serving(cli):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        result = cli("serve", "--port", str(busy.getsockname()[1]))
    assert result.exit_code == 1 and "serving" not in result.output
    assert "cannot serve on http://127.0.0.1:" in result.output and "in use" in result.output


def test_empty_form_offers_no_broken_json_link_and_one_date_reads_once(client):
    page = client.get("/").text
    assert "/ask?q=&amp;" not in page and "dated 2020-02-28;" in page
    assert client.get("/openapi.json").json()["paths"]["/articles"]["get"]["description"]
