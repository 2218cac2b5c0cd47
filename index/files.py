"""Finding input files: folders walked in a stable order, every file left unread named in a warning."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Callable, Iterable, Iterator

SUFFIXES = {".txt", ".md", ".html", ".htm", ".jsonl"}
SIDECAR = "metadata.json"

Warn = Callable[[str], None]
Unreadable = Callable[[str], None]


def within(article_path: str, path: str) -> bool:
    """Whether an article's path is path itself, a line of it (a .jsonl file) or a file under it (a folder)."""
    return article_path == path or article_path.startswith((f"{path}#", f"{path}/"))


def given_prefix(raw: Path | str) -> str:
    """What the shown paths of a given file or folder's articles start with (see shown)."""
    path = Path(raw)
    return path.resolve().name if path.is_dir() else str(Path(path.parent.resolve().name) / path.name)


def shown(path: Path, base: Path) -> str:
    """A path as articles show it: from the given folder's name down, never a machine path."""
    return str(Path(base.resolve().name) / path.relative_to(base))


def why(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"broken symbolic link (to {os.readlink(path)})"
    return exc.strerror.lower() if exc.strerror else str(exc)


def iter_files(
    paths: Iterable[Path | str], warn: Warn, unreadable: Unreadable | None = None
) -> Iterator[tuple[Path, Path]]:
    """Input files under the given paths, recursively, in a stable order, each with the folder it was found in
    (its own parent for a file given by name): ids and shown paths are relative to that folder.

    Hidden files and folders are passed over; anything else left unread is named in a warning. A linked folder
    is followed unless it leads back up (a loop) or into the folder being read (its files are read there). A
    folder that cannot be listed is also passed to `unreadable`, by its shown path (see load_articles).
    """
    for raw in paths:
        path = Path(raw)
        if (info := _stat(path, warn)) is None:
            continue
        if stat.S_ISDIR(info.st_mode):
            seen = {(info.st_dev, info.st_ino)}
            yield from ((p, path) for p in _walk(path, path, seen, warn, unreadable))
        elif stat.S_ISREG(info.st_mode):
            yield path, path.parent
        else:
            warn(f"skipped {path}: not a file or folder")


def _stat(path: Path, warn: Warn) -> os.stat_result | None:
    """The path's status, links followed; None, with a warning naming it, when it cannot be had."""
    try:
        return path.stat()
    except OSError as exc:
        warn(f"skipped {path}: {why(exc, path)}")
        return None


def _walk(
    folder: Path, base: Path, seen: set[tuple[int, int]], warn: Warn, unreadable: Unreadable | None
) -> Iterator[Path]:
    """Files under folder, in sorted path order; seen holds the (device, inode) of every folder entered."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        warn(f"skipped {folder}: cannot list the folder ({why(exc, folder)})")
        if unreadable is not None and exc.errno != errno.ENOENT:
            unreadable(shown(folder, base))
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith(".") or (info := _stat(path, warn)) is None:
            continue
        if stat.S_ISDIR(info.st_mode):
            if entry.is_symlink() and (skip := _link_problem(path, base)):
                warn(f"skipped {path}: {skip}")
            elif (info.st_dev, info.st_ino) in seen:
                warn(f"skipped {path}: links to {path.resolve()}, which is read already")
            else:
                seen.add((info.st_dev, info.st_ino))
                yield from _walk(path, base, seen, warn, unreadable)
        elif not stat.S_ISREG(info.st_mode):
            warn(f"skipped {path}: not a regular file")
        elif path.suffix.lower() in SUFFIXES:
            yield path
        elif entry.name != SIDECAR:
            warn(f"skipped {path}: not a {', '.join(sorted(SUFFIXES))} file")


def _link_problem(link: Path, base: Path) -> str | None:
    """Why a link to a folder is not followed: it leads to a folder holding it (a loop), or inside base."""
    target, here = link.resolve(), link.parent.resolve()
    if target == here or target in here.parents:
        return f"symbolic link loop (it leads back to {target})"
    root = base.resolve()
    if target == root or root in target.parents:
        return f"links to {target}, which is read as part of {base}"
    return None


def count_articles(paths: Iterable[Path | str]) -> int:
    """How many articles the inputs hold at most (a file each, a line per .jsonl line), read without parsing."""
    total = 0
    for path, _ in iter_files(paths, lambda message: None):
        if path.suffix.lower() != ".jsonl":
            total += 1
            continue
        try:
            with open(path, "rb") as handle:
                total += sum(1 for line in handle if line.strip())
        except OSError:
            pass
    return total
