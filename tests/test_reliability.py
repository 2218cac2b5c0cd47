"""Issue 19: an index deletes only what it wrote, deletes are remembered, a committed add is never reported as
failed, and wrong-typed commits are one line."""

from __future__ import annotations

import json
import threading
import time

import pytest
from click.testing import CliRunner
from filelock import FileLock

from conftest import SEEDS
from index.build import add_articles, build_index, delete_articles
from index.commit import clean, latest
from index.documents import Article
from index.errors import BadIndex
from index.merge import merge
from index.store import IndexReader
from cli.main import main

JET_ID = "000_57d2e1b9fe295f13"
USER_FILES = ["models/w.txt", "seg-photos/p.jpg", "current_budget.xlsx", "v-2.0-notes.md", ".tmp-draft",
              "model-notes/readme.txt", ".seg-draft.tmp/x", ".model-old.tmp/y"]


def _user_files(folder):
    for name in USER_FILES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the user's own file")


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_build_refuses_a_folder_of_other_files_and_deletes_none(tmp_path):
    folder = tmp_path / "d"
    _user_files(folder)
    result = _run("build", SEEDS, "--index", folder)
    assert result.exit_code == 1
    assert "holds other files" in result.output and "empty or new folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert all((folder / name).read_text() == "the user's own file" for name in USER_FILES)
    assert not list(folder.glob("commit-*"))


def test_an_empty_folder_builds(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert build_index([SEEDS], folder).articles == 5


def test_writers_never_delete_files_they_did_not_write(tmp_path):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    _user_files(root)
    add_articles(root, [Article(id="posted", text="Officials in Quillhaven counted 12 boats on the river.")])
    delete_articles(root, ["posted"])
    merge(root, force=True)
    build_index([SEEDS], root)
    with FileLock(str(root / "write.lock")):
        clean(root, now=time.time() + 3600)  # past every grace period
    assert all((root / name).read_text() == "the user's own file" for name in USER_FILES)
    # ... while what the index wrote and no longer needs is gone: only the newest commit's segments are left.
    ours = {p.name for p in root.glob("seg-*") if p.name != "seg-photos"}
    assert ours == {s["name"] for s in latest(root).segments}
    assert [p.name for p in root.glob("commit-*.json")] == [f"commit-{latest(root).generation:08d}.json"]


def test_deleted_articles_stay_deleted_until_readmitted(corpus, tmp_path):
    root = tmp_path / "ix"
    build_index([corpus], root)
    assert _run("delete", JET_ID, "--index", root).exit_code == 0
    report = build_index([corpus], root)
    assert report.skipped == [JET_ID] and JET_ID not in IndexReader(root).article_index
    assert any(JET_ID in w and "qa add --force" in w for w in report.warnings)
    shown = _run("build", corpus, "--index", root)
    assert shown.exit_code == 0 and "qa add --force PATH" in shown.output and "1 deleted earlier skipped" in shown.output
    # An edited file keeps its id, and stays out too: a retraction is by article, not by version.
    story = corpus / f"{JET_ID}.txt"
    story.write_text(story.read_text() + "\n\nA correction was appended.")
    assert build_index([corpus], root).skipped == [JET_ID]
    refused = _run("add", story, "--index", root)
    assert refused.exit_code == 1 and "deleted earlier" in refused.output and "--force" in refused.output
    assert JET_ID not in IndexReader(root).article_index
    assert _run("add", story, "--force", "--index", root).exit_code == 0
    assert JET_ID in IndexReader(root).article_index
    assert build_index([corpus], root).skipped == []  # re-admitted on purpose: the tombstone is gone


def test_tombstones_survive_merges(corpus, tmp_path):
    root = tmp_path / "ix"
    build_index([corpus], root)
    delete_articles(root, [JET_ID])
    merge(root, force=True)  # the segment that held the delete is gone
    assert JET_ID in latest(root).tombstones
    assert build_index([corpus], root).skipped == [JET_ID]


def test_add_is_not_failed_by_a_merge_that_cannot_get_the_lock(tmp_path, monkeypatch):
    """The merge after `qa add` waits for the write lock; when another writer holds it, the add still succeeded."""
    import index.build

    root = tmp_path / "ix"
    build_index([SEEDS], root)
    delete_articles(root, [JET_ID, "001_ea2af11fa424174d", "002_c2cd96ef16f533c8"])  # more than half: a merge is due
    monkeypatch.setenv("QA_LOCK_TIMEOUT", "0.5")
    held, release = threading.Event(), threading.Event()
    real_add = index.build.add_articles

    def add_then_hold(*args, **kwargs):
        result = real_add(*args, **kwargs)

        def hold():
            with FileLock(str(root / "write.lock")):  # another writer takes the lock right after the add commits
                held.set()
                release.wait(30)

        threading.Thread(target=hold, daemon=True).start()
        held.wait(10)
        return result

    monkeypatch.setattr(index.build, "add_articles", add_then_hold)
    story = tmp_path / "bridge.txt"
    story.write_text("Varnett bridge\n\nThe Varnett river bridge in Quillhaven will reopen on March 3, 2031.")
    try:
        result = _run("add", story, "--index", root)
    finally:
        release.set()
    assert result.exit_code == 0, result.output
    assert "added 1 article " in result.output and "merge is deferred" in result.output
    assert "bridge" in IndexReader(root).article_index


@pytest.mark.parametrize("change", [
    {"deleted": 5}, {"articles": "3"}, {"name": "../../etc"}, {"meta_checksum": 7},
])
def test_wrong_typed_segment_entries_are_one_line(tmp_path, change, seeds_index):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    path = sorted(root.glob("commit-*.json"))[-1]
    data = json.loads(path.read_text())
    data["segments"][0].update(change)
    path.write_text(json.dumps(data))
    with pytest.raises(BadIndex) as caught:
        IndexReader(root)
    assert "\n" not in str(caught.value) and path.name in str(caught.value) and "qa build PATH" in str(caught.value)
    result = _run("search", "Idlib", "--index", root)
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output


@pytest.mark.parametrize("change", [{"model": {"name": "all-MiniLM-L6-v2", "dim": 10}}, {"tombstones": []},
                                    {"generation": "1"}, {"segments": {}}])
def test_wrong_typed_or_lying_commits_are_one_line(tmp_path, change):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    path = sorted(root.glob("commit-*.json"))[-1]
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    result = _run("ask", "Who is Turkey's defence minister?", "--index", root)
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1 and f"qa build PATH --index {root}" in result.output
