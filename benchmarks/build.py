"""Build throughput: `qa build` of Reuters stories against a bare sentence-transformers encode, in one run.

Usage: .venv/bin/python -m benchmarks.build [--stories N] [--repeat R] [--full] [--out FILE]

The build runs as a child process (`qa build` into a fresh index), so its wall time includes interpreter start-up
and imports, and its peak RAM is the child's own. The baseline is `SentenceTransformer.encode` of the same bodies
cut into 100-word windows, model loaded and warmed beforehand, in this process. With --repeat the two alternate and
the fastest of each counts, which damps noise from other work on the machine. The exported ONNX model is cached per
machine (~/.cache/qa-news), as in normal use, so the export is not part of the timed build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    PROJECT,
    dir_size_mb,
    machine,
    peak_rss_mb,
    qa_command,
    reuters_article,
    reuters_stories,
    table,
    timed,
)

GOAL = 0.7
WINDOW_WORDS = 100


def write_corpus(limit: int | None, folder: Path) -> tuple[Path, list[str]]:
    """The stories as one .jsonl under folder (temporary: Reuters text never enters the repository), and bodies."""
    path = folder / "reuters.jsonl"
    bodies = []
    with path.open("w", encoding="utf-8") as handle:
        for story in reuters_stories(limit):
            record = reuters_article(story)
            handle.write(json.dumps(record) + "\n")
            bodies.append(record["text"])
    return path, bodies


def word_windows(texts: list[str], size: int = WINDOW_WORDS) -> list[str]:
    """Each text cut into consecutive windows of `size` words: the naive way to embed articles."""
    out = []
    for text in texts:
        words = text.split()
        out.extend(" ".join(words[i : i + size]) for i in range(0, len(words), size))
    return out


def run_build(corpus: Path, index: Path) -> tuple[float, str]:
    """Wall milliseconds of `qa build` into a fresh index, and its summary line."""
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run([*qa_command(), "build", str(corpus), "--index", str(index)], capture_output=True,
                          text=True, cwd=PROJECT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"qa build failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return elapsed, done.stdout.strip()


def load_baseline():
    """sentence-transformers as a user would call it, warmed so lazy initialisation is not charged to it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from index.encoder import DEFAULT_MODEL, resolve_model

    model = SentenceTransformer(str(resolve_model(DEFAULT_MODEL)), device="cpu")
    model.encode(["warm up"])
    return model


def index_figures(index: Path) -> dict:
    """Counts of the built index, and its whole folder on disk: segments, commit and the ONNX model export."""
    from index.store import IndexReader

    reader = IndexReader(index)
    counts = reader.counts()
    reader.close()
    return {"passages": counts["passages"], "sentences": counts["sentences"], "articles": counts["articles"],
            "size_mb": dir_size_mb(index)}


def compare(stories: int, repeat: int, scratch: Path) -> dict:
    """The goal's ratio: fastest `qa build` over fastest bare encode of the same text, alternating runs."""
    corpus, bodies = write_corpus(stories, scratch)
    windows = word_windows(bodies)
    model = load_baseline()
    builds, encodes, summary = [], [], ""
    for _ in range(repeat):
        build_ms, summary = run_build(corpus, scratch / "index")
        builds.append(build_ms)
        encodes.append(timed(model.encode, windows)[0])
    figures = index_figures(scratch / "index")
    return {"stories": len(bodies), "windows": len(windows), "build_ms": builds, "encode_ms": encodes,
            "ratio": min(builds) / min(encodes), "summary": summary, **figures}


def full_run(scratch: Path) -> dict:
    """The whole corpus once: wall time, passages/s, the build process's peak RAM and the index size."""
    corpus, bodies = write_corpus(None, scratch)
    wall_ms, summary = run_build(corpus, scratch / "full-index")
    figures = index_figures(scratch / "full-index")
    return {"stories": len(bodies), "wall_s": wall_ms / 1000, "passages_per_s": figures["passages"] / (wall_ms / 1000),
            "peak_rss_mb": peak_rss_mb(children=True), "summary": summary, **figures}


def report(result: dict) -> str:
    small = result["compare"]
    lines = ["## Builds (Reuters-21578)", "", f"Machine: {machine()}. Other jobs may have shared the machine.", "",
             f"`qa build` of the first {small['stories']} stories with a body against `SentenceTransformer.encode` "
             f"of the same bodies in {small['windows']} windows of {WINDOW_WORDS} words "
             f"(fastest of {len(small['build_ms'])} alternating runs each).", "",
             table([("qa build (child process, fresh index)", min(small["build_ms"]) / 1000),
                    ("bare SentenceTransformer.encode", min(small["encode_ms"]) / 1000),
                    (f"ratio (goal <= {GOAL})", small["ratio"])], ("", "seconds"))]
    lines += ["", f"Index: {small['passages']} passages, {small['sentences']} sentences, {small['size_mb']:.1f} MiB."]
    full = result.get("full")
    if full:
        lines += ["", f"Whole corpus: {full['stories']} stories, one `qa build` into a fresh index.", "",
                  table([("wall time (s)", full["wall_s"]), ("passages", full["passages"]),
                         ("sentences embedded", full["sentences"]), ("passages/s", full["passages_per_s"]),
                         ("peak RAM of the build process (MiB)", full["peak_rss_mb"]),
                         ("index size on disk (MiB)", full["size_mb"])], ("", "value"))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="also build the whole corpus (about 19k stories)")
    parser.add_argument("--out", type=Path, default=PROJECT / "var" / "bench" / "build.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qa-bench-build-") as scratch:
        result = {"machine": machine(), "compare": compare(args.stories, max(1, args.repeat), Path(scratch))}
        if args.full:
            result["full"] = full_run(Path(scratch))
    print(report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
