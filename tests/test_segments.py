"""The live index: segments searched as one, deletes, merges, one writer at a time, crashes and damage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from index.build import add_articles, build_index, delete_articles
from index.commit import WriteLock, latest
from index.documents import load_articles
from index.errors import BadIndex, QAError
from index.merge import merge
from index.store import IndexReader, LiveIndex
from qa.engine import Engine
from qa.settings import Settings

from conftest import JET, ROOT, SEEDS, seed_questions

QUESTIONS = seed_questions()[:12]


def _one_by_one(folder: Path, root: Path) -> None:
    """The seeds as one segment per article: build the first, add the others one commit each."""
    articles = list(load_articles([folder]))
    add_articles(root, articles[:1])
    for article in articles[1:]:
        add_articles(root, [article])


def _top(engine: Engine, question: str, k: int = 10) -> list[tuple[str, float]]:
    return [(p.id, round(p.score, 5)) for p in engine.search(question, k=k).passages]


def test_segments_rank_as_one_index(seeds_index, tmp_path):
    """Global statistics: five one-article segments give the ranking one segment of the same articles gives."""
    root = tmp_path / "ix"
    _one_by_one(SEEDS, root)
    assert len(latest(root).segments) == 5
    many, one = Engine.open(Settings.from_env(index=root)), Engine.open(Settings.from_env(index=seeds_index))
    for question in QUESTIONS:
        assert _top(many, question) == _top(one, question), question
    view, single = many.view(), one.view()
    assert view.idf(["putin", "erdogan", "turkey"]) == pytest.approx(single.idf(["putin", "erdogan", "turkey"]))


def test_deleted_article_never_answers_and_statistics_follow(corpus, tmp_path):
    root = tmp_path / "ix"
    build_index([corpus], root)
    engine = Engine.open(Settings.from_env(index=root))
    jet = engine.ask(JET)
    source = jet.passages[0].source.id
    missing, generation = delete_articles(root, [source, "no-such-article"])
    assert missing == ["no-such-article"] and generation == 2
    after = engine.ask(JET)  # the same engine: it sees the new generation without a restart
    assert all(p.source.id != source for p in after.passages)
    assert all(c.source.id != source for p in after.passages for c in p.also_in)
    assert source not in {a["id"] for a in engine.articles()}
    # The ranking equals a build without the article: N, lengths and document frequencies exclude it.
    (corpus / f"{source}.txt").unlink()
    fresh = Engine.open(Settings.from_env(index=build_index([corpus], tmp_path / "fresh").path))
    for question in QUESTIONS:
        assert _top(engine, question) == _top(fresh, question), question


def test_update_replaces_the_old_copy(corpus, tmp_path):
    root = tmp_path / "ix"
    build_index([corpus], root)
    article = next(a for a in load_articles([corpus]) if a.id == "000_57d2e1b9fe295f13")
    add_articles(root, [replace(article, text=article.text + "\n\nThe summit in Astana starts on May 3, 2021.")])
    view = IndexReader(root)
    assert view.counts()["articles"] == 5
    assert "May 3, 2021" in view.text(view.article_index["000_57d2e1b9fe295f13"])


def test_merge_reuses_vectors_and_drops_deletes(tmp_path, monkeypatch):
    root = tmp_path / "ix"
    _one_by_one(SEEDS, root)
    delete_articles(root, ["001_ea2af11fa424174d"])
    engine = Engine.open(Settings.from_env(index=root))
    before = {q: _top(engine, q) for q in QUESTIONS}
    import index.encoder

    with monkeypatch.context() as patch:
        patch.setattr(index.encoder.OnnxEncoder, "encode", lambda *a, **k: pytest.fail("a merge re-embedded"))
        generation = merge(root, force=True)
    commit = latest(root)
    assert commit.generation == generation and len(commit.segments) == 1 and commit.segments[0]["deleted"] == []
    assert commit.segments[0]["articles"] == 4
    for question in QUESTIONS:
        assert _top(engine, question) == before[question], question
    assert merge(root, force=True) is None  # already one clean segment


def test_tiered_policy_merges_ten_small_segments(tmp_path):
    from index.merge import SEGMENTS_PER_TIER, choose

    root = tmp_path / "ix"
    articles = list(load_articles([SEEDS]))
    for i in range(SEGMENTS_PER_TIER):
        add_articles(root, [replace(articles[i % len(articles)], id=f"a{i}")])
    assert len(choose(latest(root))) == SEGMENTS_PER_TIER
    merge(root)
    assert len(latest(root).segments) == 1 and IndexReader(root).counts()["articles"] == SEGMENTS_PER_TIER


def test_second_writer_waits_then_fails_clearly(seeds_index, tmp_path):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    with WriteLock(root):
        with pytest.raises(QAError, match="another writer"):
            delete_articles(root, ["000_57d2e1b9fe295f13"], timeout=0.2)
    assert IndexReader(root).counts()["articles"] == 5


def test_concurrent_writers_lose_no_article(tmp_path):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    base = next(iter(load_articles([SEEDS])))
    errors = []

    def write(i: int) -> None:
        try:
            add_articles(root, [replace(base, id=f"w{i}", text=f"{base.text}\n\nNote {i}.")])
        except Exception as exc:  # noqa: BLE001  (the assertion below reports it)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = set(IndexReader(root).article_index)
    assert {f"w{i}" for i in range(4)} <= ids and len(ids) == 9


@pytest.mark.timeout(300)
@pytest.mark.parametrize("step", ["add", "merge"])
def test_kill_9_leaves_the_last_generation(tmp_path, step):
    """A writer killed mid-write leaves generation N loadable and answering; the next writer removes its files."""
    root = tmp_path / "ix"
    _one_by_one(SEEDS, root) if step == "merge" else build_index([SEEDS], root)
    generation = latest(root).generation
    docs = tmp_path / "more"
    docs.mkdir()
    for i in range(40):
        (docs / f"n{i}.txt").write_text(f"Story {i}\n\n" + "Ankara and Moscow talked about Idlib again. " * 60)
    action = f"from index.build import build_index; build_index([{str(docs)!r}], {str(root)!r})" if step == "add" else (
        f"from index.merge import merge; merge({str(root)!r}, force=True)")
    # Slow the writer down where it writes segment files, so the kill lands mid-write.
    code = ("import time, index.segment as s; w = s._write_articles\n"
            "def slow(*a):\n    w(*a); time.sleep(30)\n"
            f"s._write_articles = slow\n{action}")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.time() + 240
    while not any(p.name.startswith(".seg-") and (p / "articles.sqlite").exists() for p in root.iterdir()):
        assert proc.poll() is None and time.time() < deadline, "the writer ended before it could be killed"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert latest(root).generation == generation
    engine = Engine.open(Settings.from_env(index=root))
    assert engine.ask(JET).answerable
    delete_articles(root, ["001_ea2af11fa424174d"])  # the next writer
    assert not [p for p in root.iterdir() if p.name.startswith(".seg-")]


def test_live_index_sees_new_generations(tmp_path):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    live = LiveIndex(root)
    first = live.view()
    delete_articles(root, ["001_ea2af11fa424174d"])
    time.sleep(LiveIndex.POLL)
    second = live.view()
    assert second.generation == first.generation + 1 and "001_ea2af11fa424174d" not in second.article_index
    assert second.segments[0] is first.segments[0]  # only new segments are opened
    assert first.text(0)  # a view in use keeps working


@pytest.mark.parametrize("damage", ["garbage faiss", "missing faiss", "truncated npy", "bad commit", "missing segment"])
def test_damaged_index_is_one_line_naming_the_rebuild(tmp_path, damage):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    segment = root / latest(root).segments[0]["name"]
    commit = sorted(root.glob("commit-*.json"))[-1]
    if damage == "garbage faiss":
        (segment / "dense.faiss").write_bytes(b"not a faiss index")
    elif damage == "missing faiss":
        (segment / "dense.faiss").unlink()
    elif damage == "truncated npy":
        data = (segment / "vectors.npy").read_bytes()
        (segment / "vectors.npy").write_bytes(data[: len(data) // 2])
    elif damage == "bad commit":
        commit.write_text("{not json")
    else:
        import shutil

        shutil.rmtree(segment)
    with pytest.raises(BadIndex) as caught:
        IndexReader(root)
    message = str(caught.value)
    assert "\n" not in message and f"qa build PATH --index {root}" in message
    build_index([SEEDS], root)  # the command it names repairs it
    assert IndexReader(root).counts()["articles"] == 5


def test_unreadable_file_keeps_its_indexed_copy(corpus, tmp_path, monkeypatch):
    root = tmp_path / "ix"
    build_index([corpus], root)
    victim = corpus / "002_c2cd96ef16f533c8.txt"
    indexed = IndexReader(root).live_hashes()[victim.stem]
    victim.write_text(victim.read_text() + "\n\nAn edit the build cannot read.")
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == victim.name:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    warnings = []
    report = build_index([corpus], root, warn=warnings.append)
    assert report.removed == 0 and report.articles == 5 and report.embedded == 0
    assert f"kept the indexed copy of {victim.stem}: its file could not be read" in warnings
    assert IndexReader(root).live_hashes()[victim.stem] == indexed  # the old copy, not gone and not replaced


@pytest.mark.timeout(600)
def test_200_writes_under_query_load_end_with_the_expected_articles(tmp_path):
    """Adds and deletes through the Engine (background merges included) while another thread keeps asking: no
    question fails, and the final article set is exactly the one the writes imply."""
    import random

    root = tmp_path / "ix"
    build_index([SEEDS], root)
    engine = Engine.open(Settings.from_env(index=root))
    expected = {a["id"] for a in engine.articles()}
    stop, failures, asked = threading.Event(), [], [0]

    def ask() -> None:
        while not stop.is_set():
            try:
                engine.search(JET, k=3)
                asked[0] += 1
            except Exception as exc:  # noqa: BLE001  (reported by the assertion)
                failures.append(exc)

    reader = threading.Thread(target=ask)
    reader.start()
    rng = random.Random(7)
    try:
        for n in range(200):
            if expected and rng.random() < 0.35:
                victim = rng.choice(sorted(expected))
                engine.delete(victim)
                expected.discard(victim)
            else:
                engine.add({"id": f"w{n}", "text": f"Report {n}. Officials in Quillhaven counted {n} boats on the river."})
                expected.add(f"w{n}")
    finally:
        stop.set()
        reader.join()
    engine.writer.wait()
    assert not failures and asked[0] > 0
    assert {a["id"] for a in engine.articles()} == expected
    assert set(IndexReader(root).article_index) == expected


def test_an_unreadable_newest_commit_makes_writers_stop_not_delete(tmp_path):
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    names = {p.name for p in root.iterdir()}
    (root / "commit-00000099.json").write_text('{"format_version": 3, "generation": 99, "segments": []}')
    with pytest.raises(BadIndex, match="qa build PATH --index"):
        delete_articles(root, ["000_57d2e1b9fe295f13"])
    assert names <= {p.name for p in root.iterdir()}  # nothing was cleaned away


def test_builds_keep_articles_that_came_without_a_file(tmp_path):
    from index.documents import Article

    root = tmp_path / "ix"
    build_index([SEEDS], root)
    add_articles(root, [Article(id="posted", text="Officials in Quillhaven counted 12 boats on the river.")])
    report = build_index([SEEDS], root)
    assert report.removed == 0 and "posted" in IndexReader(root).article_index
