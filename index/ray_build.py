"""`qa build --ray ADDRESS`: the build plan (index/plan.py) with its embedding stage as Ray Data pipelines, for
corpora one machine cannot embed in time.

    files -> read and clean (tasks) -> the plan decides on the driver, from each article's id, hash and path
          -> cut into passages (tasks) -> embed (an actor pool of ONNX encoders, one model load each)
          -> write a segment per block (tasks) -> the plan's one commit on the driver, under the write lock

Workers read, but only the plan decides, in file order, exactly as in a local build. The result is the same index
format: each block of articles is one segment, and lexical statistics are never computed on one node, since the
query side sums each segment's postings over the live set (index/lexical.py). A failed job commits nothing, so the
previous generation stays in service; segments its workers wrote are leftovers the next writer deletes.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import numpy as np

from .chunks import Parts, Planner
from .documents import load_files
from .encoder import DEFAULT_MODEL, TokenCounter, open_encoder
from .errors import QAError
from .files import iter_files
from .passages import PassageSpec
from .plan import BuildPlan, BuildReport, run_build
from .segment import write_segment

# Files per block at most, so per segment: enough to keep encoder batches full. A block is made of whole files, so a
# corpus in one big .jsonl file is one block: split such files to spread them.
BLOCK_FILES = 200
# Each encoder actor asks for this share of a CPU: whole CPUs would let two actors hold both cores of a small
# machine, and the read and write tasks would then never be scheduled (a known Ray trap).
ACTOR_CPUS = 0.5
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def embed_plan(resources: dict, actors: int) -> tuple[int, dict, str | None]:
    """How many encoder actors, the resources each asks for, and a note when fewer than asked can run.

    On a cluster with GPUs each actor takes one: an actor waiting for a GPU that does not exist would hang the job.
    Without, actors take at most all but one CPU, so that the read and write tasks can run at all.
    """
    gpus = int(resources.get("GPU", 0))
    if gpus:
        room, ask, unit = gpus, {"num_gpus": 1, "num_cpus": ACTOR_CPUS}, "GPUs"
    else:
        room, ask, unit = max(1, int((resources.get("CPU", 1) - 1) / ACTOR_CPUS)), {"num_cpus": ACTOR_CPUS}, "CPUs"
    if actors <= room:
        return actors, ask, None
    return room, ask, f"using {room} encoder actors, not {actors}: the cluster's {unit} leave no room for more"


def providers(has_gpu: bool, available: list[str]) -> list[str]:
    """ONNX Runtime providers for an encoder actor: CUDA first where Ray gave it a GPU and onnxruntime-gpu is
    installed (CPU stays as the fallback for operators CUDA lacks)."""
    return [CUDA, CPU] if has_gpu and CUDA in available else [CPU]


def connect(address: str, cpus: int | None = None) -> None:
    """Join a cluster: `local` starts one for this process, `auto` finds a running one, else `host:port`."""
    import ray

    if ray.is_initialized():
        return
    # Each worker runs ONNX Runtime and numpy; leaving their thread pools at the node's core count oversubscribes.
    env = {"env_vars": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}}
    if address == "local":
        # Ray starts workers at nice 15 so its own daemons keep priority; a Serve replica reading at nice 15 then
        # waits behind any ordinary process on its cores (BENCHMARKS.md, "Ray Serve with one hop less"). The
        # raylet reads this when it starts; a cluster joined with `auto` keeps the niceness it was started with.
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(num_cpus=cpus or os.cpu_count(), include_dashboard=False, runtime_env=env, log_to_driver=False,
                 object_store_memory=256 * 2**20)
    else:
        ray.init(address=address, runtime_env=env, log_to_driver=False)


class Note(NamedTuple):
    """A worker's note of an article it read: what the plan decides on, without the text."""

    id: str
    hash: str
    path: str | None


def _read(row: dict) -> dict:
    """A block of files read and cleaned; the driver's plan decides which of its articles to embed."""
    warnings, unreadable = [], []
    articles = list(load_files([(Path(p), Path(b)) for p, b in row["files"]], warnings.append, unreadable.append))
    return {"block": row["block"], "articles": pickle.dumps(articles), "warnings": warnings, "unreadable": unreadable,
            "notes": pickle.dumps([Note(a.id, a.hash, a.path) for a in articles])}


def _cut(row: dict, wanted: dict[int, list[int]], folder: str, spec: dict, dim: int) -> dict:
    """The articles the plan wants from a block, cut into sentences and passages."""
    articles = pickle.loads(row["articles"])
    chosen = [articles[i] for i in wanted.get(int(row["block"]), [])]
    chunk = Planner(TokenCounter(Path(folder)), PassageSpec(**spec), dim).plan(0, chosen) if chosen else None
    return {"block": row["block"], "chunk": pickle.dumps(chunk)}


class _Embed:
    """One ONNX encoder per actor: the model loads once, then embeds every block it is given."""

    def __init__(self, folder: str, model: str):
        import onnxruntime
        import ray

        given_gpu = bool(ray.get_gpu_ids())
        chosen = providers(given_gpu, onnxruntime.get_available_providers())
        self.encoder = open_encoder(Path(folder), model, threads=1, providers=chosen)
        # What really ran: a GPU node whose onnxruntime has no CUDA embeds on its CPU, and the build says so.
        self.gpu_unused = given_gpu and CUDA not in getattr(self.encoder, "providers", ())

    def __call__(self, batch: dict) -> dict:
        chunks = []
        for blob in batch["chunk"]:
            chunk = pickle.loads(blob)
            if chunk is not None and chunk.texts:
                chunk.unit_vectors[:] = self.encoder.encode(chunk.texts).astype(np.float16)
            chunks.append(pickle.dumps(chunk))
        return {**batch, "chunk": np.array(chunks, dtype=object), "gpu_unused": np.full(len(chunks), self.gpu_unused)}


def _write(row: dict, root: str, dim: int, quantize: str | None) -> dict:
    chunk = pickle.loads(row["chunk"])
    out = {**row, "chunk": b"", "segment": "", "meta": "", "ids": []}
    if chunk is None:
        return out
    parts = Parts()
    parts.add(chunk)
    name, meta = write_segment(Path(root), parts.segment(dim), quantize)
    return {**out, "segment": name, "meta": pickle.dumps(meta), "ids": [a.id for a in chunk.articles]}


def build_on_ray(
    paths: Iterable[Path | str],
    root: Path,
    address: str,
    actors: int = 1,
    model: str = DEFAULT_MODEL,
    spec: PassageSpec = PassageSpec(),
    warn: Callable[[str], None] | None = None,
    quantize: str | None = None,
    prune: bool = False,
) -> BuildReport:
    """Make the index at root match the files, as build_index does, with the work spread over a Ray cluster."""
    paths = list(paths)

    def embed(plan: BuildPlan) -> None:
        files = [(str(p), str(b)) for p, b in iter_files(paths, plan.note, plan.unreadable.add)]
        if files:
            _embed_on_ray(plan, files, address, actors, model, quantize)

    return run_build(paths, root, embed, model, spec, warn, quantize, prune)


def _embed_on_ray(plan: BuildPlan, files: list[tuple[str, str]], address: str, actors: int, model: str,
                  quantize: str | None) -> None:
    import ray

    writer, root = plan.writer, str(plan.writer.root)
    connect(address)
    actors, resources, fewer = embed_plan(ray.cluster_resources(), actors)
    if fewer:
        plan.note(fewer)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # blocks in file order: the plan decides in that order
    # At least four blocks per actor, so every actor has work and a slow block does not hold the job up.
    per_block = max(1, min(BLOCK_FILES, -(-len(files) // (4 * actors))))
    blocks = [{"block": n, "files": files[i : i + per_block]} for n, i in enumerate(range(0, len(files), per_block))]
    settings = {"folder": str(writer.model_folder), "spec": writer.spec.as_dict(), "dim": writer.dim}
    try:
        read = ray.data.from_items(blocks, override_num_blocks=len(blocks)).map(_read).materialize()
        wanted: dict[int, list[int]] = {}
        for row in read.select_columns(["block", "warnings", "unreadable", "notes"]).take_all():
            for message in row["warnings"]:
                plan.note(message)
            plan.unreadable.update(row["unreadable"])
            wanted[int(row["block"])] = [i for i, note in enumerate(pickle.loads(row["notes"])) if plan.wants(note)]
        if not any(wanted.values()):
            return
        rows = (
            read.map(_cut, fn_kwargs={"wanted": wanted, **settings})
            .map_batches(_Embed, batch_size=1, compute=ray.data.ActorPoolStrategy(size=actors),
                         **resources, fn_constructor_kwargs={"folder": settings["folder"], "model": model})
            .map(_write, fn_kwargs={"root": root, "dim": writer.dim, "quantize": quantize})
            .take_all()
        )
    except QAError:
        raise  # the plan's own refusal (NameClash), with its message
    except Exception as exc:  # noqa: BLE001  (any failure of the job: Ray wraps the worker's error)
        raise QAError(f"the Ray build failed, nothing was committed and generation {writer.generation} stays in "
                      f"service: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}") from None
    if any(row["gpu_unused"] for row in rows):
        plan.note("a GPU node's onnxruntime has no CUDA provider (install onnxruntime-gpu there), so it embedded on CPU")
    for row in sorted(rows, key=lambda r: r["block"]):
        if row["segment"]:
            if not (Path(root) / row["segment"] / "segment.json").is_file():
                raise QAError(f"a Ray worker wrote segment {row['segment']} where this machine cannot see it: "
                              "the index folder must be on a file system every node shares")
            meta = pickle.loads(row["meta"])
            writer.register(row["segment"], meta, list(row["ids"]))
            plan.report.embedded += meta["passages"]
