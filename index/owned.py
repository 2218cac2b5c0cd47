"""What an index may delete: only what it can prove it wrote.

An index folder is marked by `qa-index.json`, holding a random id. Every folder a writer makes (a segment, a model
export, and their hidden stages) gets an `.qa-owner` file holding that id before anything else goes in, so a
crashed writer's leftovers carry the proof too. Cleaning deletes a folder only when a commit names it or its owner
file holds this index's id: a user's `models/` or `seg-photos/` beside an index is never touched, whatever its name.

A folder with other files and no index is refused rather than adopted: building into it would mix the two.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from .errors import QAError

MARKER = "qa-index.json"
OWNER = ".qa-owner"
# Files a writer makes in a new folder before the first commit: the locks (filelock creates them) and the marker.
OWN_FILES = {MARKER, "write.lock", "merge.lock"}


class NotAnIndex(QAError):
    """The folder holds other files and no index."""


def index_id(root: Path) -> str | None:
    """The id in root's marker, None when root has none (an index from before markers, or no index)."""
    try:
        value = json.loads((Path(root) / MARKER).read_text()).get("index")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def ensure_marker(root: Path) -> str:
    """Root's index id, writing the marker (durably) when there is none yet."""
    found = index_id(root)
    if found is not None:
        return found
    new = uuid.uuid4().hex
    stage = Path(root) / f".{MARKER}.tmp"
    with open(stage, "w") as out:
        json.dump({"index": new, "note": "a qa-news index: its writers delete only what they wrote"}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(stage, Path(root) / MARKER)
    return new


def claim(folder: Path, root: Path) -> None:
    """Mark a folder a writer just made as root's (a no-op for an index without a marker)."""
    found = index_id(root)
    if found is not None:
        (Path(folder) / OWNER).write_text(found)


def owned(folder: Path, ident: str | None) -> bool:
    """True when the folder's owner file holds this index's id."""
    if ident is None:
        return False
    try:
        return (Path(folder) / OWNER).read_text().strip() == ident
    except OSError:
        return False


def refuse_foreign(root: Path) -> None:
    """NotAnIndex when root exists, holds no index and holds anything a writer did not put there."""
    try:
        names = sorted(os.listdir(root))
    except (FileNotFoundError, NotADirectoryError):
        return
    ident = index_id(root)
    others = [n for n in names if n not in OWN_FILES and not n.startswith(f".{MARKER}")
              and not owned(Path(root) / n, ident)]  # a first build that crashed left only its own folders
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise NotAnIndex(f"{root} holds other files ({shown}) and no index: give an empty or new folder with "
                         "--index (an index only ever deletes files it wrote itself)")
