"""Bottom layer of newsmon: the Article record, the store of record and search backends.

Imports neither Scrapy nor any model (see DESIGN.md): callers compute vectors themselves.
"""
from newsmon.index.article import Article, Stage, Status, article_id
from newsmon.index.errors import (
    ConfigError,
    DeliveryError,
    ExtractError,
    FetchError,
    IndexingError,
    NewsmonError,
    StoreError,
)
from newsmon.index.store import Store

__all__ = [
    "Article",
    "Stage",
    "Status",
    "article_id",
    "Store",
    "NewsmonError",
    "ConfigError",
    "FetchError",
    "ExtractError",
    "IndexingError",
    "StoreError",
    "DeliveryError",
]
