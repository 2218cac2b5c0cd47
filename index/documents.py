"""Reading articles from files: .txt, .md, .html and .jsonl, with a metadata sidecar."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import urlsplit

from .clean import clean
from .metadata import extract_metadata, normalise_date

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".html", ".htm", ".jsonl"}
SIDECAR = "metadata.json"
META_FIELDS = ("title", "outlet", "published", "url")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Article:
    """One cleaned article; passage offsets point into `text`."""

    id: str
    text: str
    title: str | None = None
    outlet: str | None = None
    published: str | None = None
    url: str | None = None
    path: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def hash(self) -> str:
        """Content hash over everything the index stores, so a metadata fix also counts as a change."""
        payload = json.dumps([self.text, self.title, self.outlet, self.published, self.url, self.path])
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


def is_web_url(url: str) -> bool:
    """Only http(s) URLs are stored and rendered as links: a javascript: or data: link would run in the reader's page."""
    return urlsplit(url.strip()).scheme.lower() in ("http", "https")


def safe_id(raw: str) -> str:
    """An id usable in URLs and file names: unsafe runs become '_'."""
    return _ID_UNSAFE.sub("_", raw.strip()).strip("._") or "article"


def decode(data: bytes) -> str | None:
    """UTF-8, else latin-1 when that yields printable text; None for binary data."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("latin-1")
    # latin-1 maps every byte, so it "works" on binaries too; C0/C1 control characters betray those.
    bad = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    return None if bad > max(2, len(text) // 1000) else text


def iter_files(paths: Iterable[Path | str], warn: Warn) -> Iterator[tuple[Path, Path]]:
    """Input files under the given paths, recursively, in a stable order, each with the folder it was found in
    (its own parent for a file given by name): ids and shown paths are relative to that folder."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            yield from ((p, path) for p in found if not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            yield path, path.parent
        else:
            warn(f"skipped {path}: no such file or directory")


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


def _sidecar(folder: Path, cache: dict[Path, dict], warn: Warn) -> dict:
    if folder not in cache:
        cache[folder] = {}
        side = folder / SIDECAR
        if side.is_file():
            try:
                loaded = json.loads(side.read_text("utf-8"))
                if not isinstance(loaded, dict):
                    raise ValueError(f"expected an object of {{id: fields}}, got a {type(loaded).__name__}")
                cache[folder] = loaded
            except (OSError, ValueError) as exc:
                warn(f"ignored {side}: {exc}")
    return cache[folder]


def _given(path: Path, base: Path, article_id: str, cache: dict[Path, dict], warn: Warn) -> dict:
    """Fields for one file from metadata.json sidecars: its own entry (by id or file stem) over the "*" defaults
    of its folder and of every folder above it up to the one given."""
    folders = [path.parent, *[f for f in path.parent.parents if f == base or base in f.parents]]
    merged: dict = {}
    for i, folder in enumerate(reversed(folders)):
        side = _sidecar(folder, cache, warn)
        defaults = side.get("*")
        merged.update(defaults if isinstance(defaults, dict) else {})
        if i == len(folders) - 1:
            own = side.get(article_id, side.get(path.stem))
            merged.update(own if isinstance(own, dict) else {})
    return {k: v for k, v in merged.items() if k in META_FIELDS and isinstance(v, str)}


def _from_text(article_id: str, raw: str, path: str, given: dict) -> Article | None:
    cleaned = clean(raw)
    if not cleaned.text.strip():
        return None
    found = extract_metadata(cleaned)
    meta = {name: given.get(name) or found.get(name) for name in META_FIELDS}
    meta["published"] = normalise_date(meta["published"])
    return Article(id=article_id, text=cleaned.text, path=path, **meta)


def article_from_text(article_id: str, raw: str, path: str | None, given: dict) -> Article | None:
    """An article from plain text, as a .txt file gives one: cleaned, with metadata it states under `given`'s."""
    return _from_text(article_id, raw, path, given)


def _from_html(article_id: str, raw: str, path: str, given: dict) -> Article | None:
    import trafilatura

    body = trafilatura.extract(raw, output_format="txt", include_comments=False, favor_precision=True)
    if not body:
        return None
    info = trafilatura.extract_metadata(raw)
    found = {
        "title": getattr(info, "title", None),
        "outlet": getattr(info, "sitename", None),
        "published": getattr(info, "date", None),
        "url": getattr(info, "url", None),
    }
    merged = {name: given.get(name) or found.get(name) for name in META_FIELDS}
    text = body if not merged["title"] or body.startswith(merged["title"]) else f"{merged['title']}\n\n{body}"
    return _from_text(article_id, text, path, merged)


def _from_jsonl(path: Path, raw: str, rel: str, warn: Warn) -> Iterator[Article]:
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError("expected an object with a string 'text'")
            json.dumps(obj, ensure_ascii=False).encode("utf-8")  # "\ud800" decodes to a lone surrogate, unstorable
        except UnicodeEncodeError:
            warn(f"skipped {path} line {lineno}: text holds a lone surrogate (an invalid \\ud800-\\udfff escape)")
            continue
        except (ValueError, RecursionError) as exc:
            warn(f"skipped {path} line {lineno}: {exc}")
            continue
        article_id = safe_id(str(obj.get("id") or f"{path.stem}-{lineno}"))
        given = {name: obj.get(name) for name in META_FIELDS if isinstance(obj.get(name), str)}
        article = _from_text(article_id, obj["text"], f"{rel}#L{lineno}", given)
        if article is None:
            warn(f"skipped {path} line {lineno}: no text after cleaning")
        else:
            yield article


def load_articles(
    paths: Iterable[Path | str], warn: Warn | None = None, unreadable: Callable[[str], None] | None = None
) -> Iterator[Article]:
    """Articles from files and folders; unreadable, binary or empty inputs are skipped with a warning.

    A file's id is its path inside the folder given, without the suffix ("sport/001.txt" -> "sport_001"), so files
    of the same name in different subfolders stay apart; its shown path starts at that folder's name.
    `unreadable` is told the shown path (Article.path's form) of each file that exists but could not be read or
    decoded, so a build keeps that file's indexed articles instead of deleting them.
    """
    warn = warn or log.warning
    sidecars: dict[Path, dict] = {}
    seen: set[str] = set()
    for path, base in iter_files(paths, warn):
        inside = path.relative_to(base)
        rel = str(Path(base.resolve().name) / inside)
        try:
            data = path.read_bytes()
        except OSError as exc:
            warn(f"skipped {path}: cannot read ({exc.strerror or exc})")
            if unreadable:
                unreadable(rel)
            continue
        raw = decode(data)
        if raw is None:
            warn(f"skipped {path}: binary or not valid UTF-8/latin-1 text")
            if unreadable:
                unreadable(rel)
            continue
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            articles: Iterable[Article | None] = _from_jsonl(path, raw, rel, warn)
        else:
            article_id = safe_id(str(inside.with_suffix("")))
            reader = _from_html if suffix in (".html", ".htm") else _from_text
            article = reader(article_id, raw, rel, _given(path, base, article_id, sidecars, warn))
            if article is None:
                warn(f"skipped {path}: empty, no article text")
            articles = [article]
        for article in articles:
            if article is None:
                continue
            if article.url and not is_web_url(article.url):
                warn(f"{rel}: dropped url {article.url[:80]!r} of {article.id}: only http(s) links are kept")
                article = replace(article, url=None)
            if article.id in seen:
                warn(f"skipped {rel}: duplicate article id {article.id!r}")
                continue
            seen.add(article.id)
            yield article
