"""The one writer of an index: adds segments, records deletes, and commits a new generation atomically.

    with IndexWriter(root) as writer:
        writer.add(data)          # a new segment; older copies of its article ids become deletes
        writer.delete(["id"])     # a tombstone in the next commit
        writer.commit()           # generation N+1, or nothing when nothing changed

The write lock is held from `with` to its end; readers never take it. A writer that dies leaves only files no
commit names, which the next writer deletes.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Iterable

from .checksums import digest, verify_model, write_model_sums
from .commit import Commit, WriteLock, clean, generations, latest, write_commit
from .encoder import CONFIG_FILE, DEFAULT_MODEL, Encoder, open_encoder, prepare_onnx
from .errors import BadIndex, rebuild_hint
from .owned import claim, ensure_marker, refuse_foreign
from .passages import PassageSpec
from .segment import META, SegmentData, sync_folder, write_segment
from .store import IndexReader, is_legacy


class IndexWriter:
    """Holds the write lock; `rebuild=True` (a full build) starts afresh from a damaged or incompatible index."""

    def __init__(self, root: Path, model: str = DEFAULT_MODEL, spec: PassageSpec = PassageSpec(),
                 quantize: str | None = None, rebuild: bool = False, timeout: float | None = None,
                 encoder: Encoder | None = None):
        self.root, self.model, self.spec, self.quantize, self.rebuild = Path(root), model, spec, quantize, rebuild
        self._lock = WriteLock(self.root, timeout)
        self._encoder = encoder  # a server passes the one it keeps, so a write does not load the model again

    def __enter__(self) -> "IndexWriter":
        self._lock.__enter__()
        try:
            self._open()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.view is not None:
            self.view.close()
        self._lock.__exit__(*exc)

    def _open(self) -> None:
        self.view: IndexReader | None = None
        try:
            base = latest(self.root)
            if base is None and is_legacy(self.root):
                raise BadIndex(f"index at {self.root} is in the format before segments; {rebuild_hint(self.root)}")
            if base is None:
                refuse_foreign(self.root)
            if base is not None and base.model.get("name") == self.model and base.passages == self.spec.as_dict():
                self.view = IndexReader(self.root, commit=base)
                if self.rebuild:  # a build embeds with the model: damaged, it starts afresh
                    verify_model(self.root / base.model_dir)
        except BadIndex:
            if not self.rebuild:
                raise
            if self.view is not None:
                self.view.close()
                self.view = None
            base = None  # a full build replaces what it cannot read
        ensure_marker(self.root)  # from here on, what this writer makes carries the proof that it is the index's
        clean(self.root)  # only once the index is known readable (or is being rebuilt): never guess what is in use
        self.base = base
        # Past every commit file, a damaged one too: the new commit must be the newest.
        self.generation = base.generation if base else max(generations(self.root), default=0)
        if self.view is not None:
            self.model_dir = self.view.commit.model_dir
            self.segments = [dict(e, deleted=list(e.get("deleted", []))) for e in self.view.commit.segments]
        else:
            if base is not None and not self.rebuild:
                raise BadIndex(f"index at {self.root} was built with another model or passage size; "
                               f"{rebuild_hint(self.root)}")
            self.model_dir = self._new_model_dir()
            self.segments = []
        self.dim = int(_json(self.root / self.model_dir / CONFIG_FILE)["dim"])
        self._changed = self.view is None
        self.tombstones: dict[str, str] = dict(self.view.commit.tombstones) if self.view is not None else {}
        self._pending: dict[str, set[str]] = {}  # ids of the segments this writer added, by segment name

    def _new_model_dir(self) -> str:
        """The encoder's ONNX export for a fresh index, written beside any old one and swapped in by the commit."""
        name = "model" if not (self.root / "model").exists() else f"model-{uuid.uuid4().hex[:8]}"
        stage = self.root / f".{name}.tmp"
        stage.mkdir()
        claim(stage, self.root)
        prepare_onnx(self.model, stage)
        write_model_sums(stage)
        sync_folder(stage)
        stage.rename(self.root / name)
        return name

    @property
    def model_folder(self) -> Path:
        return self.root / self.model_dir

    def encoder(self) -> Encoder:
        """The float32 passage encoder, loaded on first use."""
        if self._encoder is None:
            self._encoder = open_encoder(self.model_folder, self.model)
        return self._encoder

    def live_hashes(self) -> dict[str, str]:
        return self.view.live_hashes() if self.view else {}

    def article(self, article_id: str) -> dict | None:
        """A live article's stored metadata (path included), or None."""
        idx = self.view.article_index.get(article_id) if self.view else None
        return None if idx is None else self.view.articles[idx]

    def add(self, data: SegmentData) -> list[str]:
        """Write a segment of new articles; earlier copies of the same ids are deleted by the commit."""
        name, meta = write_segment(self.root, data, self.quantize)
        return self.register(name, meta, [a.id for a in data.articles])

    def register(self, name: str, meta: dict, ids: list[str]) -> list[str]:
        """Take in a segment written under root by someone else (a Ray worker): it goes live with the commit."""
        self._tombstone(ids)
        self.segments.append({"name": name, "articles": meta["articles"], "passages": meta["passages"], "deleted": [],
                              "meta_checksum": digest(self.root / name / META)})
        self._pending[name] = set(ids)
        self._changed = True
        return ids

    def delete(self, ids: Iterable[str], remember: bool = True) -> list[str]:
        """Record deletes; returns the ids that no live article has. `remember` keeps a tombstone (id and content
        hash, a record of which version went) so builds do not bring the article back (matched by id, as a file
        keeps its id when edited); a build dropping an article whose file is gone does not."""
        ids = list(ids)
        hashes = self.live_hashes() if remember else {}
        found = self._tombstone(ids)
        for article_id in found:
            if remember and article_id in hashes:
                self.tombstones[article_id] = hashes[article_id]
        self._changed |= bool(found)
        return [i for i in ids if i not in found]

    def readmit(self, article_id: str) -> bool:
        """Forget an article's tombstone (`qa add --force`); True when it had one."""
        found = self.tombstones.pop(article_id, None) is not None
        self._changed |= found
        return found

    def _tombstone(self, ids: list[str]) -> set[str]:
        found = set()
        located = {}
        if self.view is not None:
            for article_id in ids:
                where = self.view.locate(article_id)
                if where is not None:
                    located.setdefault(where[0], []).append(article_id)
        for name, pending in self._pending.items():
            located.setdefault(name, []).extend(i for i in ids if i in pending)
        for entry in self.segments:
            gone = set(entry["deleted"])
            fresh = [i for i in located.get(entry["name"], []) if i not in gone]
            if fresh:
                entry["deleted"] = sorted(gone | set(fresh))
                found |= set(fresh)
        return found

    def commit(self) -> int:
        """Make the changes the index, durably; returns the generation now current."""
        if not self._changed:
            return self.generation
        live = [e for e in self.segments if e["articles"] > len(e["deleted"])]  # wholly deleted segments go now
        commit = Commit(self.generation + 1, {"name": self.model, "dim": self.dim}, self.spec.as_dict(),
                        self.model_dir, live, self.tombstones)
        write_commit(self.root, commit)
        self.generation, self._changed = commit.generation, False
        clean(self.root)
        return self.generation


def _json(path: Path) -> dict:
    import json

    return json.loads(path.read_text())
