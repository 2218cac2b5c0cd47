"""Builds on a real local Ray cluster: the same index as a local build, and a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from conftest import JET, SEEDS, seed_questions
from index.commit import latest
from index.store import IndexReader
from qa.engine import Engine
from qa.settings import Settings

ray = pytest.importorskip("ray", reason="Ray is an extra: pip install '.[ray]' (make test installs it)")

QUESTIONS = seed_questions()


def processes(title: str) -> list[int]:
    """Pids of Ray workers whose process title holds `title` (Ray names them ray::<actor class>...)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if title.encode() in handle.read() and int(entry) != os.getpid():
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module: 2 CPUs and a small object store, so it fits CI machines."""
    ray.init(num_cpus=2, object_store_memory=128 * 2**20, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}})
    yield
    ray.shutdown()


@pytest.mark.timeout(300)
def test_ray_and_local_builds_take_the_same_decisions(cluster, tmp_path, monkeypatch):
    """The one build plan: on inputs with every kind of decision (tests/conftest.py), a Ray build and a local build
    report the same and commit the same articles, passages and vectors; each file its own Ray block, so a repeated
    id meets the plan across blocks."""
    import shutil

    import numpy as np

    import index.ray_build as ray_build
    from conftest import build_outcome, tricky_inputs
    from index.build import build_index

    paths, root = tricky_inputs(tmp_path)
    shutil.copytree(root, tmp_path / "on_ray")
    monkeypatch.setattr(ray_build, "BLOCK_FILES", 1)
    on_ray = build_outcome(ray_build.build_on_ray(paths, tmp_path / "on_ray", "auto", actors=2), tmp_path / "on_ray")
    local = build_outcome(build_index(paths, root), root)
    assert np.allclose(on_ray.pop("vectors"), local.pop("vectors"), atol=2e-3)
    assert on_ray == local and local["embedded"] > 0 and local["reused"] > 0
    again = ray_build.build_on_ray(paths, tmp_path / "on_ray", "auto")
    assert again.embedded == 0 and again.reused == local["reused"] + local["embedded"]  # nothing re-embedded


@pytest.mark.timeout(300)
def test_killed_encoder_actor_loses_nothing(cluster, tmp_path, monkeypatch):
    """kill -9 of the embedding actor mid-build: Ray restarts it and retries, or the build fails with a message;
    either way the index holds a whole generation and every article of the one it claims."""
    import index.ray_build as ray_build
    from conftest import build_outcome
    from index.build import build_index
    from index.errors import QAError

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        (docs / f"s{i:02}.txt").write_text(f"Story {i}\n\n" + f"Officials counted {i} boats on the Varnett river. " * 40)
    root = tmp_path / "ix"
    build_index([SEEDS], root)
    monkeypatch.setattr(ray_build, "BLOCK_FILES", 4)  # twelve blocks, so the kill lands mid-job
    killed = []

    def kill_encoder() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            for pid in processes("MapWorker"):
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, time.time()))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_encoder)
    killer.start()
    try:
        report = ray_build.build_on_ray([SEEDS, docs], root, "auto")
    except QAError as exc:
        report, failure = None, str(exc)
    ended = time.time()
    killer.join()
    assert killed and killed[0][1] < ended, "no encoder actor was killed while the build ran"
    if report is None:  # failed: the generation before stays whole and in service
        assert "nothing was committed and generation 1 stays in service" in failure
        assert latest(root).generation == 1 and IndexReader(root).counts()["articles"] == 5
    else:  # Ray retried: every block's articles, once each, with the passages a local build makes
        got, want = build_outcome(report, root), build_outcome(build_index([SEEDS, docs], tmp_path / "local"),
                                                              tmp_path / "local")
        assert latest(root).generation == 2 and got["hashes"] == want["hashes"] and got["texts"] == want["texts"]


@pytest.fixture(scope="module")
def served(cluster, tmp_path_factory):
    """The seeds as five one-article segments, served by Ray Serve with 2 shards x 2 replicas."""
    import httpx
    from ray import serve

    from api.local import free_port
    from api.ray_serve import application
    from index.build import add_articles
    from index.documents import load_articles

    root = tmp_path_factory.mktemp("served") / "ix"
    for article in load_articles([SEEDS]):
        add_articles(root, [article])
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    settings = Settings.from_env(index=root, write_token="ray-token")
    serve.run(application(settings, shards=2, replicas=2), name="qa", route_prefix="/")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield root, client
    serve.shutdown()


@pytest.mark.timeout(300)
def test_ray_serve_answers_like_one_node(served):
    """The ingress encodes and reads itself (no encoder deployment), and every seed question's whole answer, its
    status, confidence and per-source reports included, equals a single node's JSON."""
    from fastapi.testclient import TestClient
    from ray import serve

    from api.app import create_app

    root, client = served
    deployments = set(serve.status().applications["qa"].deployments)
    assert deployments == {"Ingress", "Shard0", "Shard1"}
    settings = Settings.from_env(index=root)
    single = TestClient(create_app(settings, Engine.open(settings)))
    statuses, groups = set(), 0
    for question in QUESTIONS:
        body = client.get("/ask", params={"q": question}).json()
        local = single.get("/ask", params={"q": question}).json()
        body.pop("took_ms"), local.pop("took_ms")
        assert body == local, question
        statuses.add(local["answer"] and local["answer"]["status"])
        groups = max(groups, len(local["answer"]["reports"]) if local["answer"] else 0)
    # The seeds reach every state of the decision and a question whose sources state different values.
    assert statuses == {"answered", "uncertain", None} and groups >= 2
    health = client.get("/health").json()
    assert health["articles"] == 5 and len(health["shards"]) == 2
    assert client.get("/search", params={"q": "Idlib", "k": 3}).status_code == 200
    assert "<form" in client.get("/").text


@pytest.mark.timeout(300)
def test_ray_serve_takes_writes_and_survives_a_killed_replica(served):
    root, client = served
    posted = client.post("/articles", headers={"Authorization": "Bearer ray-token"},
                         json={"id": "bridge", "text": "The Varnett river bridge in Quillhaven reopens on March 3, 2031."})
    assert posted.status_code == 201
    deadline = time.time() + 10
    while time.time() < deadline:
        top = client.get("/search", params={"q": "When does the Varnett river bridge reopen?", "k": 1}).json()
        if top["passages"][0]["source"]["id"] == "bridge":
            break
        time.sleep(0.2)
    else:
        pytest.fail("the posted article was not served within 10 s")
    os.kill(processes("Shard0")[0], signal.SIGKILL)  # one of shard 0's two replicas
    statuses = []
    for _ in range(30):
        response = client.get("/ask", params={"q": JET})
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert response.headers.get("retry-after") and "retry" in response.json()["error"]
    assert set(statuses) <= {200, 503} and statuses[-1] == 200, statuses
