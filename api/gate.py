"""Questions run off the event loop, on a few threads with a bounded queue: /health and writes stay answered while
every question thread is busy, and past the queue a question gets 503 with Retry-After instead of a wait without end.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from qa.errors import QAError


class Busy(QAError):
    status = 503
    retry_after = 1


class Gate:
    """At most `threads` questions at once and `queue` more waiting; the rest are refused at once."""

    def __init__(self, threads: int, queue: int):
        self.threads, self.queue = threads, queue
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="qa-ask")
        self._lock = threading.Lock()
        self._pending = 0

    async def run(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        with self._lock:
            if self._pending >= self.threads + self.queue:
                raise Busy(f"server busy: {self.threads} questions running and {self.queue} waiting; "
                           f"retry in {Busy.retry_after} s")
            self._pending += 1
        future = self._pool.submit(method, **kwargs)
        # Released when the work ends or is cancelled before it starts (a client that went away), never earlier:
        # a question still running on a thread still holds its place.
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: Future) -> None:
        with self._lock:
            self._pending -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
