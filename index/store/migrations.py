"""Schema migrations of the store of record.

Each entry upgrades the schema by one version and runs as one whole script inside one
transaction (never split at ``;``, so trigger bodies are fine): a failing script leaves the
store at the version it had. Never edit a released entry; append a new one.
"""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from newsmon.index.core.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    """
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

    -- every URL we have decided about; 'stored' and 'rejected' are never fetched again
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

    -- conditional-GET validators of feeds, sitemaps and section pages
    CREATE TABLE feed_state (
        url TEXT PRIMARY KEY,
        source TEXT,
        etag TEXT,
        last_modified TEXT,
        last_status INTEGER,
        last_fetched TEXT,
        not_modified INTEGER NOT NULL DEFAULT 0,
        kind TEXT  -- what the listing turned out to be: rss, atom, sitemapindex, urlset, html…
    );

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        stats TEXT NOT NULL DEFAULT '{}'
    );

    CREATE TABLE fetch_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER,
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
    """,
    # 2: enrichment (embeddings, near-duplicate fingerprints, story membership)
    """
    -- one document vector per article, and the model that made it: vectors of two models are
    -- never compared; a model change replaces the row
    CREATE TABLE embeddings (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        chunks BLOB NOT NULL,
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
        signature BLOB NOT NULL,
        text_hash TEXT NOT NULL
    );

    CREATE TABLE story_members (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        story TEXT NOT NULL,
        lang TEXT,
        published TEXT,
        how TEXT NOT NULL,
        score REAL,
        via TEXT,
        assigned_at TEXT NOT NULL
    );
    CREATE INDEX story_members_story ON story_members(story);
    CREATE INDEX story_members_published ON story_members(published);
    """,
    # 3: the change feed, per-consumer cursors, the text search uses, the embedded search index
    """
    -- every insert, update or delete of an article, in order; a deletion leaves a tombstone
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        article_id TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        at TEXT NOT NULL
    );
    CREATE INDEX changes_article ON changes(article_id);

    -- how far each consumer (a search backend, an alert rule) has read the change feed
    CREATE TABLE cursors (
        name TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        updated_at TEXT
    );

    CREATE TRIGGER articles_changed_insert AFTER INSERT ON articles BEGIN
        INSERT INTO changes (article_id, op, at)
        VALUES (NEW.id, 'upsert', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER articles_changed_update AFTER UPDATE ON articles BEGIN
        INSERT INTO changes (article_id, op, at)
        VALUES (NEW.id, 'upsert', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER articles_changed_delete AFTER DELETE ON articles BEGIN
        INSERT INTO changes (article_id, op, at)
        VALUES (OLD.id, 'delete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    -- a new vector or story membership changes what search shows for the article
    CREATE TRIGGER embeddings_changed AFTER INSERT ON embeddings
    WHEN EXISTS (SELECT 1 FROM articles WHERE id = NEW.article_id) BEGIN
        INSERT INTO changes (article_id, op, at)
        VALUES (NEW.article_id, 'upsert', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER embeddings_replaced AFTER UPDATE ON embeddings
    WHEN EXISTS (SELECT 1 FROM articles WHERE id = NEW.article_id) BEGIN
        INSERT INTO changes (article_id, op, at)
        VALUES (NEW.article_id, 'upsert', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER story_members_changed AFTER INSERT ON story_members
    WHEN EXISTS (SELECT 1 FROM articles WHERE id = NEW.article_id) BEGIN
        INSERT INTO changes (article_id, op, at)
        VALUES (NEW.article_id, 'upsert', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER story_members_replaced AFTER UPDATE ON story_members
    WHEN EXISTS (SELECT 1 FROM articles WHERE id = NEW.article_id) BEGIN
        INSERT INTO changes (article_id, op, at)
        VALUES (NEW.article_id, 'upsert', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER story_members_removed AFTER DELETE ON story_members
    WHEN EXISTS (SELECT 1 FROM articles WHERE id = OLD.article_id) BEGIN
        INSERT INTO changes (article_id, op, at)
        VALUES (OLD.article_id, 'upsert', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;

    -- articles stored before the feed existed are in it once
    INSERT INTO changes (article_id, op, at)
        SELECT id, 'upsert', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM articles ORDER BY id;

    -- the text both search backends rank: NFKC-normalised title and body, and the tokens of
    -- enrich's tokenizer (Sudachi for Japanese, Snowball stems for English) joined by spaces
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

    -- the embedded search backend (newsmon.index.search.embedded): one row per indexed article,
    -- FTS5 over the tokens (BM25), the document vector for exact or ANN search
    CREATE TABLE search_docs (
        rowid INTEGER PRIMARY KEY,
        article_id TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        lang TEXT,
        source TEXT NOT NULL,
        published TEXT,
        story TEXT,
        topics TEXT NOT NULL DEFAULT '{}',
        entities TEXT NOT NULL DEFAULT '[]',
        model TEXT,
        vector BLOB,
        gen INTEGER NOT NULL DEFAULT 0  -- build generation: a rebuild replaces rows in place
    );
    CREATE INDEX search_docs_story ON search_docs(story);
    CREATE VIRTUAL TABLE search_fts USING fts5(
        title, body,
        tokenize="unicode61 remove_diacritics 0 tokenchars '+'"
    );
    CREATE TABLE search_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 4: the alert outbox (index/store/repos/alerts.py): decided alerts, the articles each one covers,
    # one delivery per channel, source-health state
    """
    -- one row per decided alert; kind 'baseline' rows are stories a rule found at its first run and
    -- stays silent about (they have no deliveries)
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('match', 'baseline', 'digest', 'health', 'recovery')),
        story TEXT,
        article_id TEXT,
        score REAL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        run_id INTEGER
    );
    CREATE INDEX alerts_rule ON alerts(rule, kind);

    -- every article a rule has attached to an alert: the one that fired it, and the copies, URL
    -- variants and other-language coverage seen with it or after it ("also covered by")
    CREATE TABLE alert_articles (
        rule TEXT NOT NULL,
        article_id TEXT NOT NULL,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        role TEXT NOT NULL CHECK (role IN ('trigger', 'also')),
        added_at TEXT NOT NULL,
        PRIMARY KEY (rule, article_id)
    );
    CREATE INDEX alert_articles_alert ON alert_articles(alert_id);

    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
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

    -- what source health last told the user about each source
    CREATE TABLE source_health (
        source TEXT PRIMARY KEY,
        condition TEXT NOT NULL CHECK (condition IN ('ok', 'failing', 'silent')),
        since TEXT NOT NULL,
        detail TEXT,
        alert_id INTEGER,
        updated_at TEXT NOT NULL
    );
    """,
    # 5: per-source boilerplate memory (newsmon.index.store.repos.boilerplate)
    """
    -- per source: in how many of its articles each normalised line was seen
    CREATE TABLE source_blocks (
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        sample TEXT NOT NULL,
        articles INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (source, key)
    );
    -- the articles whose lines are counted in source_blocks
    CREATE TABLE source_block_articles (
        article_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        counted_at TEXT NOT NULL
    );
    CREATE INDEX source_block_articles_source ON source_block_articles(source);
    """,
    # 6: runs with pid and host, one row per step of a run (index/store/repos/runs.py)
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    CREATE TABLE run_steps (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_s REAL,
        exit_code INTEGER,
        counts TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, stage)
    );
    CREATE INDEX runs_status ON runs(status);
""",
    # 7: crawl health per source (index/store/repos/health.py) and store chores (quick check)
    """
    CREATE TABLE crawl_health (
        source TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        last_run_id INTEGER,
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
""",
    # 8: when each alert rule was first seen, and its baseline (index/store/repos/alerts.py)
    """
    -- a rule's baseline is what was stored before it was first seen (the change feed's head
    -- then, 0 when the store was empty: a fresh store's first crawl is the sites' backlog)
    CREATE TABLE alert_rules (
        rule TEXT PRIMARY KEY,
        first_seen_at TEXT NOT NULL,
        first_seen_seq INTEGER NOT NULL,
        baseline_at TEXT,
        baseline_stories INTEGER
    );
""",
]


def migrate(db: sqlite3.Connection, path: Path | str) -> int:
    """Bring the schema of ``db`` (autocommit connection) up to date; returns the version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StoreError(
            f"store {path} has schema version {version}, newer than this newsmon "
            f"({len(MIGRATIONS)}); upgrade newsmon"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript runs the whole text (trigger bodies included) in the transaction we
        # open in the same script; on an error it stops there and we roll back
        try:
            db.executescript(f"BEGIN IMMEDIATE;\n{script}\n;PRAGMA user_version={number};\nCOMMIT;")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"store {path}: migration {number} failed: {exc}") from exc
        log.debug("store %s: migration %d applied", path, number)
    if version < len(MIGRATIONS):
        # one line for the whole climb: a new store takes every step at once
        log.info("store %s: migrated schema %d → %d", path, version, len(MIGRATIONS))
    return len(MIGRATIONS)


__all__ = ["MIGRATIONS", "migrate"]
