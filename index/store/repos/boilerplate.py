"""Per-source boilerplate memory in the store (see ``newsmon.enrich.boilerplate``).

Two tables (schema migration 5 in ``newsmon.index.store.migrations``): ``source_blocks`` counts, per
source and block key, in how many distinct articles the block was seen, with one sample line;
``source_block_articles`` lists the articles already counted, so re-enriching an article
never counts it twice. Counts only grow; the rule that turns a count into "boilerplate" lives
in enrich and its settings.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from newsmon.index.core.times import now_iso
from newsmon.index.store.repos import Repo


class BoilerplateRepo(Repo):
    """The boilerplate tables (``store.boilerplate``)."""

    def counted(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are already counted."""
        return {r[0] for r in self._rows_in(
            "SELECT article_id FROM source_block_articles WHERE article_id IN ({ids})", ids)}

    def add(self, source: str, articles: dict[str, dict[str, str]]) -> None:
        """Count the blocks of new articles of one source: ``{article id: {key: sample}}``.
        Articles already counted are skipped; one transaction."""
        now = now_iso()
        with self._tx() as db:
            for aid, blocks in articles.items():
                cur = db.execute(
                    "INSERT INTO source_block_articles (article_id, source, counted_at)"
                    " VALUES (?,?,?) ON CONFLICT (article_id) DO NOTHING", (aid, source, now))
                if cur.rowcount == 0:
                    continue
                db.executemany(
                    """INSERT INTO source_blocks (source, key, sample, articles, first_seen,
                           last_seen) VALUES (?,?,?,1,?,?)
                       ON CONFLICT(source, key) DO UPDATE
                           SET articles = source_blocks.articles + 1,
                           last_seen = excluded.last_seen""",
                    [(source, k, sample[:500], now, now) for k, sample in blocks.items()])

    def counts(self, source: str, *, min_articles: int = 2) -> dict[str, int]:
        """key → number of articles, for the keys of ``source`` seen at least that often."""
        return {r[0]: r[1] for r in self._db.execute(
            "SELECT key, articles FROM source_blocks WHERE source = ? AND articles >= ?",
            (source, min_articles))}

    def total(self, source: str) -> int:
        """How many articles of ``source`` are counted."""
        return int(self._db.execute(
            "SELECT COUNT(*) FROM source_block_articles WHERE source = ?", (source,)
        ).fetchone()[0])

    def blocks(self, source: str | None = None, *, min_articles: int = 1) -> list[dict[str, Any]]:
        """The counted blocks (for inspection), most frequent first."""
        where = "WHERE articles >= ?"
        params: list[Any] = [min_articles]
        if source is not None:
            where += " AND source = ?"
            params.append(source)
        return [dict(r) for r in self._db.execute(
            f"SELECT source, key, sample, articles, first_seen, last_seen FROM source_blocks "
            f"{where} ORDER BY source, articles DESC, key", params)]


__all__ = ["BoilerplateRepo"]
