"""FAISS index choice by size, the search knobs, memory-mapped loading and the int8 build option."""

from pathlib import Path

import faiss
import numpy as np
import pytest

from index import store
from index.build import bm25_text
from index.documents import Article
from index.store import IndexReader, faiss_kind, write_index
from index.terms import terms
from qa.engine import Engine
from qa.settings import Settings

from conftest import JET, SEEDS


def rewrite(source: Path, root: Path) -> IndexReader:
    """The seeds index written again through write_index, so the current FLAT_MAX picks its FAISS type."""
    old = IndexReader(source)
    articles = [Article(id=a["id"], text=old.text(i), title=a["title"], outlet=a["outlet"], published=a["published"])
                for i, a in enumerate(old.articles)]
    passage_terms = [terms(bm25_text(articles[p[0]], int(p[2]), int(p[3]))) for p in np.asarray(old.passages)]
    manifest = {"model": old.manifest["model"], "passages": old.manifest["passages"]}
    write_index(root, articles, np.asarray(old.passages), np.asarray(old.vectors), np.asarray(old.units),
                np.asarray(old.unit_vectors), passage_terms, old.folder / "model", manifest)
    return IndexReader(root)


@pytest.fixture()
def ivf_index(seeds_index, tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(store, "FLAT_MAX", 10)
    rewrite(seeds_index, tmp_path / "ivf")
    return tmp_path / "ivf"


@pytest.fixture()
def spy(monkeypatch):
    """Records the search parameters every FAISS IVF-SQ8 or HNSW search receives."""
    seen = []
    for cls in (faiss.IndexIVFScalarQuantizer, faiss.IndexHNSWFlat):
        original = cls.search

        def search(self, x, k, *args, params=None, _original=original, **kwargs):
            seen.append(params)
            return _original(self, x, k, *args, params=params, **kwargs)

        monkeypatch.setattr(cls, "search", search)
    return seen


def test_kind_follows_size_threshold(monkeypatch):
    monkeypatch.setattr(store, "FLAT_MAX", 100)
    assert faiss_kind(100) == "flat" and faiss_kind(101) == "ivf-sq8"
    assert faiss_kind(100, "int8") == "sq8" and faiss_kind(101, "int8") == "ivf-sq8"
    assert store.faiss_factory("ivf-sq8", 1_000_000) == "IVF2048,SQ8"
    with pytest.raises(ValueError):
        faiss_kind(10, "int4")


def test_beyond_threshold_is_ivf_and_answers_alike(ivf_index, engine):
    reader = IndexReader(ivf_index)
    assert reader.manifest["faiss"] == "ivf-sq8" and reader.manifest["faiss_factory"].startswith("IVF")
    assert faiss.try_extract_index_ivf(reader.dense) is not None
    approximate = Engine.open(Settings.from_env(index=ivf_index))
    assert approximate.ask(JET, k=1).passages[0].id == engine.ask(JET, k=1).passages[0].id


def test_nprobe_reaches_faiss_from_settings(ivf_index, spy, monkeypatch):
    monkeypatch.setenv("QA_NPROBE", "3")
    settings = Settings.from_env(index=ivf_index)
    assert settings.nprobe == 3
    engine = Engine.open(settings)
    engine.ask(JET, k=1)
    assert spy and all(p.nprobe == 3 for p in spy)


def test_filtered_search_keeps_knob_and_filter(ivf_index, spy, monkeypatch):
    monkeypatch.setattr(store, "FLAT_MAX", 1)  # so the filtered search goes to FAISS, not the exact numpy path
    reader = IndexReader(ivf_index, nprobe=5)
    mask = np.zeros(len(reader), dtype=bool)
    mask[::2] = True
    hits = reader.dense_search(np.asarray(reader.vectors[2]), 3, mask)
    assert spy[-1].nprobe == 5 and spy[-1].sel is not None
    assert hits[0].row == 2 and all(mask[h.row] for h in hits)


def test_ef_search_reaches_hnsw(seeds_index, spy):
    reader = IndexReader(seeds_index, ef_search=7)
    hnsw = faiss.IndexHNSWFlat(reader.vectors.shape[1], 8, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(np.ascontiguousarray(reader.vectors))
    reader.dense = hnsw
    assert reader.dense_search(np.asarray(reader.vectors[0]), 2)[0].row == 0
    assert spy[-1].efSearch == 7


def test_loads_memory_mapped(ivf_index):
    reader = IndexReader(ivf_index)
    for name in ("passages", "vectors", "units", "unit_vectors"):
        assert isinstance(getattr(reader, name).base, np.memmap), name  # a view over the map, not a copy
    maps = Path("/proc/self/maps")
    if maps.exists():
        assert str(reader.folder / "dense.faiss") in maps.read_text()


def test_int8_build_answers_jet_alike(tmp_path, engine):
    from click.testing import CliRunner

    from qa.cli import main

    root = tmp_path / "int8"
    result = CliRunner().invoke(main, ["build", str(SEEDS), "--index", str(root), "--int8"])
    assert result.exit_code == 0, result.output
    int8 = Engine.open(Settings.from_env(index=root))
    assert int8.index.manifest["faiss"] == "sq8"
    assert isinstance(int8.index.dense, faiss.IndexScalarQuantizer)
    assert int8.ask(JET, k=1).passages[0].id == engine.ask(JET, k=1).passages[0].id
