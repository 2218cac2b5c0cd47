"""BM25 terms: lower-cased words, English stop words out, Snowball stems."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)
# Lucene's English stop words (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET; bm25s ships the same 33 as STOPWORDS_EN).
# Written out, not imported: they decide which terms a segment stores, so they are part of the index format, and
# a dependency's new release must not change them under segments already written.
LUCENE_ENGLISH = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
)
# Question and auxiliary words carry no topic; leaving them in makes BM25 favour chatty passages.
STOPWORDS = frozenset(LUCENE_ENGLISH) | {
    "who", "whom", "whose", "what", "when", "where", "which", "why", "how", "did", "do", "does", "has",
    "have", "had", "s", "can", "could", "would", "should", "its", "it's", "from", "about", "been", "were",
    "was", "many", "much",
}


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """The BM25 terms of a text, in order."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return _stemmer().stemWords(words)


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """Memoised: news reuses its words, and one dict lookup beats a call into the stemmer."""
    return _stemmer().stemWord(word)


def term_set(text: str) -> set[str]:
    """The distinct BM25 terms of a text: set(terms(text)), about twice as fast on the sentences of an answer."""
    return {_stem(w) for w in set(_WORD.findall(text.lower())) - STOPWORDS}
