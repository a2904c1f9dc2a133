"""Vectors and stories: document and paragraph embeddings, near-duplicate fingerprints and story
membership (what enrichment computes and story assignment compares)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from newsmon.index.core.codec import matrix_from_bytes, vector_from_bytes, vector_to_bytes
from newsmon.index.core.errors import StoreError
from newsmon.index.core.times import now_iso, parse_iso, utc_iso
from newsmon.index.store.repos import Repo, chunked, marks


@dataclass(frozen=True, slots=True)
class PoolRow:
    """What story assignment compares for one article."""

    article_id: str
    lang: str | None
    published: datetime | None
    chunks: np.ndarray           # (n_chunks, dim) paragraph vectors
    has_title: bool
    signature: bytes | None      # MinHash signature of the asked fingerprint kind, else None
    story: str | None = None


@dataclass(frozen=True, slots=True)
class StoryMember:
    article_id: str
    story: str
    lang: str | None
    published: datetime | None
    how: str
    score: float | None = None
    via: str | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingRow:
    """One article's vectors as enrichment stores them."""

    article_id: str
    model: str
    vector: np.ndarray           # (dim,)
    chunks: np.ndarray           # (n, dim)
    has_title: bool
    lang: str | None
    published: datetime | None
    text_hash: str
    fingerprint_kind: str
    signature: bytes


def _pool_row(r: Any, fingerprint_kind: str, story: str | None = None) -> PoolRow:
    return PoolRow(
        article_id=r["article_id"], lang=r["lang"], published=parse_iso(r["published"]),
        chunks=matrix_from_bytes(r["chunks"], r["n_chunks"], r["dim"]),
        has_title=bool(r["has_title"]),
        signature=bytes(r["signature"]) if r["kind"] == fingerprint_kind else None,
        story=story,
    )


class VectorRepo(Repo):
    def embedding_hashes(self, ids: Iterable[str], model: str) -> dict[str, str]:
        """article id -> text hash of its stored vector, for vectors made by ``model`` only."""
        return {r[0]: r[1] for r in self._rows_in(
            "SELECT article_id, text_hash FROM embeddings WHERE model = ? AND article_id IN ({ids})",
            ids, model)}

    def save_embeddings(self, rows: Iterable[EmbeddingRow]) -> int:
        """Store vectors and fingerprints of a batch in one transaction."""
        now = now_iso()
        emb, fps = [], []
        for r in rows:
            vector = np.asarray(r.vector, dtype=np.float32)
            chunks = np.asarray(r.chunks, dtype=np.float32)
            if chunks.ndim != 2 or chunks.shape[1] != vector.shape[0]:
                raise StoreError(f"article {r.article_id}: chunk vectors of shape "
                                 f"{chunks.shape} do not match a vector of {vector.shape[0]}")
            emb.append((r.article_id, r.model, int(vector.shape[0]), vector_to_bytes(vector),
                        vector_to_bytes(chunks), int(chunks.shape[0]), int(bool(r.has_title)),
                        r.lang, utc_iso(r.published), r.text_hash, now))
            fps.append((r.article_id, r.fingerprint_kind, bytes(r.signature), r.text_hash))
        if not emb:
            return 0
        with self._tx() as db:
            db.executemany(
                """INSERT INTO embeddings (article_id, model, dim, vector, chunks, n_chunks,
                       has_title, lang, published, text_hash, created_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(article_id) DO UPDATE SET model=excluded.model,
                       dim=excluded.dim, vector=excluded.vector, chunks=excluded.chunks,
                       n_chunks=excluded.n_chunks, has_title=excluded.has_title,
                       lang=excluded.lang, published=excluded.published,
                       text_hash=excluded.text_hash, created_at=excluded.created_at""",
                emb,
            )
            db.executemany(
                """INSERT INTO fingerprints (article_id, kind, signature, text_hash)
                   VALUES (?,?,?,?)
                   ON CONFLICT(article_id) DO UPDATE SET kind=excluded.kind,
                       signature=excluded.signature, text_hash=excluded.text_hash""",
                fps,
            )
        return len(emb)

    def get_vectors(self, ids: Iterable[str], model: str) -> dict[str, np.ndarray]:
        """Document vectors of ``model`` by article id (articles without one are left out)."""
        out: dict[str, np.ndarray] = {}
        for chunk in chunked(ids):
            # look the ids up by primary key; on a big store SQLite otherwise may walk the
            # (model, lang, published) index through every row of the model
            for r in self._db.execute(
                f"""SELECT article_id, vector, dim FROM embeddings
                    WHERE {self._sql.no_index("model")} = ?
                    AND article_id IN ({marks(len(chunk))})""", [model, *chunk]):
                out[r[0]] = vector_from_bytes(r[1], r[2])
        return out

    def model_dim(self, model: str) -> int | None:
        """The dimension of ``model``'s stored vectors, None while it has none."""
        row = self._db.execute(
            "SELECT dim FROM embeddings WHERE model = ? LIMIT 1", (model,)).fetchone()
        return int(row[0]) if row else None

    def vector_models(self, ids: Iterable[str]) -> dict[str, str]:
        """article id -> the model its stored vector was made with."""
        return {r[0]: r[1] for r in self._rows_in(
            "SELECT article_id, model FROM embeddings WHERE article_id IN ({ids})", ids)}

    def iter_vectors(self, model: str, *, batch_size: int = 1000
                     ) -> Iterator[tuple[str, np.ndarray]]:
        """(article id, document vector) of every article embedded by ``model``, in id order."""
        for r in self._embedding_rows(model, batch_size):
            yield r[0], vector_from_bytes(r[2], r[3])

    def iter_lang_vectors(self, model: str, *, batch_size: int = 2000
                          ) -> Iterator[tuple[str | None, np.ndarray]]:
        """(language, document vector) of every article embedded by ``model``: the moments
        of each language's vectors that language-fair search scores against."""
        for r in self._embedding_rows(model, batch_size):
            yield r[1], vector_from_bytes(r[2], r[3])

    def _embedding_rows(self, model: str, batch_size: int) -> Iterator[Any]:
        """(article id, lang, vector, dim) of every article embedded by ``model``, in id
        order, paged by id so a long read holds no cursor open between batches."""
        last = ""
        while True:
            rows = self._db.execute(
                """SELECT article_id, lang, vector, dim FROM embeddings WHERE model = ?
                   AND article_id > ? ORDER BY article_id LIMIT ?""",
                (model, last, batch_size)).fetchall()
            if not rows:
                return
            yield from rows
            last = rows[-1][0]

    def iter_chunk_vectors(self, model: str, lang: str, *, newest: int,
                           batch_size: int = 500) -> Iterator[np.ndarray]:
        """Chunk matrices of the ``newest`` articles of one language embedded by ``model``."""
        offset = 0
        while offset < newest:
            rows = self._db.execute(
                """SELECT chunks, n_chunks, dim FROM embeddings WHERE model = ? AND lang = ?
                   ORDER BY published DESC, article_id DESC LIMIT ? OFFSET ?""",
                (model, lang, min(batch_size, newest - offset), offset)).fetchall()
            if not rows:
                return
            for r in rows:
                yield matrix_from_bytes(r[0], r[1], r[2])
            offset += len(rows)

    def embedding_langs(self, model: str) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT lang FROM embeddings WHERE model = ? AND lang IS NOT NULL "
            "ORDER BY lang", (model,))]

    # -- stories ------------------------------------------------------------------------------
    def story_pool(self, model: str, fingerprint_kind: str, since: datetime,
                   until: datetime) -> list[PoolRow]:
        """Articles with a story published in [since, until], with what assignment compares."""
        rows = self._db.execute(
            """SELECT s.article_id, s.story, s.lang, s.published, e.chunks, e.n_chunks, e.dim,
                      e.has_title, f.signature, f.kind
               FROM story_members s
               JOIN embeddings e ON e.article_id = s.article_id AND e.model = ?
               JOIN fingerprints f ON f.article_id = s.article_id
               WHERE s.published >= ? AND s.published <= ?
               ORDER BY s.published, s.article_id""",
            (model, utc_iso(since), utc_iso(until)),
        ).fetchall()
        return [_pool_row(r, fingerprint_kind, r["story"]) for r in rows]

    def story_pool_rows(self, ids: Iterable[str], model: str,
                        fingerprint_kind: str) -> list[PoolRow]:
        """What story assignment compares, for given articles (no story needed yet)."""
        out = []
        for chunk in chunked(ids):
            for r in self._db.execute(
                f"""SELECT e.article_id, e.lang, e.published, e.chunks, e.n_chunks, e.dim,
                           e.has_title, f.signature, f.kind
                    FROM embeddings e LEFT JOIN fingerprints f ON f.article_id = e.article_id
                    WHERE e.model = ? AND e.article_id IN ({marks(len(chunk))})""",
                    [model, *chunk]):
                out.append(_pool_row(r, fingerprint_kind))
        return out

    def clear_stories(self, ids: Iterable[str]) -> None:
        """Forget the story membership of articles about to be re-enriched."""
        with self._tx() as db:
            for chunk in chunked(ids):
                db.execute(f"DELETE FROM story_members WHERE article_id IN "
                           f"({marks(len(chunk))})", chunk)

    def save_members(self, members: Iterable[StoryMember]) -> int:
        now = now_iso()
        rows = [(m.article_id, m.story, m.lang, utc_iso(m.published), m.how, m.score, m.via, now)
                for m in members]
        if rows:
            with self._tx() as db:
                db.executemany(
                    """INSERT INTO story_members (article_id, story, lang, published, how, score,
                           via, assigned_at) VALUES (?,?,?,?,?,?,?,?)
                       ON CONFLICT(article_id) DO UPDATE SET story=excluded.story,
                           lang=excluded.lang, published=excluded.published, how=excluded.how,
                           score=excluded.score, via=excluded.via,
                           assigned_at=excluded.assigned_at""",
                    rows,
                )
        return len(rows)

    def story_members(self, story: str) -> list[str]:
        """Article ids of one story, in published order."""
        return [r[0] for r in self._db.execute(
            "SELECT article_id FROM story_members WHERE story = ? ORDER BY published, article_id",
            (story,))]

    def stories(self, ids: Iterable[str] | None = None) -> dict[str, str]:
        """article id -> story id, for every article that has one (or for ``ids`` only)."""
        if ids is None:
            return {r[0]: r[1] for r in self._db.execute(
                "SELECT article_id, story FROM story_members")}
        return {r[0]: r[1] for r in self._rows_in(
            "SELECT article_id, story FROM story_members WHERE article_id IN ({ids})", ids)}


__all__ = ["VectorRepo", "PoolRow", "StoryMember", "EmbeddingRow"]
