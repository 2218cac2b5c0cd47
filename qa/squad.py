"""SQuAD v1.1 dev, split once for the reader: evaluation articles are never trained or tuned on.

The issue fixes the evaluation split: the 12 articles at positions 0, 4, ..., 44 of the file's `data` list. Of the
other 36, the four at positions 2, 14, 26 and 38 are held out of training to choose the reader's thresholds and fit
its calibration; the remaining 32 train it.
"""

from __future__ import annotations

import json
from pathlib import Path

SPLITS = ("train", "tune", "eval")


def split_of(position: int) -> str:
    if position % 4 == 0:
        return "eval"
    return "tune" if position % 12 == 2 else "train"


def write_corpus(articles: list[dict], path: Path) -> None:
    """SQuAD articles as a jsonl file of documents, one per article (paragraphs joined), as the index reads them."""
    from index.documents import safe_id

    with open(path, "w", encoding="utf-8") as out:
        for article in articles:
            text = "\n\n".join(p["context"] for p in article["paragraphs"])
            out.write(json.dumps({"id": safe_id(article["title"]), "title": article["title"].replace("_", " "), "text": text}) + "\n")


def squad_articles(squad_file: Path, split: str | None = None) -> list[dict]:
    """The SQuAD articles of one split (all of them when split is None), in file order."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}")
    data = json.loads(Path(squad_file).read_text("utf-8"))["data"]
    return [article for i, article in enumerate(data) if split is None or split_of(i) == split]
