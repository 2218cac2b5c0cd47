"""What a build or an add may change beyond its own files: articles it would delete, and ids it would take over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Container

from .errors import QAError
from .files import within

if TYPE_CHECKING:
    from .plan import BuildReport
    from .documents import Article
    from .writer import IndexWriter


class NameClash(QAError):
    """Two files that would be one article: the later would silently replace the earlier."""

    status = 409


def refuse_clash(writer: "IndexWriter", article: "Article", verb: str, replaceable: list[str] = ()) -> None:
    """Refuse an article whose id a live article from another file already has (both named `funeral.txt`, in two
    folders added one after the other): ids come from the path inside the folder given, so without this the second
    file would replace the first story."""
    old = (writer.article(article.id) or {}).get("path")
    if old and article.path and old != article.path and not any(within(old, p) for p in replaceable):
        raise NameClash(f"{article.path} and {old} would both be article {article.id!r}, and the second would "
                        f"replace the first: nothing was {verb}. Rename one of the files, or remove the indexed one "
                        f"first (qa delete {article.id})")


def skipped_note(report: "BuildReport", note: Callable[[str], None]) -> None:
    """Say which deleted articles a build left out, and how to bring one back on purpose."""
    if report.skipped:
        shown = ", ".join(report.skipped[:10]) + (f" and {len(report.skipped) - 10} more" if len(report.skipped) > 10 else "")
        note(f"skipped {len(report.skipped)} article(s) deleted earlier ({shown}); "
             "to re-admit one on purpose: qa add --force PATH")


def delete_gone(writer: "IndexWriter", live: dict[str, str], seen: Container[str], unreadable: set[str],
                note: Callable[[str], None], prefixes: list[str] | None = None, kept: list[str] | None = None) -> int:
    """Delete the indexed articles a build no longer finds; returns how many. Articles posted over HTTP (no file)
    and those of files that exist but could not be read this time are kept; so are those from files outside the
    given paths' `prefixes` (listed in `kept` and named in a note), unless prefixes is None (--prune)."""
    gone, outside = [], []
    for article_id in live:
        path = (writer.article(article_id) or {}).get("path")
        if article_id in seen or not path:
            continue
        if any(within(path, bad) for bad in unreadable):
            note(f"kept the indexed copy of {article_id}: its file could not be read")
        elif prefixes is not None and not any(within(path, p) for p in prefixes):
            outside.append(article_id)
        else:
            gone.append(article_id)
    if outside:
        shown = ", ".join(outside[:5]) + (f" and {len(outside) - 5} more" if len(outside) > 5 else "")
        note(f"kept {len(outside)} article(s) from files outside the paths given ({shown}); "
             "to remove them, build again with --prune")
        if kept is not None:
            kept.extend(outside)
    return len(gone) - len(writer.delete(gone, remember=False))  # a file taken away is no retraction
