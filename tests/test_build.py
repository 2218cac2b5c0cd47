"""Index builds: incremental updates, atomic replacement, skipped files."""

import json

import numpy as np
import pytest

from index.build import build_index
from index.store import IndexReader, current_version
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


def test_reused_vectors_equal_fresh_ones(corpus, tmp_path):
    root = tmp_path / "ix"
    build_index([corpus], root)
    before = IndexReader(root)
    old = {before.passage(i)["id"]: np.asarray(before.vectors[i]) for i in range(len(before))}
    (corpus / "005_new.txt").write_text("An unrelated short story about a summit in Astana.")
    build_index([corpus], root)
    after = IndexReader(root)
    for i in range(len(after)):
        pid = after.passage(i)["id"]
        if pid in old:
            assert np.allclose(old[pid], after.vectors[i])


def test_rebuild_adds_a_missing_query_model(corpus, tmp_path):
    """An index written before the 8-bit query model existed gains it on its next build, even with nothing new."""
    from index.encoder import QUERY_FILE

    root = tmp_path / "ix"
    build_index([corpus], root)
    (current_version(root) / "model" / QUERY_FILE).unlink()
    assert Engine.open(Settings.from_env(index=root)).encoder.path.name == "model.onnx"  # falls back, with a warning
    report = build_index([corpus], root)
    assert report.embedded == 0
    assert (current_version(root) / "model" / QUERY_FILE).is_file()
    assert Engine.open(Settings.from_env(index=root)).encoder.path.name == QUERY_FILE


def test_crashed_build_leaves_old_index_loadable(corpus, tmp_path, monkeypatch):
    root = tmp_path / "ix"
    build_index([corpus], root)
    before = current_version(root)
    (corpus / "005_new.txt").write_text("A new article about Idlib that never makes it into the index.")

    import index.store

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(index.store, "_write_articles", explode)
    with pytest.raises(RuntimeError):
        build_index([corpus], root)
    assert current_version(root) == before
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    engine = Engine.open(Settings.from_env(index=root))
    assert len(engine.articles()) == 5


def test_manifest_describes_index(seeds_index):
    manifest = json.loads((current_version(seeds_index) / "manifest.json").read_text())
    assert manifest["model"] == {"name": "all-MiniLM-L6-v2", "dim": 384}
    assert manifest["counts"]["articles"] == 5 and len(manifest["articles"]) == 5
    assert manifest["faiss"] == "flat" and manifest["format_version"] >= 1


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
