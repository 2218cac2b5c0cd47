"""Merging segments: a tiered policy picks them, stored vectors and postings are reused, deleted rows are dropped.

The merge writes its segment without the write lock, so writers and readers carry on; only the commit that swaps
the merged segment in for its sources takes the lock, and it carries over deletes made to the sources meanwhile
(the merged segment holds the same article ids). As in Lucene's TieredMergePolicy, segments are grouped in tiers
of size, and a tier holding SEGMENTS_PER_TIER of them merges its smallest; a segment more than half deleted is
rewritten to reclaim its rows.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from .commit import Commit, WriteLock, clean, latest, merge_lock, write_commit
from .documents import Article
from .lexical import Postings
from .checksums import digest
from .segment import META, Segment, SegmentData, write_segment
from .store import IndexReader

SEGMENTS_PER_TIER = 10
# Segments smaller than this count as this big, so a stream of one-article adds is merged in tens, not one by one.
FLOOR_PASSAGES = 2_000
TIER_RATIO = 10
RECLAIM = 0.5


def _tier(passages: int) -> int:
    return int(math.log(max(passages, FLOOR_PASSAGES) / FLOOR_PASSAGES, TIER_RATIO))


def choose(commit: Commit) -> list[str]:
    """The segments the policy merges next (empty: none)."""
    tiers: dict[int, list[dict]] = {}
    for entry in commit.segments:
        if entry["articles"] and len(entry["deleted"]) / entry["articles"] > RECLAIM:
            return [entry["name"]]
        tiers.setdefault(_tier(entry["passages"]), []).append(entry)
    for _, entries in sorted(tiers.items()):
        if len(entries) >= SEGMENTS_PER_TIER:
            smallest = sorted(entries, key=lambda e: e["passages"])[:SEGMENTS_PER_TIER]
            return [e["name"] for e in smallest]
    return []


def merge(root: Path, force: bool = False, quantize: str | None = None) -> int | None:
    """Run one merge: all segments into one (force), else what the policy picks. Returns the new generation, or
    None when there was nothing to merge or another merge was running."""
    from filelock import Timeout

    root = Path(root)
    lock = merge_lock(root)
    try:
        lock.acquire(timeout=0 if not force else -1)
    except Timeout:
        return None
    try:
        view = IndexReader(root)
        names = [e["name"] for e in view.commit.segments] if force else choose(view.commit)
        if not names or (force and len(names) == 1 and not view.commit.segments[0]["deleted"]):
            return None
        chosen = [i for i, e in enumerate(view.commit.segments) if e["name"] in set(names)]
        data = merged_data(view, chosen)
        name, meta = write_segment(root, data, quantize)
        with WriteLock(root):
            generation = _swap(root, view, chosen, name, meta)
        if generation is None:
            shutil.rmtree(root / name, ignore_errors=True)
        return generation
    finally:
        lock.release()


def merged_data(view: IndexReader, chosen: list[int]) -> SegmentData:
    """The live articles of some of a view's segments as one segment's data, vectors and postings reused."""
    articles, passages, vectors, units, unit_vectors, parts = [], [], [], [], [], []
    n_articles = n_units = n_passages = 0
    for s in chosen:
        segment: Segment = view.segments[s]
        keep = np.ones(len(segment.articles), dtype=bool)
        keep[list(view.deleted[s])] = False
        new_article = np.cumsum(keep) - 1 + n_articles
        for i in np.flatnonzero(keep).tolist():
            a = segment.articles[i]
            articles.append(Article(a["id"], segment.text(i), a["title"], a["outlet"], a["published"], a["url"], a["path"],
                                    a["author"], segment.leads[i]))
        unit_keep = keep[segment.units[:, 0]]
        new_unit = np.cumsum(unit_keep) - 1 + n_units
        seg_units = np.array(segment.units[unit_keep])
        seg_units[:, 0] = new_article[seg_units[:, 0]]
        units.append(seg_units)
        unit_vectors.append(np.asarray(segment.unit_vectors[unit_keep]))
        row_keep = keep[segment.passages[:, 0]]
        rows = np.array(segment.passages[row_keep])
        rows[:, 0] = new_article[rows[:, 0]]
        rows[:, 4] = new_unit[rows[:, 4]]
        passages.append(rows)
        vectors.append(np.asarray(segment.vectors[row_keep]))
        new_rows = np.where(row_keep, np.cumsum(row_keep) - 1 + n_passages, -1)
        parts.append((segment.postings, new_rows))
        n_articles, n_units, n_passages = n_articles + int(keep.sum()), n_units + len(seg_units), n_passages + len(rows)
    return SegmentData(articles, np.concatenate(passages), np.concatenate(vectors), np.concatenate(units),
                       np.concatenate(unit_vectors), Postings.merged(parts))


def _swap(root: Path, view: IndexReader, chosen: list[int], name: str, meta: dict) -> int | None:
    """Commit the merged segment in place of its sources, with deletes made to them since the merge began."""
    current = latest(root)
    sources = {view.commit.segments[i]["name"]: set(view.commit.segments[i]["deleted"]) for i in chosen}
    by_name = {e["name"]: e for e in current.segments} if current else {}
    if current is None or any(n not in by_name for n in sources) or current.model_dir != view.commit.model_dir:
        return None  # the index was rebuilt or another merge took these segments: this merge is void
    since = sorted({i for n, gone in sources.items() for i in by_name[n]["deleted"] if i not in gone})
    entry = {"name": name, "articles": meta["articles"], "passages": meta["passages"], "deleted": since,
             "meta_checksum": digest(root / name / META)}
    segments, placed = [], False
    for e in current.segments:
        if e["name"] in sources:
            if not placed:
                segments.append(entry)
                placed = True
        else:
            segments.append(e)
    commit = Commit(current.generation + 1, current.model, current.passages, current.model_dir, segments,
                    current.tombstones)
    write_commit(root, commit)
    clean(root, merging=True)
    return commit.generation
