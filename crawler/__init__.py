"""Crawl stage: discover article URLs from configured sources, fetch politely, extract, store."""
