"""The index behind tests/questions/reuters_heldout.jsonl: the first 2,000 Reuters stories with a body.

    .venv/bin/python -m benchmarks.reuters_index            # builds var/bench/reuters-2000/index once
    .venv/bin/qa eval tests/questions/reuters_heldout.jsonl --index var/bench/reuters-2000/index

The stories stay in ../shared; only a jsonl copy under var/ (ignored by git) is indexed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from index.build import build_index
from index.commit import generations

from .common import PROJECT, reuters_article, reuters_stories

STORIES = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=PROJECT / "var" / "bench" / f"reuters-{STORIES}")
    folder = parser.parse_args().work
    if generations(folder / "index"):
        print(f"{folder / 'index'} exists")
        return
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "stories.jsonl"
    source.write_text("".join(json.dumps(reuters_article(s)) + "\n" for s in reuters_stories(STORIES)))
    report = build_index([source], folder / "index")
    print(f"indexed {report.articles} stories, {report.passages} passages into {folder / 'index'}")


if __name__ == "__main__":
    main()
