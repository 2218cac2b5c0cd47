"""Session fixtures: one real seeds index (real model, no network) shared by the suite."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
JET = "When did Turkey shoot down the Russian jet?"


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
