"""Session fixtures: one real seeds index (real model, no network) shared by the suite."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# In CI (.ci/run) the shared data, Ray, Chromium and wrk are all there, so a skip means something is missing that
# should not be: QA_REQUIRE_ALL=1 turns every skip into a failure that gives the skip's reason.
REQUIRE_ALL = os.environ.get("QA_REQUIRE_ALL") == "1"

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
JET = "When did Turkey shoot down the Russian jet?"


def seed_questions() -> list[str]:
    """The questions of tests/questions/seeds.jsonl, read as `qa eval` reads them."""
    from qa.evaluate import load_questions

    return [q.q for q in load_questions(ROOT / "tests" / "questions" / "seeds.jsonl")]


def _no_skip(report) -> None:
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, and QA_REQUIRE_ALL=1 makes a skip a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _no_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield  # a module that skips as a whole (importorskip, a module-level skip) is skipped here
    _no_skip(outcome.get_result())


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory) -> Path:
    from index.build import build_index

    path = tmp_path_factory.mktemp("seeds") / "index"
    build_index([SEEDS], path)
    return path


@pytest.fixture(scope="session")
def settings(seeds_index):
    from qa.settings import Settings

    return Settings.from_env(index=seeds_index)


@pytest.fixture(scope="session")
def engine(settings):
    from qa.engine import Engine

    return Engine.open(settings)


@pytest.fixture(scope="session")
def client(settings, engine):
    from fastapi.testclient import TestClient

    from api.app import create_app

    return TestClient(create_app(settings, engine))


def with_thresholds(engine, **thresholds):
    """The same engine deciding with other thresholds: a test sets the threshold itself instead of sitting on one."""
    from qa.decide import Decision
    from qa.engine import Engine

    config = {**engine.decision.config, "thresholds": {**engine.decision.config["thresholds"], **thresholds}}
    return Engine(engine.live, engine.encoder, engine.reader, engine.settings, Decision(config, engine.decision.models))


@pytest.fixture()
def corpus(tmp_path) -> Path:
    """A private copy of the seeds to modify."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder


def tricky_inputs(tmp_path: Path) -> tuple[list[Path], Path]:
    """Inputs on which a build has a decision to take for every article, and the index they update: one article
    unchanged, one changed, one deleted on purpose (a tombstone), one whose file is gone, one whose file has become
    unreadable, and a new id given twice, in two files (the first copy wins). Returns the paths to build and the
    index, built from the seeds before the changes."""
    from index.build import build_index, delete_articles

    docs, other = tmp_path / "docs", tmp_path / "other"
    shutil.copytree(SEEDS, docs)
    other.mkdir()
    root = tmp_path / "index"
    build_index([docs], root)
    delete_articles(root, ["003_5c922709e45f6fd8"])
    changed = docs / "001_ea2af11fa424174d.txt"
    changed.write_text(changed.read_text() + "\n\nOfficials later counted 14 boats on the Varnett river.")
    (docs / "002_c2cd96ef16f533c8.txt").unlink()
    (docs / "004_ff300f254502d343.txt").write_bytes(bytes(range(256)) * 16)  # binary now: its old copy stays
    (docs / "twin.txt").write_text("The first twin\n\nThe Quillhaven ferry carried 310 passengers on Monday.")
    (other / "twin.txt").write_text("The second twin\n\nThe Quillhaven ferry carried 920 passengers on Friday.")
    return [docs, other], root


def build_outcome(report, root: Path) -> dict:
    """Everything a build decided, as the report and the committed index show it, for comparing two builds."""
    from index.store import IndexReader

    view = IndexReader(root)
    rows = np.flatnonzero(view.passage_mask(view.live_articles))
    passages = [view.passage(int(row)) for row in rows]
    order = np.argsort([p["id"] for p in passages])
    return {"vectors": view.passage_vectors(rows)[order], "texts": sorted((p["id"], p["text"]) for p in passages),
            "embedded": report.embedded, "reused": report.reused, "removed": report.removed, "kept": report.kept,
            "skipped": report.skipped, "warnings": sorted(report.warnings), "articles": report.articles,
            "passages": report.passages, "hashes": view.live_hashes(),
            "tombstones": sorted(view.commit.tombstones)}
