"""What the engine reads an index through, declared once: a single node's IndexReader (index/store.py) and a
sharded index's ShardedView (qa/shards.py) both implement `View`, and what `View.prepare` returns implements
`Searchable`, the calls retrieval, picking and the reports make. Structural (typing.Protocol), so index/ implements
it without importing anything from qa/.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Searchable(Protocol):
    """One question's candidates and what the answer stage reads of them."""

    def dense_search(self, query: np.ndarray, k: int, mask: Any = None) -> list: ...

    def bm25_search(self, query_terms: list[str], k: int, mask: Any = None) -> list: ...

    def passage_cosines(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray: ...

    def sentences(self, rows: np.ndarray) -> Any: ...

    def passage(self, row: int) -> dict: ...

    def idf(self, query_terms: list[str]) -> dict[str, float]: ...


@runtime_checkable
class View(Protocol):
    """One generation of an index, held for a whole request."""

    generation: int
    manifest: dict

    def prepare(self, query_vector: np.ndarray, query_terms: list[str], depth: int, outlet: str | None,
                since: date | None, until: date | None) -> tuple[Searchable, np.ndarray | None, list[int] | None]:
        """What to search for one question, the passage mask of the filters, and what the filters left."""
        ...

    def live_articles_list(self) -> list[dict]: ...

    def article(self, article_id: str) -> dict | None: ...
