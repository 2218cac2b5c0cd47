"""Issue 19: damaged index files are refused in one line naming the file and the rebuild (CLI), a server keeps
serving its last good generation and says so in /health, and nothing damaged is ever answered from."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from conftest import SEEDS
from index.build import build_index, delete_articles
from index.commit import latest
from index.store import LiveIndex
from cli.main import main
from qa.engine import Engine
from qa.settings import Settings

SEGMENT_FILES = ["passages.npy", "vectors.npy", "units.npy", "unit_vectors.npy", "dense.faiss", "articles.sqlite",
                 "segment.json", "vocab.json", "indptr.npy", "docs.npy", "freqs.npy", "lengths.npy"]
MODEL_FILES = ["model-q8.onnx", "tokenizer.json", "encoder.json", "checksums.json"]
MODES = ["empty", "from byte 128", "last quarter"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine") / "ix"
    build_index([SEEDS], root)
    return root


def _copy(pristine, target):
    """A copy of the index made of hard links (fast): damage() replaces a file instead of writing through it."""
    shutil.copytree(pristine, target, copy_function=os.link)
    return target


def damage(path, mode):
    data = path.read_bytes()
    path.unlink()
    if mode == "empty":
        data = b""
    elif mode == "from byte 128":
        start = min(128, len(data) // 2)
        data = data[:start] + bytes(255 - b for b in data[start:])
    else:
        start = len(data) * 3 // 4
        data = data[:start] + bytes(255 - b for b in data[start:])
    path.write_bytes(data)


def _one_line_error(result, name, root):
    out = result.output.strip()
    assert result.exit_code == 1, out
    assert out.startswith("Error: ") and len(out.splitlines()) == 1 and "Traceback" not in out and "Aborted" not in out
    assert name in out and f"qa build PATH --index {root}" in out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SEGMENT_FILES)
def test_a_damaged_segment_file_is_one_line_naming_it(pristine, tmp_path, name, mode):
    root = _copy(pristine, tmp_path / "ix")
    damage(root / latest(root).segments[0]["name"] / name, mode)
    _one_line_error(CliRunner().invoke(main, ["search", "Idlib ceasefire", "--index", str(root)]), name, root)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", MODEL_FILES)
def test_a_damaged_model_file_is_one_line_never_a_fallback(pristine, tmp_path, name, mode):
    root = _copy(pristine, tmp_path / "ix")
    damage(root / "model" / name, mode)
    _one_line_error(CliRunner().invoke(main, ["ask", "Who is Turkey's defence minister?", "--index", str(root)]),
                    name, root)


def test_a_damaged_index_is_rebuilt_by_the_command_it_names(pristine, tmp_path):
    root = _copy(pristine, tmp_path / "ix")
    damage(root / latest(root).segments[0]["name"] / "vectors.npy", "from byte 128")
    damage(root / "model" / "model.onnx", "last quarter")
    assert CliRunner().invoke(main, ["build", str(SEEDS), "--index", str(root)]).exit_code == 0
    assert CliRunner().invoke(main, ["search", "Idlib", "--index", str(root)]).exit_code == 0


def test_a_server_keeps_its_last_good_generation_and_says_so(pristine, tmp_path):
    root = _copy(pristine, tmp_path / "ix")
    settings = Settings.from_env(index=root)
    client = TestClient(create_app(settings, Engine.open(settings)))
    assert client.get("/health").json()["status"] == "ok"
    delete_articles(root, ["001_ea2af11fa424174d"])  # generation 2, then its newest segment list is damaged
    bad = root / f"commit-{latest(root).generation:08d}.json"
    data = json.loads(bad.read_text())
    data["segments"][0]["deleted"] = 5
    bad.write_text(json.dumps(data))
    statuses, generations = set(), set()
    ends = time.monotonic() + 3 * LiveIndex.POLL
    while time.monotonic() < ends:
        answer = client.get("/search", params={"q": "Idlib ceasefire"})
        statuses.add(answer.status_code)
        generations.add(client.get("/health").json()["generation"])
    assert statuses == {200} and generations == {1}  # no flip-flop between 503 and the old generation
    health = client.get("/health").json()
    assert health["status"] == "degraded" and health["generation"] == 1
    assert health["newest"]["generation"] == 2 and bad.name in health["newest"]["error"]
    assert "qa build" in health["newest"]["error"]
    os.utime(root)
    build_index([SEEDS], root)  # the rebuild it names: the server moves on by itself
    time.sleep(LiveIndex.POLL)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["generation"] > 2 and "newest" not in health
