"""Bottom layer of newsmon: the Article record, the store of record and search backends.

Imports neither Scrapy nor the crawler, the enricher or any model: callers compute vectors
themselves (the one-way arrows newsmon → crawler, enrich → index).
"""
from newsmon.index.core.article import Article, Stage, Status, article_id
from newsmon.index.core.errors import (
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
