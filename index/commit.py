"""The commit point: `commit-N.json` files name the live segments and their deleted articles (Lucene's segments_N).

The newest commit file is the index. A writer writes generation N+1 under a hidden name, fsyncs it, renames it into
place and fsyncs the folder: a crash at any step leaves generation N whole. One writer at a time holds `write.lock`.
Superseded commits and the segments only they name are deleted by a later writer once they have been superseded for
GRACE seconds: a reader that listed the folder just before a commit still finds every file it is about to open.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadIndex, QAError, rebuild_hint
from .owned import index_id, owned
from .segment import PREFIX, sync_folder

FORMAT_VERSION = 2
LOCK = "write.lock"
# Held while a merge writes its segment outside the write lock: cleaning must not take that segment for a leftover.
MERGE_LOCK = "merge.lock"
_COMMIT = re.compile(r"^commit-(\d{8})\.json$")
# How long superseded files stay: far longer than opening a view takes (milliseconds), short enough to reclaim disk.
GRACE = 60.0
# A second writer waits this long for the lock, then fails with a message (QA_LOCK_TIMEOUT overrides).
LOCK_TIMEOUT = 30.0
# A commit staged by a writer that died before renaming it: the name is the writer's own, never a user's.
_COMMIT_STAGE = re.compile(r"^\.commit-\d{8}\.json\.tmp$")


@dataclass
class Commit:
    """One generation: its segments in row order, each with the ids of its deleted articles."""

    generation: int = 0
    model: dict = field(default_factory=dict)
    passages: dict = field(default_factory=dict)
    model_dir: str = "model"
    # {"name", "articles", "passages", "deleted": [ids], "meta_checksum": digest of its segment.json}
    segments: list[dict] = field(default_factory=list)
    # Articles deleted on purpose, by id, with their content hash: builds do not bring them back (index/writer.py).
    tombstones: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"format_version": FORMAT_VERSION, "generation": self.generation, "model": self.model,
                "passages": self.passages, "model_dir": self.model_dir, "segments": self.segments,
                "tombstones": self.tombstones}

    def names(self) -> set[str]:
        return {s["name"] for s in self.segments}


def commit_name(generation: int) -> str:
    return f"commit-{generation:08d}.json"


def generations(root: Path) -> list[int]:
    """Generations with a commit file in root, oldest first."""
    try:
        names = os.listdir(root)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(m.group(1)) for m in map(_COMMIT.match, names) if m)


def latest(root: Path) -> Commit | None:
    """The newest commit, None when root holds none; BadIndex naming the file when it cannot be read."""
    found = generations(root)
    if not found:
        return None
    return read_commit(root, found[-1])


def read_commit(root: Path, generation: int) -> Commit:
    from pydantic import ValidationError

    from .commit_schema import CommitFile

    path = Path(root) / commit_name(generation)
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("format_version") != FORMAT_VERSION:
            raise BadIndex(f"{path} has format {data.get('format_version')}, expected {FORMAT_VERSION}; "
                           f"{rebuild_hint(root)}")
        checked = CommitFile.model_validate(data)
    except FileNotFoundError:
        raise  # superseded and cleaned between listing and reading: the caller lists again
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise BadIndex(f"{path} is damaged ({where}: {first['msg']}); {rebuild_hint(root)}") from None
    except (OSError, ValueError) as exc:
        raise BadIndex(f"{path} is damaged ({type(exc).__name__}); {rebuild_hint(root)}") from None
    if checked.generation != generation:
        raise BadIndex(f"{path} is damaged (it says generation {checked.generation}); {rebuild_hint(root)}")
    return Commit(checked.generation, checked.model.model_dump(), dict(checked.passages), checked.model_dir,
                  [s.model_dump(exclude_none=True) for s in checked.segments], dict(checked.tombstones))


def write_commit(root: Path, commit: Commit) -> None:
    """Make `commit` the index: written whole and durable, then renamed into place."""
    stage = root / f".{commit_name(commit.generation)}.tmp"
    with open(stage, "w") as out:
        json.dump(commit.to_json(), out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(stage, root / commit_name(commit.generation))
    sync_folder(root, files=False)


class IndexBusy(QAError):
    """The write lock stayed taken (a long build or merge): the client may retry (503 with Retry-After)."""

    status = 503
    retry_after = 5


class WriteLock:
    """The index's single-writer lock (a `filelock` on `write.lock`, released by the OS if the writer dies)."""

    def __init__(self, root: Path, timeout: float | None = None):
        from filelock import FileLock

        self.root = Path(root)
        self.timeout = float(os.environ.get("QA_LOCK_TIMEOUT", LOCK_TIMEOUT)) if timeout is None else timeout
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.root / LOCK))

    def __enter__(self) -> "WriteLock":
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=self.timeout)
        except Timeout:
            raise IndexBusy(f"another writer is updating the index (waited {self.timeout:g} s); "
                            "try again when it finishes") from None
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


def merge_lock(root: Path):
    from filelock import FileLock

    return FileLock(str(Path(root) / MERGE_LOCK))


def clean(root: Path, keep: set[str] = frozenset(), now: float | None = None, merging: bool = False) -> list[str]:
    """Delete what no commit within the grace period names: old commits, their segments, crashed writers' leftovers
    and the folders of the one-version format before segments. Call only while holding the write lock; `merging`
    says the caller also holds the merge lock."""
    now = time.time() if now is None else now
    if not merging:
        from filelock import Timeout

        lock = merge_lock(root)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            # A merge is writing a segment no commit names yet; leftovers wait for the next writer.
            return _clean(root, keep, now, segments=False)
        try:
            return _clean(root, keep, now, segments=True)
        finally:
            lock.release()
    return _clean(root, keep, now, segments=True)


def _clean(root: Path, keep: set[str], now: float, segments: bool) -> list[str]:
    found = generations(root)
    if not found:
        return []
    try:
        read_commit(root, found[-1])
    except (BadIndex, FileNotFoundError):
        return []  # what the newest commit names is unknown, so nothing is provably unused
    # Everything any commit here names was written by this index: with the owner files, the only proof accepted.
    named_ever: set[str] = set()
    named, model_dirs, kept = set(keep), set(), [found[-1]]
    for older, newer in zip(found[:-1], found[1:]):
        superseded_at = _mtime(root / commit_name(newer))
        if superseded_at is None or now - superseded_at < GRACE:
            kept.append(older)
    for generation in found:
        try:
            commit = read_commit(root, generation)
        except FileNotFoundError:
            continue
        except BadIndex:
            return []  # a commit that cannot be read may name any segment: keep them all
        named_ever |= commit.names() | {commit.model_dir}
        if generation in kept:
            named |= commit.names()
            model_dirs.add(commit.model_dir)
    if not segments:
        return []  # a merge is writing: old commits stay too, so the segments only they name stay provable
    removed = []
    for generation in found:
        if generation not in kept:
            (root / commit_name(generation)).unlink(missing_ok=True)
            removed.append(commit_name(generation))
    ident = index_id(root)
    for child in root.iterdir():
        name = child.name
        ours = name in named_ever or owned(child, ident)
        stale = (
            (name.startswith(PREFIX) and name not in named and ours)
            or (name.startswith(f".{PREFIX}") and name.endswith(".tmp") and (ours or _empty_dir(child)))
            or (name.startswith(".model") and name.endswith(".tmp") and (ours or _empty_dir(child)))
            or (_COMMIT_STAGE.match(name) is not None)
            or (name.startswith("model") and name not in model_dirs and name not in keep and ours)
        )
        if stale and not child.is_symlink():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
            removed.append(name)
    return removed


def _empty_dir(path: Path) -> bool:
    """A stage folder a writer died in before it could claim it: empty, so removing it loses nothing."""
    try:
        return path.is_dir() and not any(path.iterdir())
    except OSError:
        return False


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None
