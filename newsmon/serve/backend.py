"""The Searcher behind the API, on one worker thread: SQLite connections and the embedding model
stay on the thread that made them; the event loop only parses and answers."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Protocol, TypeVar

from newsmon.index.core.settings import Settings
from newsmon.index.store import StoreBase

T = TypeVar("T")


class SearcherLike(Protocol):
    """What the API needs of newsmon.app.search.Searcher (the alert history and feeds read
    its store, with its settings)."""

    store: StoreBase
    settings: Settings

    def search(self, req: Any) -> Any: ...
    def article(self, article_id: str) -> dict[str, Any] | None: ...
    def story(self, story_id: str) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def coverage_per_day(self, since: datetime | None = None,
                         until: datetime | None = None) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...



class Backend:
    """The Searcher on its own thread: every call runs there, one at a time."""

    def __init__(self, open_searcher: Callable[[], SearcherLike]) -> None:
        self._open = open_searcher
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmon-search")
        self._searcher: SearcherLike | None = None

    def _get(self) -> SearcherLike:
        if self._searcher is None:
            self._searcher = self._open()
        return self._searcher

    async def call(self, fn: Callable[[SearcherLike], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._get()))

    def open(self) -> None:
        """Open the Searcher now (on its thread) so that a broken store or an unreachable
        backend fails the start with its own error rather than the first request."""
        self._pool.submit(self._get).result()

    async def start(self) -> None:
        await self.call(lambda s: None)

    async def close(self) -> None:
        def _close() -> None:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, _close)
        self._pool.shutdown(wait=True)


__all__ = ["Backend", "SearcherLike"]
