"""Index builds: incremental updates, atomic replacement, skipped files."""

import json

import numpy as np
import pytest

from index.build import build_index
from index.commit import latest
from index.store import IndexReader
from qa.engine import Engine
from qa.settings import Settings


def test_incremental_add_change_delete(corpus, tmp_path):
    root = tmp_path / "ix"
    first = build_index([corpus], root)
    assert first.articles == 5 and first.reused == 0

    (corpus / "005_new.txt").write_text("Kremlin statement\n\nThe Kremlin said the summit in Astana would start on May 3, 2021.")
    added = build_index([corpus], root)
    assert added.articles == 6 and added.reused == first.passages and added.embedded >= 1

    changed = corpus / "003_5c922709e45f6fd8.txt"
    changed.write_text(changed.read_text() + "\n\nThe Kremlin added that Putin would travel to Ankara in April.")
    (corpus / "001_ea2af11fa424174d.txt").unlink()
    updated = build_index([corpus], root)
    assert updated.articles == 5 and updated.removed == 1 and updated.embedded >= 1

    engine = Engine.open(Settings.from_env(index=root))
    ids = {a["id"] for a in engine.articles()}
    assert "001_ea2af11fa424174d" not in ids and "005_new" in ids
    top = engine.ask("When will the summit in Astana start?", k=1).passages[0]
    assert top.source.id == "005_new"
    assert engine.ask("Where will Putin travel in April?", k=1).passages[0].source.id == "003_5c922709e45f6fd8"


def test_unchanged_articles_stay_in_their_segment(corpus, tmp_path):
    """An update embeds only what is new: the first segment stays, the new article gets a segment of its own, and
    its vectors equal those a fresh build of the same files gives."""
    root = tmp_path / "ix"
    build_index([corpus], root)
    first = [e["name"] for e in latest(root).segments]
    (corpus / "005_new.txt").write_text("An unrelated short story about a summit in Astana.")
    report = build_index([corpus], root)
    assert report.embedded >= 1 and report.reused > 0
    after = latest(root)
    assert [e["name"] for e in after.segments][:1] == first and len(after.segments) == 2
    fresh_root = tmp_path / "fresh"
    build_index([corpus], fresh_root)
    updated, fresh = IndexReader(root), IndexReader(fresh_root)
    vectors = {fresh.passage(i)["id"]: fresh.passage_vectors(np.array([i]))[0] for i in range(len(fresh))}
    for i in range(len(updated)):
        assert np.allclose(vectors[updated.passage(i)["id"]], updated.passage_vectors(np.array([i]))[0])


def test_an_unchanged_build_writes_no_generation(corpus, tmp_path):
    root = tmp_path / "ix"
    build_index([corpus], root)
    generation = latest(root).generation
    assert build_index([corpus], root).embedded == 0
    assert latest(root).generation == generation


def test_crashed_build_leaves_old_index_loadable(corpus, tmp_path, monkeypatch):
    root = tmp_path / "ix"
    build_index([corpus], root)
    before = latest(root).generation
    (corpus / "005_new.txt").write_text("A new article about Idlib that never makes it into the index.")

    import index.segment

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(index.segment, "_write_articles", explode)
    with pytest.raises(RuntimeError):
        build_index([corpus], root)
    assert latest(root).generation == before
    assert not [p for p in root.iterdir() if p.name.startswith(".seg-")]
    engine = Engine.open(Settings.from_env(index=root))
    assert len(engine.articles()) == 5


def test_commit_describes_index(seeds_index):
    commit = json.loads(sorted(seeds_index.glob("commit-*.json"))[-1].read_text())
    assert commit["model"] == {"name": "all-MiniLM-L6-v2", "dim": 384}
    assert commit["format_version"] == 2 and len(commit["segments"]) == 1
    segment = commit["segments"][0]
    assert segment["articles"] == 5 and segment["deleted"] == []
    meta = json.loads((seeds_index / segment["name"] / "segment.json").read_text())
    assert meta["faiss"] == "flat" and meta["passages"] == segment["passages"]


def test_model_mismatch_names_the_rebuild(seeds_index):
    from index.errors import ModelMismatch

    with pytest.raises(ModelMismatch, match="qa build"):
        IndexReader(seeds_index, expected_model="some-other-model")


def test_broken_files_skipped_with_named_warning(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("# Title\n\nErdogan and Putin met in Sochi on Friday.")
    (docs / "empty.txt").write_text("   \n")
    (docs / "latin.txt").write_bytes("Le président Erdoğan a parlé à Genève.".encode("latin-1", "replace"))
    (docs / "bin.txt").write_bytes(bytes(range(256)))
    (docs / "bad.jsonl").write_text('{"text": "Ankara spoke.", "id": "j1"}\nnot json\n{"title": "no text"}\n')
    warnings = []
    report = build_index([docs], tmp_path / "ix", warn=warnings.append)
    text = "\n".join(warnings)
    assert "empty.txt" in text and "bin.txt" in text and "bad.jsonl line 2" in text and "bad.jsonl line 3" in text
    assert report.articles == 3  # ok.md, latin.txt (latin-1 fallback), j1


def test_the_build_plan_decides_each_tricky_input(tmp_path):
    """What a build decides for each kind of input (tests/test_ray.py checks that a Ray build decides the same)."""
    from conftest import build_outcome, tricky_inputs

    paths, root = tricky_inputs(tmp_path)
    got = build_outcome(build_index(paths, root), root)
    assert got["skipped"] == ["003_5c922709e45f6fd8"] and got["tombstones"] == ["003_5c922709e45f6fd8"]
    assert got["removed"] == 1 and "002_c2cd96ef16f533c8" not in got["hashes"]
    assert {"000_57d2e1b9fe295f13", "001_ea2af11fa424174d", "004_ff300f254502d343", "twin"} == set(got["hashes"])
    assert "skipped other/twin.txt: docs/twin.txt has the same article id 'twin'; rename one" in got["warnings"]
    assert any("kept the indexed copy of 004_ff300f254502d343" in w for w in got["warnings"])
    twin = " ".join(text for pid, text in got["texts"] if pid.startswith("twin:"))
    assert "310 passengers" in twin and "920" not in twin  # the first copy, in file order
    assert any("14 boats" in text for pid, text in got["texts"] if pid.startswith("001_"))
    assert got["reused"] > 0 and got["embedded"] > 0  # 000 and 004 reused; 001 and the twin embedded
