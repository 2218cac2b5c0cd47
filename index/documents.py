"""Reading articles from files: .txt, .md, .html and .jsonl, with a metadata sidecar."""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlsplit

import orjson

from .clean import clean
from .decoding import decode
from .files import SIDECAR, Unreadable, Warn, iter_files, shown, why
from .metadata import extract_metadata, normalise_date, states_date

log = logging.getLogger(__name__)

META_FIELDS = ("title", "outlet", "published", "url", "author")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")

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
    author: str | None = None
    lead: int = 0  # paragraphs above the story (headline, standfirst): citations count paragraphs after them
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def hash(self) -> str:
        """Content hash over everything the index stores, so a metadata fix also counts as a change."""
        payload = json.dumps([self.text, self.title, self.outlet, self.published, self.url, self.path, self.author,
                              self.lead])
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


def is_web_url(url: str) -> bool:
    """Only http(s) URLs are stored and rendered as links: a javascript: or data: link would run in the reader's page."""
    return urlsplit(url.strip()).scheme.lower() in ("http", "https")


def safe_id(raw: str) -> str:
    """An id usable in URLs and file names: unsafe runs become '_'."""
    return _ID_UNSAFE.sub("_", raw.strip()).strip("._") or "article"


def _sidecar(folder: Path, cache: dict[Path, dict], warn: Warn) -> dict:
    if folder not in cache:
        cache[folder] = {}
        side = folder / SIDECAR
        try:
            text = decode(side.read_bytes())
            if text is None:
                raise ValueError("binary, not JSON text")
            loaded = orjson.loads(text)
            if not isinstance(loaded, dict):
                raise ValueError(f"expected an object of {{id: fields}}, got a {type(loaded).__name__}")
        except FileNotFoundError:
            return cache[folder]
        except OSError as exc:
            warn(f"ignored {side}: cannot read ({why(exc, side)})")
        except orjson.JSONDecodeError as exc:
            warn(f"ignored {side}: {json_problem(exc)}")
        except ValueError as exc:
            warn(f"ignored {side}: {exc}")
        else:
            for key, entry in loaded.items():
                if not isinstance(entry, dict):
                    warn(f"ignored entry {key!r} in {side}: expected an object of fields, got a {type(entry).__name__}")
            cache[folder] = {key: entry for key, entry in loaded.items() if isinstance(entry, dict)}
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
    return Article(id=article_id, text=cleaned.text, path=path, lead=cleaned.lead, **meta)


def article_from_text(article_id: str, raw: str, path: str | None, given: dict) -> Article | None:
    """An article from plain text, as a .txt file gives one: cleaned, with metadata it states under `given`'s."""
    return _from_text(article_id, raw, path, given)


def _from_html(article_id: str, raw: str, path: str, given: dict) -> Article | None:
    import trafilatura

    body = trafilatura.extract(raw, output_format="txt", include_comments=False, favor_precision=True)
    if not body:
        return None
    # trafilatura reads what publishers emit: <title>, og:site_name, article:published_time, meta author, JSON-LD
    # NewsArticle (datePublished, author, publisher).
    info = trafilatura.extract_metadata(raw)
    published = getattr(info, "date", None)
    title = getattr(info, "title", None)
    found = {
        "title": title,
        "outlet": getattr(info, "sitename", None) or title_suffix(raw, title),
        "author": getattr(info, "author", None),
        # trafilatura fills in a day and month the page never gave ("2010" becomes 2010-01-01): keep only stated dates
        "published": published if published and states_date(raw, published) else None,
        "url": getattr(info, "url", None),
    }
    merged = {name: given.get(name) or found.get(name) for name in META_FIELDS}
    text = body if not merged["title"] or body.startswith(merged["title"]) else f"{merged['title']}\n\n{body}"
    return _from_text(article_id, text, path, merged)


_TITLE_TAG = re.compile(r"<title[^>]*+>([^<]{1,300}+)</title>", re.I)


def title_suffix(raw: str, title: str | None) -> str | None:
    """The outlet a page's <title> names after its headline ("Harbour plan approved - Coastline News"), which
    trafilatura reads as the title without giving the suffix as the site's name."""
    found = _TITLE_TAG.search(raw)
    if not found:
        return None
    parts = re.split(r"\s+[-|–—·]\s+", html.unescape(found.group(1)).strip())
    if len(parts) < 2 or (title and not parts[0].startswith(title[:20])):
        return None
    suffix = parts[-1].strip()
    return suffix if 1 <= len(suffix.split()) <= 6 else None


def _from_jsonl(path: Path, raw: str, rel: str, warn: Warn) -> Iterator[Article]:
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError("expected an object with a string 'text'")
        except orjson.JSONDecodeError as exc:
            warn(f"skipped {path} line {lineno}: {json_problem(exc)}")
            continue
        except ValueError as exc:
            warn(f"skipped {path} line {lineno}: {exc}")
            continue
        article_id = safe_id(str(obj.get("id") or f"{path.stem}-{lineno}"))
        given = {name: obj.get(name) for name in META_FIELDS if isinstance(obj.get(name), str)}
        article = _from_text(article_id, obj["text"], f"{rel}#L{lineno}", given)
        if article is None:
            warn(f"skipped {path} line {lineno}: no text after cleaning")
        else:
            yield article


def json_problem(exc: ValueError) -> str:
    """What is wrong with a JSON text, in words. orjson, not json: it refuses deep nesting with an error where json
    recurses until RecursionError, which on CPython 3.11 can leave the interpreter's AST depth counter broken."""
    message = str(exc)
    if "depth limit" in message:
        return "JSON nested too deeply"
    if "surrogate" in message:
        return "text holds a lone surrogate (an invalid \\ud800-\\udfff escape)"
    return f"not JSON ({message})"


def load_articles(
    paths: Iterable[Path | str], warn: Warn | None = None, unreadable: Unreadable | None = None
) -> Iterator[Article]:
    """Articles from files and folders; unreadable, binary or empty inputs are skipped with a warning.

    A file's id is its path inside the folder given, without the suffix ("sport/001.txt" -> "sport_001"), so files
    of the same name in different subfolders stay apart; its shown path starts at that folder's name.

    `unreadable` hears of inputs that exist but could not be read (permission denied, an I/O error, bytes that are
    binary or decode as no text), so a build can keep their indexed copies rather than delete them. It gets the
    path as articles show it: a .txt, .md or .html file's Article.path exactly; for a .jsonl file the file's path,
    its articles' paths being that plus "#L<line>"; for a folder that cannot be listed, the folder's path. `within`
    matches an article path against it. Empty files, files without article text and bad .jsonl lines are not
    unreadable: they only warn.
    """
    warn = warn or log.warning
    return load_files(iter_files(paths, warn, unreadable), warn, unreadable)


def repeated_id(article: "Article", first: str | None) -> str:
    """The warning for a second article with an id already read: the first copy is kept (index/plan.py says why)."""
    return f"skipped {article.path}: {first} has the same article id {article.id!r}; rename one"


def load_files(
    files: Iterable[tuple[Path, Path]], warn: Warn | None = None, unreadable: Unreadable | None = None
) -> Iterator[Article]:
    """Articles from (file, folder it was found in) pairs, as iter_files lists them: what load_articles reads, for
    a Ray build that hands each worker a share of the files."""
    warn = warn or log.warning
    sidecars: dict[Path, dict] = {}
    seen: dict[str, str | None] = {}
    for path, base in files:
        rel = shown(path, base)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            warn(f"skipped {path}: removed while reading")
            continue
        except OSError as exc:
            warn(f"skipped {path}: cannot read ({why(exc, path)})")
            if unreadable is not None:
                unreadable(rel)
            continue
        raw = decode(data)
        if raw is None:
            warn(f"skipped {path}: binary, not text in any encoding charset detection knows")
            if unreadable is not None:
                unreadable(rel)
            continue
        inside = path.relative_to(base)
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
                warn(repeated_id(article, seen[article.id]))
                continue
            seen[article.id] = article.path
            yield article
