"""The one writer both shells use: `qa add | delete | merge` and HTTP's POST and DELETE /articles.

It holds what every write shares, in one place: the checks on posted articles (qa/checks.py's models), the encoder a
write embeds with (loaded once and kept), the tombstones (an article deleted on purpose is refused unless forced
back, index/build.py), and the merge policy run after each write. The index's write lock (index/commit.py) keeps
writers in different processes apart; `_lock` keeps this process's threads from loading the encoder twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from pydantic import ValidationError

from index.commit import IndexBusy
from index.documents import Article, article_from_text
from index.encoder import Encoder

from .checks import ArticleIn, ArticlesIn, check_article_id, explain
from .errors import QAError

log = logging.getLogger(__name__)


class BadArticle(QAError):
    status = 400


def parse_articles(body: object) -> list[Article]:
    """One article `{"text": ..., ...}` or `{"articles": [...]}`, as Articles; BadArticle names the first bad field."""
    many = isinstance(body, dict) and "articles" in body
    try:
        given = ArticlesIn.model_validate(body).articles if many else [ArticleIn.model_validate(body)]
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        if many and len(loc) >= 2 and isinstance(loc[1], int):
            raise BadArticle(explain({**error, "loc": loc[2:]}, ArticleIn, f"articles[{loc[1]}]")) from None
        raise BadArticle(explain(error, ArticlesIn) if many else explain(error, ArticleIn, "body")) from None
    where = [f"articles[{i}]" for i in range(len(given))] if many else ["body"]
    return [_article(item, at) for item, at in zip(given, where)]


def _article(item: ArticleIn, where: str) -> Article:
    # Without an id the text names the article: posting the same text again replaces it instead of adding a copy.
    article_id = item.id or "post-" + hashlib.sha1(item.text.encode()).hexdigest()[:16]
    given = {"title": item.title, "outlet": item.outlet, "author": item.author,
             "published": item.published.isoformat() if item.published else None, "url": item.url}
    article = article_from_text(article_id, item.text, None, given)
    if article is None:
        raise BadArticle(f"{where}.text holds no text once cleaned")
    return article


class Writer:
    """Adds, deletes and merges for one index. `background` runs the merge policy after a write on a thread of its
    own (a server: the write returns at once, and searches never wait for a merge); without it the policy runs
    before the write returns (the CLI: the process is about to exit), and is deferred when another writer is busy.
    """

    def __init__(self, root: Path, model: str | None = None, background: bool = False,
                 note: Callable[[str], None] | None = None):
        self.root, self.model, self.background = Path(root), model, background
        self.note = note or log.warning
        self._lock = threading.Lock()
        self._encoder: tuple[tuple[str, str], Encoder] | None = None
        self._merges: ThreadPoolExecutor | None = None

    def add(self, articles: Iterable[Article], force: bool = False) -> tuple[list[str], int]:
        """Add or replace articles (by id) in one commit: their ids and the generation that holds them. An article
        deleted earlier is refused (index.build.Buried, 409) unless `force` re-admits it."""
        from index.build import add_articles

        ids, generation = add_articles(self.root, list(articles), encoder=self._passage_encoder(), model=self.model,
                                       force=force)
        self._tidy()
        return ids, generation

    def delete(self, ids: Iterable[str]) -> tuple[list[str], int]:
        """Delete articles by id in one commit, each remembered by a tombstone so builds do not bring it back: the
        ids no live article has, and the generation."""
        from index.build import delete_articles

        ids = [check_article_id(i) for i in ids]
        self._existing()
        missing, generation = delete_articles(self.root, ids)
        self._tidy()
        return missing, generation

    def merge(self, force: bool = False) -> int | None:
        """One merge now: every segment into one (force), else what the tiered policy picks. The new generation,
        or None when there was nothing to merge."""
        from index.merge import merge

        if force:
            self._existing()
        return merge(self.root, force=force)

    def _existing(self) -> None:
        """A missing index says so, in one line, before a delete or merge would make an empty one (only the commit
        file is read: a server deletes without opening the index again)."""
        from index.store import newest_commit

        newest_commit(self.root)

    def _tidy(self) -> None:
        """Run the merge policy after a write; usually there is nothing to merge."""
        if not self.background:
            try:
                self.merge()
            except IndexBusy:
                # The write is committed; a merge is only tidying, and the next write or `qa merge` runs it again.
                self.note("another writer holds the index, so the merge is deferred to the next write (or run qa merge)")
            return
        with self._lock:
            if self._merges is None:
                self._merges = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-merge")
            self._merges.submit(self.merge).add_done_callback(_log_failure)

    def wait(self) -> None:
        """Let the background merges queued so far finish (tests, and a clean shutdown)."""
        with self._lock:
            pool, self._merges = self._merges, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _passage_encoder(self) -> Encoder | None:
        """The float32 encoder builds use, loaded on the first write and kept: it costs more than embedding one
        article. None for a new index, which brings its own."""
        from index.commit import latest
        from index.encoder import open_encoder

        commit = latest(self.root)  # the index folder itself: a sharded engine has no local view
        if commit is None:
            return None
        key = (commit.model_dir, commit.model["name"])  # a rebuild with another model brings another folder
        with self._lock:
            if self._encoder is None or self._encoder[0] != key:
                self._encoder = (key, open_encoder(self.root / commit.model_dir, commit.model["name"]))
            return self._encoder[1]


def _log_failure(future: Future) -> None:
    """A background merge that failed leaves the index as it was; the log says why."""
    if future.exception() is not None:
        log.warning("background merge failed: %s", future.exception())
