"""Configuration, declared once: defaults, overridden by environment variables, then by explicit arguments."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Settings:
    """Where the index lives, which model it uses, the reader's folder, the corpus to build when there is none, and
    search knobs.

    `nprobe` (IVF lists scanned) and `ef_search` (HNSW breadth) only matter beyond the exact-search size;
    None keeps the defaults in index/store.py.
    """

    index: Path = PROJECT_ROOT / "var" / "index"
    model: str = DEFAULT_MODEL
    seeds: Path = PROJECT_ROOT / "seeds"
    threads: int | None = None
    nprobe: int | None = None
    ef_search: int | None = None
    query_int8: bool = False
    reader: Path = PROJECT_ROOT / "qa" / "models" / "reader"
    # Writes (POST/DELETE /articles) need `Authorization: Bearer <write_token>`; unset, they are refused.
    write_token: str | None = field(default=None, repr=False)
    # Questions answered at once per server process, and how many more may wait before 503 (api/gate.py).
    ask_threads: int = 2
    ask_queue: int = 8
    options: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults < QA_INDEX / QA_MODEL / QA_READER / QA_SEEDS / QA_THREADS / QA_NPROBE / QA_EF_SEARCH /
        QA_QUERY_INT8 / QA_WRITE_TOKEN / QA_ASK_THREADS / QA_ASK_QUEUE < non-None overrides."""
        env: dict[str, object] = {}
        if os.environ.get("QA_INDEX"):
            env["index"] = Path(os.environ["QA_INDEX"])
        if os.environ.get("QA_MODEL"):
            env["model"] = os.environ["QA_MODEL"]
        if os.environ.get("QA_READER"):
            env["reader"] = Path(os.environ["QA_READER"])
        if os.environ.get("QA_SEEDS"):
            env["seeds"] = Path(os.environ["QA_SEEDS"])
        for name in ("threads", "nprobe", "ef_search", "ask_threads", "ask_queue"):
            value = os.environ.get(f"QA_{name.upper()}", "")
            if value.isdigit():
                env[name] = int(value)
        if os.environ.get("QA_WRITE_TOKEN"):
            env["write_token"] = os.environ["QA_WRITE_TOKEN"]
        if os.environ.get("QA_QUERY_INT8", "").lower() in {"1", "true", "yes"}:
            env["query_int8"] = True
        env.update({key: value for key, value in overrides.items() if value is not None})
        if "index" in env:
            env["index"] = Path(env["index"]).expanduser()  # type: ignore[arg-type]
        return replace(cls(), **env)


def serving_plan(workers: int | None, threads: int | None) -> tuple[int, int]:
    """`qa serve`'s worker processes and encoder threads per worker when not told: a worker per core, and encoder
    threads for twice the cores. On 2 cores, 2 workers x 2 threads answered a lone question ~15% sooner than x 1
    thread, and as idle encoder threads soon sleep (engine.QUERY_SPIN_US) busy workers still share the cores
    (BENCHMARKS.md). Measured on 2 cores only, hence never more than 2x oversubscribed."""
    cores = os.cpu_count() or 1
    workers = workers or cores
    return workers, threads or max(1, min(cores, 2 * cores // workers))
