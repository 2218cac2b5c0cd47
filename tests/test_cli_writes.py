"""`qa add`, `qa delete` and `qa merge`: the same segment machinery as builds, one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import SEEDS
from index.build import build_index
from index.commit import latest
from cli.main import main


@pytest.fixture()
def root(tmp_path):
    path = tmp_path / "ix"
    build_index([SEEDS], path)
    return path


def run(*args):
    return CliRunner().invoke(main, [*args])


def test_add_delete_merge(root, tmp_path):
    story = tmp_path / "bridge.txt"
    story.write_text("Varnett bridge\n\nThe Varnett river bridge in Quillhaven will reopen on March 3, 2031.")
    added = run("add", str(story), "--index", str(root))
    assert added.exit_code == 0 and "added 1 article " in added.output and "generation 2" in added.output
    asked = run("ask", "When will the Varnett river bridge reopen?", "--index", str(root), "--json")
    assert json.loads(asked.output)["passages"][0]["source"]["id"] == "bridge"
    deleted = run("delete", "bridge", "001_ea2af11fa424174d", "--index", str(root))
    assert deleted.exit_code == 0 and "deleted 2 articles" in deleted.output
    merged = run("merge", "--index", str(root))
    assert merged.exit_code == 0 and "one segment" in merged.output
    commit = latest(root)
    assert len(commit.segments) == 1 and commit.segments[0]["articles"] == 4 and commit.segments[0]["deleted"] == []
    again = run("merge", "--index", str(root))
    assert again.exit_code == 0 and "already one segment" in again.output


def test_delete_unknown_id_is_one_line(root):
    result = run("delete", "no-such-article", "--index", str(root))
    assert result.exit_code != 0 and "not in" in result.output and "no-such-article" in result.output
    assert "Traceback" not in result.output and latest(root).generation == 1


def test_damaged_index_is_one_line(root):
    segment = root / latest(root).segments[0]["name"]
    (segment / "dense.faiss").write_bytes(b"garbage")
    result = run("ask", "When did Turkey shoot down the Russian jet?", "--index", str(root))
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "damaged" in lines[0] and "qa build PATH --index" in lines[0]


def test_add_needs_articles(root, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    result = run("add", str(empty), "--index", str(root))
    assert result.exit_code != 0 and "no articles found" in result.output
