"""A Ray build across two simulated nodes, one of them declaring a GPU: where the encoder actors go, and what they
run on when the node's onnxruntime has no CUDA provider."""

from __future__ import annotations

import pytest

from conftest import SEEDS
from index.ray_build import CPU, CUDA, embed_plan, providers
from index.store import IndexReader

ray = pytest.importorskip("ray", reason="Ray is an extra: pip install '.[ray]' (make test installs it)")


def test_encoder_actors_take_a_gpu_each_where_there_are_gpus():
    assert embed_plan({"CPU": 16, "GPU": 2}, 2) == (2, {"num_gpus": 1, "num_cpus": 0.5}, None)
    actors, ask, note = embed_plan({"CPU": 16, "GPU": 2}, 4)
    assert (actors, ask["num_gpus"]) == (2, 1) and "GPUs leave no room" in note


def test_without_gpus_encoder_actors_leave_a_cpu_for_tasks():
    assert embed_plan({"CPU": 2}, 2) == (2, {"num_cpus": 0.5}, None)
    actors, ask, note = embed_plan({"CPU": 2}, 3)
    assert actors == 2 and "num_gpus" not in ask and "CPUs leave no room" in note
    assert embed_plan({"CPU": 1}, 2)[0] == 1  # one actor always runs


def test_cuda_only_where_given_a_gpu_and_onnxruntime_has_it():
    assert providers(True, [CUDA, CPU]) == [CUDA, CPU]
    assert providers(True, [CPU]) == [CPU]
    assert providers(False, [CUDA, CPU]) == [CPU]


@pytest.fixture(scope="module")
def two_nodes():
    """A head node with one CPU and a worker node with one CPU and one (declared) GPU, on this machine."""
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 96 * 2**20,
                                                            "include_dashboard": False})
    cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=96 * 2**20)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.mark.timeout(300)
def test_build_across_nodes_puts_the_encoder_on_the_gpu_node(two_nodes, seeds_index, tmp_path):
    from index.ray_build import build_on_ray

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    report = build_on_ray([SEEDS], tmp_path / "ix", "auto", actors=2)
    # One GPU in the cluster: one actor, scheduled on the GPU node; this onnxruntime has no CUDA, and the build says
    # so instead of pretending.
    assert any("no room for more" in w for w in report.warnings)
    import onnxruntime

    assert any("no CUDA provider" in w for w in report.warnings) == (CUDA not in onnxruntime.get_available_providers())
    local, built = IndexReader(seeds_index), IndexReader(tmp_path / "ix")
    assert built.counts() == local.counts()
    assert [built.passage(i)["id"] for i in range(len(built))] == [local.passage(i)["id"] for i in range(len(local))]
