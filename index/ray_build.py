"""`qa build --ray ADDRESS`: the build's stages as a Ray Data pipeline, for corpora one machine cannot embed in time.

    files -> read, clean, cut into passages (tasks) -> embed (an actor pool of ONNX encoders, one model load each)
          -> write a segment per block (tasks) -> one commit on the driver, under the index's write lock

The result is the same index format as a local build: each block of articles is one segment, and lexical
statistics are never computed on one node, since the query side sums each segment's postings over the live set
(index/lexical.py). A failed job commits nothing, so the previous generation stays in service; segments its
workers wrote are leftovers the next writer deletes.
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .files import given_prefix
from .build import BuildReport, Planner, _Parts, delete_gone, finish, skipped_note
from .documents import load_files
from .encoder import DEFAULT_MODEL, TokenCounter, open_encoder
from .errors import QAError
from .files import iter_files
from .passages import PassageSpec
from .segment import write_segment
from .writer import IndexWriter

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


def _read(row: dict, live: dict[str, str], tombstones: dict[str, str], folder: str, spec: dict, dim: int) -> dict:
    """A block of files read, cleaned and cut; unchanged articles (same hash as indexed) are only counted, and
    articles deleted on purpose are left out."""
    warnings, unreadable, seen, skipped = [], [], [], []
    articles = []
    for article in load_files([(Path(p), Path(b)) for p, b in row["files"]], warnings.append, unreadable.append):
        seen.append(article.id)
        if article.id in tombstones:
            skipped.append(article.id)
        elif live.get(article.id) != article.hash:
            articles.append(article)
    chunk = Planner(TokenCounter(Path(folder)), PassageSpec(**spec), dim).plan(0, articles) if articles else None
    return {"chunk": pickle.dumps(chunk), "warnings": warnings, "unreadable": unreadable, "seen": seen,
            "skipped": skipped}


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
    parts = _Parts()
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
    import ray

    started = time.perf_counter()
    report = BuildReport(path=Path(root))

    def note(message: str) -> None:
        report.warnings.append(message)
        if warn:
            warn(message)

    unreadable: set[str] = set()
    with IndexWriter(Path(root), model, spec, quantize, rebuild=True) as writer:
        generation = writer.generation
        files = [(str(p), str(b)) for p, b in iter_files(paths, note, unreadable.add)]
        if not files:
            raise QAError(f"no articles found in {', '.join(map(str, paths))}")
        live = writer.live_hashes()
        connect(address)
        actors, resources, fewer = embed_plan(ray.cluster_resources(), actors)
        if fewer:
            note(fewer)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # segments in file order, as a local build lays them out
        # At least four blocks per actor, so every actor has work and a slow block does not hold the job up.
        per_block = max(1, min(BLOCK_FILES, -(-len(files) // (4 * actors))))
        blocks = [{"files": files[i : i + per_block]} for i in range(0, len(files), per_block)]
        settings = {"folder": str(writer.model_folder), "spec": spec.as_dict(), "dim": writer.dim}
        try:
            rows = (
                ray.data.from_items(blocks, override_num_blocks=len(blocks))
                .map(_read, fn_kwargs={"live": live, "tombstones": writer.tombstones, **settings})
                .map_batches(_Embed, batch_size=1, compute=ray.data.ActorPoolStrategy(size=actors),
                             **resources, fn_constructor_kwargs={"folder": settings["folder"], "model": model})
                .map(_write, fn_kwargs={"root": str(root), "dim": writer.dim, "quantize": quantize})
                .take_all()
            )
        except Exception as exc:  # noqa: BLE001  (any failure of the job: Ray wraps the worker's error)
            raise QAError(f"the Ray build failed, nothing was committed and generation {generation} stays in "
                          f"service: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}") from None
        seen: set[str] = set()
        added: set[str] = set()
        if any(row["gpu_unused"] for row in rows):
            note("a GPU node's onnxruntime has no CUDA provider (install onnxruntime-gpu there), so it embedded on CPU")
        for row in rows:
            for message in row["warnings"]:
                note(message)
            unreadable.update(row["unreadable"])
            duplicates = seen.intersection(row["seen"])
            for article_id in sorted(duplicates):
                note(f"two articles have the id {article_id!r}: the later one is indexed")
            seen.update(row["seen"])
            report.skipped.extend(row["skipped"])
            if row["segment"]:
                if not (Path(root) / row["segment"] / "segment.json").is_file():
                    raise QAError(f"a Ray worker wrote segment {row['segment']} where this machine cannot see it: "
                                  "the index folder must be on a file system every node shares")
                meta = pickle.loads(row["meta"])
                writer.register(row["segment"], meta, list(row["ids"]))
                added.update(row["ids"])
                report.embedded += meta["passages"]
        report.reused = sum(writer.view.passage_count(i) for i in seen - added if i in live)
        prefixes = None if prune else [given_prefix(p) for p in paths]
        report.removed = delete_gone(writer, live, seen, unreadable, note, prefixes, report.kept)
        writer.commit()
    skipped_note(report, note)
    return finish(report, started)
