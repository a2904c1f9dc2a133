"""newsmon's error hierarchy.

    NewsmonError
    ├── ConfigError      bad configuration or usage (exit code 2)
    ├── FetchError       an HTTP fetch failed (status, timeout, size, redirect loop, robots)
    ├── ExtractError     a page could not be turned into an article (carries a reason code)
    ├── StoreError       the store of record could not be read or written
    ├── IndexingError    a search backend rejected or lost a write
    └── DeliveryError    an alert could not be delivered

Errors that concern one item carry a short machine-readable ``reason`` so they can be recorded
on the item and counted in stats, never silently dropped. They survive pickling with their reason.
"""
from __future__ import annotations


class NewsmonError(Exception):
    """Base class of every error newsmon raises on purpose."""

    reason: str = "error"

    # Exception pickles as (type, args, __dict__): the message is the one positional argument
    # and a per-instance reason sits in __dict__, so both cross process boundaries
    # (tests/test_errors.py); a required second argument would break that.
    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ConfigError(NewsmonError):
    reason = "config"


class FetchError(NewsmonError):
    reason = "fetch"


class ExtractError(NewsmonError):
    reason = "extract"


class StoreError(NewsmonError):
    reason = "store"


class IndexingError(NewsmonError):
    reason = "index"


class DeliveryError(NewsmonError):
    reason = "delivery"


__all__ = ["NewsmonError", "ConfigError", "FetchError", "ExtractError", "StoreError",
           "IndexingError", "DeliveryError"]
