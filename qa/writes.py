"""Articles posted over HTTP: checked field by field, then cleaned like a file's text before the index sees them."""

from __future__ import annotations

import hashlib
from datetime import date

from index.documents import Article, is_web_url, article_from_text

from .checks import ARTICLE_ID, ARTICLE_ID_RULE, encodable
from .errors import QAError

MAX_ARTICLES = 1000
MAX_TEXT = 2_000_000
MAX_FIELD = 1000
FIELDS = ("id", "title", "text", "outlet", "author", "published", "url")


class BadArticle(QAError):
    status = 400


def parse_articles(body: object) -> list[Article]:
    """One article `{"text": ..., ...}` or `{"articles": [...]}`, as Articles; BadArticle names the first bad field."""
    if isinstance(body, dict) and "articles" in body:
        items, prefix = body["articles"], "articles"
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ARTICLES:
            raise BadArticle(f"articles must be a list of 1-{MAX_ARTICLES} article objects")
        if set(body) - {"articles"}:
            raise BadArticle(f"unknown field {sorted(set(body) - {'articles'})[0]!r} beside articles")
        return [_article(item, f"{prefix}[{i}]") for i, item in enumerate(items)]
    return [_article(body, "body")]


def _article(item: object, where: str) -> Article:
    if not isinstance(item, dict):
        raise BadArticle(f'{where} must be an object like {{"text": "...", "title": "..."}}')
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise BadArticle(f"{where}.{unknown[0]} is not a field; allowed: {', '.join(FIELDS)}")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise BadArticle(f"{where}.text must be 1-{MAX_TEXT} characters of text")
    for name in ("title", "outlet", "author", "url", "id", "published"):
        value = item.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_FIELD):
            raise BadArticle(f"{where}.{name} must be a string of at most {MAX_FIELD} characters")
    for name in FIELDS:
        if isinstance(item.get(name), str) and not encodable(item[name]):
            raise BadArticle(f"{where}.{name} must be valid Unicode text (it holds a lone surrogate)")
    article_id = item.get("id")
    if article_id is not None and not ARTICLE_ID.match(article_id):
        raise BadArticle(f"{where}.id: {ARTICLE_ID_RULE}")
    published = item.get("published")
    if published is not None:
        try:
            published = date.fromisoformat(published).isoformat()
        except ValueError:
            raise BadArticle(f"{where}.published must be a date YYYY-MM-DD, got {published!r}") from None
    url = item.get("url")
    if url is not None and not is_web_url(url):
        raise BadArticle(f"{where}.url must be an http or https URL")
    # Without an id the text names the article: posting the same text again replaces it instead of adding a copy.
    article_id = article_id or "post-" + hashlib.sha1(text.encode()).hexdigest()[:16]
    given = {"title": item.get("title"), "outlet": item.get("outlet"), "author": item.get("author"),
             "published": published, "url": url}
    article = article_from_text(article_id, text, None, given)
    if article is None:
        raise BadArticle(f"{where}.text holds no text once cleaned")
    return article

