"""FAISS index choice by size, the search knobs, memory-mapped loading and the int8 build option."""

from pathlib import Path

import faiss
import numpy as np
import pytest

from benchmarks.scale import with_dense
from index import dense
from index.commit import Commit, write_commit
from index.dense import faiss_factory, faiss_kind
from index.encoder import copy_model
from index.merge import merged_data
from index.segment import write_segment
from index.store import IndexReader
from qa.engine import Engine
from qa.settings import Settings

from conftest import JET, SEEDS


def rewrite(source: Path, root: Path) -> IndexReader:
    """The seeds index written again as one segment, so the current FLAT_MAX picks its FAISS type; its vectors and
    postings are reused, so nothing is embedded again."""
    old = IndexReader(source)
    root.mkdir(parents=True)
    name, meta = write_segment(root, merged_data(old, list(range(len(old.segments)))))
    copy_model(old.model_folder, root / "model")
    entry = {"name": name, "articles": meta["articles"], "passages": meta["passages"], "deleted": []}
    write_commit(root, Commit(1, old.commit.model, old.commit.passages, "model", [entry]))
    return IndexReader(root)


@pytest.fixture()
def ivf_index(seeds_index, tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(dense, "FLAT_MAX", 10)
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
    monkeypatch.setattr(dense, "FLAT_MAX", 100)
    assert faiss_kind(100) == "flat" and faiss_kind(101) == "ivf-sq8"
    assert faiss_kind(100, "int8") == "sq8" and faiss_kind(101, "int8") == "ivf-sq8"
    assert faiss_factory("ivf-sq8", 1_000_000) == "IVF2048,SQ8"
    with pytest.raises(ValueError):
        faiss_kind(10, "int4")


def test_beyond_threshold_is_ivf_and_answers_alike(ivf_index, engine):
    (seg,) = IndexReader(ivf_index).segments
    assert seg.meta["faiss"] == "ivf-sq8" and seg.meta["faiss_factory"].startswith("IVF")
    assert faiss.try_extract_index_ivf(seg.dense) is not None
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
    monkeypatch.setattr(dense, "FLAT_MAX", 1)  # so the filtered search goes to FAISS, not the exact numpy path
    reader = IndexReader(ivf_index, nprobe=5)
    mask = np.zeros(len(reader), dtype=bool)
    mask[::2] = True
    hits = reader.dense_search(np.asarray(reader.segments[0].vectors[2]), 3, mask)
    assert spy[-1].nprobe == 5 and spy[-1].sel is not None
    assert hits[0].row == 2 and all(mask[h.row] for h in hits)


def test_ef_search_reaches_hnsw(seeds_index, spy):
    reader = IndexReader(seeds_index, ef_search=7)
    vectors = reader.segments[0].vectors
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 8, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(np.ascontiguousarray(vectors))
    reader = with_dense(reader, hnsw)
    assert reader.dense_search(np.asarray(vectors[0]), 2)[0].row == 0
    assert spy[-1].efSearch == 7


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads the process's mappings from Linux's /proc")
def test_loads_memory_mapped(ivf_index):
    (seg,) = IndexReader(ivf_index).segments
    for name in ("passages", "vectors", "units", "unit_vectors"):
        assert isinstance(getattr(seg, name).base, np.memmap), name  # a view over the map, not a copy
    assert str(seg.folder / "dense.faiss") in Path("/proc/self/maps").read_text()  # FAISS reads it mapped too


def test_int8_build_answers_jet_alike(tmp_path, engine):
    from click.testing import CliRunner

    from cli.main import main

    root = tmp_path / "int8"
    result = CliRunner().invoke(main, ["build", str(SEEDS), "--index", str(root), "--int8"])
    assert result.exit_code == 0, result.output
    int8 = Engine.open(Settings.from_env(index=root))
    (seg,) = int8.view().segments
    assert seg.meta["faiss"] == "sq8"
    assert isinstance(seg.dense, faiss.IndexScalarQuantizer)
    assert int8.ask(JET, k=1).passages[0].id == engine.ask(JET, k=1).passages[0].id
