"""Search state: the change feed, per-consumer cursors and the text search ranks.

Every insert, update or delete of an article appends a row to ``changes`` in the same
transaction (triggers, migration 3; new vectors and story memberships count as updates of their
article). A consumer — a search backend (``backend:sqlite``), an alert rule (``rule:<id>``) —
reads ``changes.since(cursor)``, applies them, and moves its cursor; after a crash it re-reads
from where its cursor stands, so nothing is missed and a replay is an idempotent upsert.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from newsmon.index.core.times import now_iso
from newsmon.index.store.repos import Repo

Op = Literal["upsert", "delete"]


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    article_id: str
    op: Op


@dataclass(frozen=True, slots=True)
class SearchText:
    """The text both backends rank: NFKC-normalised title and body, and tokens joined by
    spaces (Sudachi for Japanese, Snowball stems for English; see newsmon.enrich.text)."""

    article_id: str
    lang: str | None
    title: str
    body: str
    title_tokens: str
    body_tokens: str
    tokenizer: str
    text_hash: str


class ChangeFeed(Repo):
    def head(self) -> int:
        """The newest sequence number (0 for an empty feed)."""
        row = self._db.execute("SELECT MAX(seq) FROM changes").fetchone()
        return int(row[0] or 0)

    def since(self, seq: int, limit: int = 1000) -> list[Change]:
        """Changes after ``seq``, oldest first, at most ``limit``."""
        return [Change(r[0], r[1], r[2]) for r in self._db.execute(
            "SELECT seq, article_id, op FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit))]

    def first_seen(self, ids: Iterable[str]) -> dict[str, int]:
        """article id -> the sequence number of its first change (when it was first stored;
        after ``compact`` only an article's newest change is left)."""
        return {r[0]: int(r[1]) for r in self._rows_in(
            "SELECT article_id, MIN(seq) FROM changes WHERE article_id IN ({ids}) "
            "GROUP BY article_id", ids)}

    def pending_articles(self, seq: int) -> int:
        """How many articles changed after ``seq`` (a consumer's queue, one per article)."""
        row = self._db.execute(
            "SELECT COUNT(DISTINCT article_id) FROM changes WHERE seq > ?", (seq,)).fetchone()
        return int(row[0] or 0)

    def caught_up(self, seq: int) -> int:
        """How many stored articles a consumer at ``seq`` has taken as they are now (their
        newest change at or before it): for a search backend, the articles it has indexed."""
        row = self._db.execute(
            """SELECT COUNT(*) FROM articles a WHERE (
                   SELECT MAX(c.seq) FROM changes c WHERE c.article_id = a.id) <= ?""",
            (seq,)).fetchone()
        return int(row[0] or 0)

    def compact(self, keep_after: int) -> int:
        """Drop changes at or before ``keep_after`` that a later change of the same article
        supersedes (the newest change of each article, tombstones included, stays)."""
        with self._tx() as db:
            return int(db.execute(
                """DELETE FROM changes WHERE seq <= ? AND seq < (
                       SELECT MAX(c2.seq) FROM changes c2
                       WHERE c2.article_id = changes.article_id)""", (keep_after,)).rowcount)


class Cursors(Repo):
    def get(self, name: str) -> int:
        """A consumer's position in the change feed (0: has seen nothing)."""
        row = self._db.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def set(self, name: str, seq: int) -> None:
        """Move a cursor; inside the caller's ``store.transaction()`` when it holds one."""
        with self._tx() as db:
            db.execute(
                """INSERT INTO cursors (name, seq, updated_at) VALUES (?,?,?)
                   ON CONFLICT(name) DO UPDATE SET seq=excluded.seq,
                       updated_at=excluded.updated_at""", (name, int(seq), now_iso()))

    def delete(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM cursors WHERE name = ?", (name,))

    def all(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._db.execute(
            "SELECT name, seq FROM cursors ORDER BY name")}


class SearchTextRepo(Repo):
    def get_many(self, ids: Iterable[str]) -> dict[str, SearchText]:
        return {r[0]: SearchText(*r) for r in self._rows_in(
            """SELECT article_id, lang, title, body, title_tokens, body_tokens, tokenizer,
                      text_hash FROM search_text WHERE article_id IN ({ids})""", ids)}

    def save(self, rows: Iterable[SearchText]) -> int:
        data = [(t.article_id, t.lang, t.title, t.body, t.title_tokens, t.body_tokens,
                 t.tokenizer, t.text_hash) for t in rows]
        if data:
            with self._tx() as db:
                db.executemany(
                    """INSERT INTO search_text (article_id, lang, title, body, title_tokens,
                           body_tokens, tokenizer, text_hash) VALUES (?,?,?,?,?,?,?,?)
                       ON CONFLICT(article_id) DO UPDATE SET lang=excluded.lang,
                           title=excluded.title, body=excluded.body,
                           title_tokens=excluded.title_tokens,
                           body_tokens=excluded.body_tokens, tokenizer=excluded.tokenizer,
                           text_hash=excluded.text_hash""", data)
        return len(data)


__all__ = ["ChangeFeed", "Cursors", "Change", "SearchText", "SearchTextRepo"]
