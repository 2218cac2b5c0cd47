"""Checksums of the files an index wrote, checked when they are opened, so damaged bytes are refused, never served.

xxHash's XXH3-128 (the `xxhash` package): non-cryptographic, as fast as memory can be read (BENCHMARKS.md gives the
cost of verifying a 1M-passage segment), and 128 bits make an accidental match of damaged bytes out of the question.
The chain: a commit names each segment with the digest of its `segment.json`, which holds the digest of every other
file of the segment; a model folder's `checksums.json` holds the digests of its model files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from .errors import BadIndex

ALGORITHM = "xxh3_128"
MODEL_SUMS = "checksums.json"
_BLOCK = 8 * 2**20


def digest(path: Path) -> str:
    """`xxh3_128:<hex>` of a file's bytes, read in blocks into one reused buffer."""
    import xxhash

    state = xxhash.xxh3_128()
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            state.update(view[:n])
    return f"{ALGORITHM}:{state.hexdigest()}"


def digests(folder: Path, names: Iterable[str]) -> dict[str, str]:
    """Each named file's digest, by name."""
    return {name: digest(Path(folder) / name) for name in sorted(names)}


class Damaged(BadIndex):
    """A file whose bytes are not those written (or that is gone); the message names it."""


def verify(folder: Path, expected: dict[str, str], only: Iterable[str] | None = None) -> None:
    """Damaged naming the first file whose digest differs from the expected one (or cannot be read)."""
    names = sorted(expected) if only is None else [n for n in only if n in expected]
    for name in names:
        path = Path(folder) / name
        try:
            found = digest(path)
        except OSError as exc:
            raise Damaged(f"{path} cannot be read ({type(exc).__name__})") from None
        if found != expected[name]:
            raise Damaged(f"{path} is damaged (its checksum differs from the one written)")


def write_model_sums(folder: Path) -> None:
    """Record the digest of every file of a model folder in its checksums.json."""
    folder = Path(folder)
    names = [p.name for p in folder.iterdir() if p.is_file() and p.name != MODEL_SUMS and not p.name.startswith(".")]
    (folder / MODEL_SUMS).write_text(json.dumps({"algorithm": ALGORITHM, "files": digests(folder, names)}, indent=1))


def verify_model(folder: Path, files: Iterable[str] | None = None) -> None:
    """Check the model files about to be loaded (None: all) against the folder's checksums.json (an index from
    before checksums has none: nothing to check against)."""
    path = Path(folder) / MODEL_SUMS
    if not path.exists():
        return
    try:
        expected = json.loads(path.read_text())["files"]
        if not isinstance(expected, dict) or not all(isinstance(v, str) for v in expected.values()):
            raise TypeError("files must map names to digests")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Damaged(f"{path} is damaged ({type(exc).__name__})") from None
    files = sorted(expected) if files is None else list(files)
    missing = [f for f in files if f not in expected]
    if missing:
        raise Damaged(f"{Path(folder) / missing[0]} has no checksum in {path}")
    verify(folder, expected, files)
