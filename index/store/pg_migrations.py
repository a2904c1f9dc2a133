"""Schema migrations of the PostgreSQL store of record (PostgreSQL's dialect of
index.store.migrations: the same tables and change-feed triggers, without the embedded search
index, which is SQLite's; a PostgreSQL store searches with Elasticsearch).

The version lives in the table ``schema_version``; each entry runs in one transaction under an
advisory lock, so two processes opening a new database migrate it once. Never edit a released
entry; append a new one.
"""
from __future__ import annotations

import logging
from typing import Any

from newsmon.index.core.errors import StoreError

log = logging.getLogger(__name__)

# any fixed number: the advisory lock that serialises migrations of one database
_LOCK = 7_203_119
# the transaction-level advisory lock that orders the change feed (migration 2)
CHANGES_LOCK = 7_203_120

_NOW = """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""

PG_MIGRATIONS: list[str] = [
    # 1: the schema of SQLite's migrations 1-8, search index aside
    f"""
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        canonical_url TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        lang TEXT,
        title TEXT NOT NULL DEFAULT '',
        published TEXT,
        status TEXT NOT NULL,
        stage TEXT NOT NULL,
        fetched_at TEXT,
        updated_at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX articles_stage ON articles(stage);
    CREATE INDEX articles_source ON articles(source);
    CREATE INDEX articles_published ON articles(published);

    CREATE TABLE urls (
        url TEXT PRIMARY KEY,
        article_id TEXT,
        source TEXT,
        state TEXT NOT NULL CHECK (state IN ('stored', 'rejected', 'failed')),
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );

    CREATE TABLE feed_state (
        url TEXT PRIMARY KEY,
        source TEXT,
        etag TEXT,
        last_modified TEXT,
        last_status INTEGER,
        last_fetched TEXT,
        not_modified INTEGER NOT NULL DEFAULT 0,
        kind TEXT
    );

    CREATE TABLE runs (
        id BIGSERIAL PRIMARY KEY,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        stats TEXT NOT NULL DEFAULT '{{}}',
        pid INTEGER,
        host TEXT
    );
    CREATE INDEX runs_status ON runs(status);

    CREATE TABLE run_steps (
        run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_s DOUBLE PRECISION,
        exit_code INTEGER,
        counts TEXT NOT NULL DEFAULT '{{}}',
        -- SQLite's implicit rowid, which orders steps started in the same millisecond
        rowid BIGSERIAL,
        PRIMARY KEY (run_id, stage)
    );

    CREATE TABLE fetch_log (
        id BIGSERIAL PRIMARY KEY,
        run_id BIGINT,
        at TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT,
        kind TEXT,
        http_status INTEGER,
        outcome TEXT NOT NULL,
        reason TEXT,
        detail TEXT
    );
    CREATE INDEX fetch_log_run ON fetch_log(run_id);
    CREATE INDEX fetch_log_outcome ON fetch_log(outcome, reason);

    CREATE TABLE embeddings (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BYTEA NOT NULL,
        chunks BYTEA NOT NULL,
        n_chunks INTEGER NOT NULL,
        has_title INTEGER NOT NULL,
        lang TEXT,
        published TEXT,
        text_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX embeddings_model ON embeddings(model, lang, published);

    CREATE TABLE fingerprints (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        signature BYTEA NOT NULL,
        text_hash TEXT NOT NULL
    );

    CREATE TABLE story_members (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        story TEXT NOT NULL,
        lang TEXT,
        published TEXT,
        how TEXT NOT NULL,
        score DOUBLE PRECISION,
        via TEXT,
        assigned_at TEXT NOT NULL
    );
    CREATE INDEX story_members_story ON story_members(story);
    CREATE INDEX story_members_published ON story_members(published);

    CREATE TABLE changes (
        seq BIGSERIAL PRIMARY KEY,
        article_id TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        at TEXT NOT NULL
    );
    CREATE INDEX changes_article ON changes(article_id);

    CREATE TABLE cursors (
        name TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        updated_at TEXT
    );

    -- the change feed, as SQLite's triggers write it: an article's insert, update or delete, and
    -- a new vector or story membership of an article that exists
    CREATE FUNCTION newsmon_article_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO changes (article_id, op, at) VALUES (OLD.id, 'delete', {_NOW});
        ELSE
            INSERT INTO changes (article_id, op, at) VALUES (NEW.id, 'upsert', {_NOW});
        END IF;
        RETURN NULL;
    END $$;
    CREATE FUNCTION newsmon_member_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE aid TEXT;
    BEGIN
        IF TG_OP = 'DELETE' THEN aid := OLD.article_id; ELSE aid := NEW.article_id; END IF;
        IF EXISTS (SELECT 1 FROM articles WHERE id = aid) THEN
            INSERT INTO changes (article_id, op, at) VALUES (aid, 'upsert', {_NOW});
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER articles_changed AFTER INSERT OR UPDATE OR DELETE ON articles
        FOR EACH ROW EXECUTE FUNCTION newsmon_article_changed();
    CREATE TRIGGER embeddings_changed AFTER INSERT OR UPDATE ON embeddings
        FOR EACH ROW EXECUTE FUNCTION newsmon_member_changed();
    CREATE TRIGGER story_members_changed AFTER INSERT OR UPDATE OR DELETE ON story_members
        FOR EACH ROW EXECUTE FUNCTION newsmon_member_changed();

    CREATE TABLE search_text (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        lang TEXT,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        title_tokens TEXT NOT NULL,
        body_tokens TEXT NOT NULL,
        tokenizer TEXT NOT NULL,
        text_hash TEXT NOT NULL
    );

    CREATE TABLE alerts (
        id BIGSERIAL PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('match', 'baseline', 'digest', 'health', 'recovery')),
        story TEXT,
        article_id TEXT,
        score DOUBLE PRECISION,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        run_id BIGINT
    );
    CREATE INDEX alerts_rule ON alerts(rule, kind);

    CREATE TABLE alert_articles (
        rule TEXT NOT NULL,
        article_id TEXT NOT NULL,
        alert_id BIGINT NOT NULL REFERENCES alerts(id),
        role TEXT NOT NULL CHECK (role IN ('trigger', 'also')),
        added_at TEXT NOT NULL,
        PRIMARY KEY (rule, article_id)
    );
    CREATE INDEX alert_articles_alert ON alert_articles(alert_id);

    CREATE TABLE deliveries (
        id BIGSERIAL PRIMARY KEY,
        alert_id BIGINT NOT NULL REFERENCES alerts(id),
        channel TEXT NOT NULL,
        spec TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'parked')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        last_attempt_at TEXT,
        sent_at TEXT,
        UNIQUE (alert_id, channel)
    );
    CREATE INDEX deliveries_state ON deliveries(state);

    CREATE TABLE source_health (
        source TEXT PRIMARY KEY,
        condition TEXT NOT NULL CHECK (condition IN ('ok', 'failing', 'silent')),
        since TEXT NOT NULL,
        detail TEXT,
        alert_id BIGINT,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE source_blocks (
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        sample TEXT NOT NULL,
        articles INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (source, key)
    );
    CREATE TABLE source_block_articles (
        article_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        counted_at TEXT NOT NULL
    );
    CREATE INDEX source_block_articles_source ON source_block_articles(source);

    CREATE TABLE crawl_health (
        source TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        last_run_id BIGINT,
        last_crawl_at TEXT NOT NULL,
        last_success_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        listings_ok INTEGER NOT NULL DEFAULT 0,
        listings_failed INTEGER NOT NULL DEFAULT 0,
        pages_failed INTEGER NOT NULL DEFAULT 0,
        stored INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE maintenance (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE alert_rules (
        rule TEXT PRIMARY KEY,
        first_seen_at TEXT NOT NULL,
        first_seen_seq BIGINT NOT NULL,
        baseline_at TEXT,
        baseline_stories INTEGER
    );
    """,
    # 2: the change feed in commit order. A sequence hands out numbers when rows are written,
    # not when their transactions commit: with several writers (crawl workers, enrich), seq 10
    # could commit before seq 9, and a reader that moved its cursor to 10 would never see 9 (an
    # article missing from the index for good). Each writer takes one transaction-level lock
    # before its first change row and holds it to its commit, so numbers are visible in order.
    # SQLite has one writer at a time and needs none of this.
    f"""
    CREATE OR REPLACE FUNCTION newsmon_article_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({CHANGES_LOCK});
        IF TG_OP = 'DELETE' THEN
            INSERT INTO changes (article_id, op, at) VALUES (OLD.id, 'delete', {_NOW});
        ELSE
            INSERT INTO changes (article_id, op, at) VALUES (NEW.id, 'upsert', {_NOW});
        END IF;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION newsmon_member_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE aid TEXT;
    BEGIN
        IF TG_OP = 'DELETE' THEN aid := OLD.article_id; ELSE aid := NEW.article_id; END IF;
        IF EXISTS (SELECT 1 FROM articles WHERE id = aid) THEN
            PERFORM pg_advisory_xact_lock({CHANGES_LOCK});
            INSERT INTO changes (article_id, op, at) VALUES (aid, 'upsert', {_NOW});
        END IF;
        RETURN NULL;
    END $$;
    """,
]


def migrate_pg(conn: Any, where: str) -> int:
    """Bring the schema of the psycopg connection ``conn`` (autocommit) up to date; returns the
    version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        if version > len(PG_MIGRATIONS):
            raise StoreError(
                f"store {where} has schema version {version}, newer than this newsmon "
                f"({len(PG_MIGRATIONS)}); upgrade newsmon")
        for number, script in enumerate(PG_MIGRATIONS[version:], start=version + 1):
            # one script, one statement batch: psycopg sends it as a simple query (no parameters)
            conn.execute(script.encode())
            conn.execute("UPDATE schema_version SET version = %s", (number,))
            log.debug("store %s: migration %d applied", where, number)
    if version < len(PG_MIGRATIONS):
        log.info("store %s: migrated schema %d → %d", where, version, len(PG_MIGRATIONS))
    return len(PG_MIGRATIONS)


__all__ = ["PG_MIGRATIONS", "CHANGES_LOCK", "migrate_pg"]
