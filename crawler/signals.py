"""The crawl's own Scrapy signals (``crawler.signals.send_catch_log(signal, **kwargs)``)."""
from __future__ import annotations

__all__ = ["url_variant"]

# A URL was not fetched because another URL with the same canonical form is already queued this
# run (the feed's tracking-parameter link after the section's clean one). Sent by the spider with
# ``canonical`` and ``url``; the pipeline records ``url`` as an alias of the article it gives.
url_variant = object()
