"""Shared by every benchmark: the machine description, percentiles, data paths, and a plain table printer."""

from __future__ import annotations

import gzip
import html
import json
import os
import platform
import resource
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT.parent / "shared" / "data"
REUTERS = SHARED_DATA / "reuters-21578"
SQUAD = SHARED_DATA / "squad-v1.1-dev" / "dev-v1.1.json"


def machine() -> str:
    """Cores, RAM and CPU model: every figure is only meaningful next to this line."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {ram:.0f} GiB RAM, {cpu}, Python {platform.python_version()}"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    arr = np.asarray(samples_ms, dtype=float)
    return {"p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99)), "mean": float(arr.mean())}


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    """Wall milliseconds and the result of one call."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children) in MiB; Linux reports KiB."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def reuters_stories(limit: int | None = None) -> Iterator[dict]:
    """Reuters-21578 stories that have a body, in file order; the data stays in ../shared and is never copied."""
    if not REUTERS.is_dir():
        raise FileNotFoundError(f"{REUTERS} is absent; the Reuters benchmarks need ../shared/data/reuters-21578")
    count = 0
    for path in sorted(REUTERS.glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
        for story in data:
            if story.get("body", "").strip():
                yield story
                count += 1
                if limit and count >= limit:
                    return


def reuters_article(story: dict) -> dict:
    """One Reuters story as a jsonl article the loader reads; the SGML sources keep HTML entities."""
    record = {"id": f"reuters-{story['attrs']['newid']}", "title": html.unescape(story.get("title") or "").strip(),
              "text": html.unescape(story["body"]), "outlet": "Reuters"}
    try:
        record["published"] = datetime.strptime(story["date"].split()[0], "%d-%b-%Y").date().isoformat()
    except (KeyError, ValueError, IndexError):
        pass
    return record


def qa_command() -> list[str]:
    """The installed `qa` script next to this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("qa")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cli.main"]


def table(rows: list[tuple], header: tuple) -> str:
    """A GitHub-markdown table, so the output pastes straight into BENCHMARKS.md."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"{c:.3g}" if isinstance(c, float) else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
