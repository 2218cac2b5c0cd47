"""A sharded index answers as one: the fan-out and merge of qa/shards.py, with shards in process (no Ray)."""

from __future__ import annotations


import numpy as np
import pytest

from conftest import JET, SEEDS, seed_questions
from index.build import add_articles, delete_articles
from index.documents import load_articles
from index.store import LiveIndex
from qa.engine import Engine
from qa.settings import Settings
from qa.shards import ShardedIndex, ShardService, Unavailable

QUESTIONS = seed_questions()


class Done:
    def __init__(self, value):
        self.value = value

    def result(self, timeout_s=None):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


class LocalShard:
    """What the Ray Serve Shard deployment does (the same ShardService), called in process."""

    def __init__(self, root, shard, shards):
        self.service = ShardService(LiveIndex(root, shard=(shard, shards)))

    def __call__(self, method, *args):
        return Done(getattr(self.service, method)(*args))


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharded") / "ix"
    for article in load_articles([SEEDS]):
        add_articles(root, [article])
    return root


def sharded_engine(root, shards: int, engine: Engine) -> Engine:
    index = ShardedIndex([LocalShard(root, i, shards) for i in range(shards)], {"name": "all-MiniLM-L6-v2", "dim": 384})
    return Engine(index, engine.encoder, engine.reader, Settings.from_env(index=root))


@pytest.mark.parametrize("shards", [2, 3])
def test_sharded_answers_equal_single_node(segmented, shards):
    single = Engine.open(Settings.from_env(index=segmented))
    sharded = sharded_engine(segmented, shards, single)
    for question in QUESTIONS:
        a, b = single.ask(question), sharded.ask(question)
        assert [(p.id, round(p.score, 5)) for p in a.passages] == [(p.id, round(p.score, 5)) for p in b.passages]
        assert a.answerable == b.answerable and (a.answer and a.answer.text) == (b.answer and b.answer.text)
        assert (a.answer and a.answer.sentence) == (b.answer and b.answer.sentence)
    filtered = {"outlet": "TASS", "since": "2020-01-01"}
    assert single.ask(JET, **filtered).filtered == sharded.ask(JET, **filtered).filtered
    assert sorted(a["id"] for a in single.articles()) == sorted(a["id"] for a in sharded.articles())
    assert sharded.article("000_57d2e1b9fe295f13")["text"] == single.article("000_57d2e1b9fe295f13")["text"]
    health = sharded.view().manifest
    assert health["counts"] == single.view().counts() and len(health["shards"]) == shards


def test_shards_follow_writes_and_statistics_stay_global(tmp_path):
    root = tmp_path / "ix"
    for article in load_articles([SEEDS]):
        add_articles(root, [article])
    single = Engine.open(Settings.from_env(index=root))
    sharded = sharded_engine(root, 2, single)
    sharded.ask(JET)
    delete_articles(root, ["000_57d2e1b9fe295f13"])
    a, b = single.ask(JET), sharded.ask(JET)
    assert [p.id for p in a.passages] == [p.id for p in b.passages]
    assert all(p.source.id != "000_57d2e1b9fe295f13" for p in b.passages)


def test_a_failing_shard_is_unavailable_not_a_hang(segmented):
    single = Engine.open(Settings.from_env(index=segmented))
    sharded = sharded_engine(segmented, 2, single)
    sharded.live.shards[1] = lambda method, *args: Done(TimeoutError("replica gone"))
    with pytest.raises(Unavailable, match="retry"):
        sharded.ask(JET)


@pytest.mark.parametrize("whole", [True, False])
def test_bm25_statistics_are_exact(segmented, tmp_path, monkeypatch, whole):
    """Shards scoring with the global df rank BM25 exactly as one merged segment does. A small vocabulary comes whole
    from the shards once per generation, so a question is one fan-out; past WHOLE_VOCABULARY terms the ingress
    learns the df of the terms asked, not the vocabulary, at one more fan-out for a new term."""
    import shutil

    import qa.shards
    from index.merge import merge
    from index.terms import terms

    if not whole:
        monkeypatch.setattr(qa.shards, "WHOLE_VOCABULARY", 10)
    merged = tmp_path / "one"
    shutil.copytree(segmented, merged)
    merge(merged, force=True)
    one = Engine.open(Settings.from_env(index=merged))
    assert len(one.view().segments) == 1
    shards = [LocalShard(segmented, i, 2) for i in range(2)]
    sharded = ShardedIndex(shards, {"name": "all-MiniLM-L6-v2", "dim": 384})
    calls: list[str] = []
    for shard in shards:
        monkeypatch.setattr(shard, "service", Counted(shard.service, calls))
    vocabulary = set().union(*(s.postings.vocab for s in one.view().segments))
    asked: set[str] = set()
    for question in QUESTIONS:
        words = terms(question)
        asked |= set(words)
        view = sharded.view()
        calls.clear()
        prefetched, _, _ = view.prepare(one.encoder.encode([question])[0], words, 40, None, None, None)
        if whole:
            assert calls == ["candidates", "candidates"]  # one fan-out to the two shards
        expected = [(one.view().passage(h.row)["id"], round(h.score, 4)) for h in one.view().bm25_search(words, 40)]
        got = [(prefetched.passage(h.row)["id"], round(h.score, 4)) for h in prefetched.bm25_search(words, 40)]
        assert len(expected) < 40  # every match listed, so equal scores (ordered by row, which differs) cannot cut
        assert sorted(got, key=lambda x: (-x[1], x[0])) == sorted(expected, key=lambda x: (-x[1], x[0])), question
    stats = sharded.statistics()
    if whole:
        assert stats.whole and stats.df == one.view().document_frequencies(vocabulary)
    else:
        assert not stats.whole and set(stats.df) == asked and len(stats.df) < len(vocabulary) / 2


class Counted:
    """A ShardService that notes the name of every call made to it."""

    def __init__(self, service, calls):
        self.service, self.calls = service, calls

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.service, name)


def test_both_views_declare_the_one_interface(segmented):
    """The engine reads a single node and a sharded index through qa.views.View, with no branch on which it has;
    both prepare a question the same way (here, a filter that leaves nothing)."""
    from qa.views import Searchable, View

    single = LiveIndex(segmented).view()
    sharded = ShardedIndex([LocalShard(segmented, i, 2) for i in range(2)], {"name": "all-MiniLM-L6-v2", "dim": 384}).view()
    vector = np.zeros(384, dtype=np.float32)
    for view in (single, sharded):
        assert isinstance(view, View)
        searchable, mask, counts = view.prepare(vector, ["turkey"], 10, "no such outlet", None, None)
        assert isinstance(searchable, Searchable)
        assert counts == [0, 0] and (mask is None or not mask.any())
