"""The one plan of a build, local or on Ray: scan the inputs in order, decide what each article needs against the
live index, let an embedding stage turn the articles to embed into segments, then commit.

Only the embedding stage differs between a local build (index/build.py) and a Ray build (index/ray_build.py); every
decision is taken here, by `BuildPlan.wants`, in file order:

- a repeated id: the first copy is indexed and later ones are skipped with a warning (as load_articles does within
  one scan). The plan decides each article as it is read, so a local build can stream; keeping the later copy
  would mean holding every article until all files are read. Files are read in a stable order, so which copy wins
  does not change between builds. (A Ray build used to keep the later one.)
- an id deleted on purpose (a tombstone) is left out and reported, until `qa add --force` re-admits it;
- an article whose content hash matches the indexed one is reused, not embedded again;
- an id that a live article from a file outside the given paths holds is refused (NameClash), unless --prune;
- once every input is scanned, indexed articles whose files are gone are deleted (those of unreadable files, of
  HTTP posts, and of files outside the given paths without --prune are kept).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from .changes import delete_gone, refuse_clash, skipped_note
from .documents import Article, load_articles, repeated_id
from .encoder import DEFAULT_MODEL
from .errors import QAError
from .files import given_prefix
from .passages import PassageSpec
from .store import IndexReader
from .writer import IndexWriter

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did, for the CLI to print."""

    path: Path
    articles: int = 0
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    removed: int = 0
    kept: list[str] = field(default_factory=list)  # ids not under the paths given, kept because --prune was not
    skipped: list[str] = field(default_factory=list)  # ids of articles deleted on purpose, not brought back
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Scanned(Protocol):
    """What the plan needs to know of an article to decide about it (an Article, or a Ray worker's note of one)."""

    id: str
    hash: str
    path: str | None


class BuildPlan:
    """One build's decisions, taken against the live generation the writer holds."""

    def __init__(self, writer: IndexWriter, paths: list[Path | str], prune: bool, report: BuildReport,
                 warn: Callable[[str], None] | None = None):
        self.writer, self.paths, self.prune, self.report, self.warn = writer, paths, prune, report, warn
        self.prefixes = [given_prefix(p) for p in paths]
        self.live = writer.live_hashes()
        self.seen: dict[str, str | None] = {}  # id: the path of its first copy
        self.unreadable: set[str] = set()

    def note(self, message: str) -> None:
        self.report.warnings.append(message)
        (self.warn or log.warning)(message)

    def wants(self, article: Scanned) -> bool:
        """Whether the build embeds this article; the plan's every decision about one article (see the module)."""
        if article.id in self.seen:  # a Ray block's reader saw only its own files; a local scan never gets here
            self.note(repeated_id(article, self.seen[article.id]))
            return False
        self.seen[article.id] = article.path
        if article.id in self.writer.tombstones:
            self.report.skipped.append(article.id)
            return False
        if self.live.get(article.id) == article.hash:
            self.report.reused += self.writer.view.passage_count(article.id)
            return False
        if not self.prune:
            refuse_clash(self.writer, article, "built", self.prefixes)
        return True

    def scan(self) -> Iterator[Article]:
        """The articles to embed, read from the inputs in file order."""
        for article in load_articles(self.paths, self.note, unreadable=self.unreadable.add):
            if self.wants(article):
                yield article

    def finish(self) -> None:
        """Delete what is gone and commit; nothing is committed when no input held an article."""
        if not self.seen:
            shown = ", ".join(str(p) for p in self.paths)
            raise QAError(f"no articles found in {shown}: give .txt, .md, .html or .jsonl files with text")
        self.report.removed = delete_gone(self.writer, self.live, self.seen, self.unreadable, self.note,
                                          None if self.prune else self.prefixes, self.report.kept)
        self.writer.commit()


# The embedding stage: given the plan, it makes segments of the articles the plan wants and hands them to the
# writer (IndexWriter.add or .register), counting their passages in report.embedded.
Embed = Callable[[BuildPlan], None]


def run_build(paths: Iterable[Path | str], root: Path, embed: Embed, model: str = DEFAULT_MODEL,
              spec: PassageSpec = PassageSpec(), warn: Callable[[str], None] | None = None,
              quantize: str | None = None, prune: bool = False) -> BuildReport:
    """Make the index at root match the given files and folders, embedding with `embed`; one commit at the end."""
    started = time.perf_counter()
    report = BuildReport(path=Path(root))
    with IndexWriter(Path(root), model, spec, quantize, rebuild=True) as writer:
        plan = BuildPlan(writer, list(paths), prune, report, warn)
        embed(plan)
        plan.finish()
    skipped_note(report, plan.note)
    counts = IndexReader(report.path).counts()
    report.articles, report.passages = counts["articles"], counts["passages"]
    report.seconds = time.perf_counter() - started
    return report
