"""Alerts in the store (migration 4): the outbox: decided alerts, the articles each one covers,
and one delivery per channel.

An alert is decided once: ``alerts.key`` is unique (``rule:<rule>:story:<story>`` for a rule
match, ``health:<source>:<condition>:<since>`` for source health), so a second decision about the
same story is refused by the database, not by care in the caller. ``alert_articles`` remembers
every article a rule has looked at and attached to an alert (or to its silent baseline): an
article already seen never alerts its rule again, even when re-enrichment later moves it to
another story. ``deliveries`` is the outbox proper: one row per (alert, channel), written in the
same transaction as the alert and the rule's watermark, carrying the idempotency key that the
webhook header, the JSON field and the email Message-ID repeat, so a receiver can drop the rare
second copy sent after a crash between sending and recording.

Delivery states: ``pending`` (not yet sent, or failed in fewer than ``max_attempts`` runs),
``sent``, ``parked`` (failed ``max_attempts`` runs; `newsmon alert --retry` makes it pending).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from newsmon.index.core.times import now_iso
from newsmon.index.store.dialect import Connection
from newsmon.index.store.repos import Repo, chunked, inserted_id, marks

PENDING, SENT, PARKED = "pending", "sent", "parked"


def idempotency_key(alert_key: str, channel: str) -> str:
    """Stable per (alert, channel): the same value on every retry and after a crash."""
    return hashlib.sha256(f"{alert_key}\x1f{channel}".encode()).hexdigest()[:32]


@dataclass(slots=True)
class NewAlert:
    key: str
    rule: str
    kind: str
    payload: dict[str, Any]
    story: str | None = None
    article_id: str | None = None
    score: float | None = None
    # article id -> role ('trigger' | 'also'), recorded under (rule, article)
    articles: dict[str, str] | None = None
    # channel key -> channel spec (JSON-ready); none for a baseline
    channels: dict[str, dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class RuleSeen:
    """When a rule was first seen (the change feed's head then) and its baseline, if any."""

    rule: str
    first_seen_at: str
    first_seen_seq: int
    baseline_at: str | None
    baseline_stories: int | None


@dataclass(slots=True)
class Delivery:
    id: int
    alert_id: int
    alert_key: str
    channel: str
    spec: dict[str, Any]
    idempotency_key: str
    state: str
    attempts: int
    last_error: str | None
    payload: dict[str, Any]
    kind: str
    rule: str


class AlertRepo(Repo):
    """The alert tables (migration 4) over the store's one connection."""

    # -- decisions ------------------------------------------------------------------------------
    def deciding(self, rule: str) -> AbstractContextManager[bool]:
        """Held while one process decides ``rule`` (reads its watermark, searches, records):
        a second process on the same PostgreSQL store waits, then reads the watermark the first
        moved, so two machines never decide the same changes twice. Without it both would
        decide the same stories and the second's insert would fail on the unique key."""
        return self._store.exclusive(f"newsmon:alerts:rule:{rule}")

    def seen_articles(self, rule: str, ids: Iterable[str], *, baseline: bool = True
                      ) -> dict[str, int]:
        """article id -> alert id, for those of ``ids`` the rule has already attached
        (``baseline=False``: leaving out those attached to its baseline, as a backfill does)."""
        kinds = "('match','digest','baseline')" if baseline else "('match','digest')"
        return {r[0]: r[1] for r in self._rows_in(
            f"""SELECT aa.article_id, aa.alert_id FROM alert_articles aa
                JOIN alerts a ON a.id = aa.alert_id AND a.kind IN {kinds}
                WHERE aa.rule = ? AND aa.article_id IN ({{ids}})""", ids, rule)}

    def story_alerts(self, rule: str, stories: Iterable[str], *, baseline: bool = True
                     ) -> dict[str, int]:
        """story -> alert id (match or baseline) for those of ``stories`` the rule decided."""
        kinds = "('match','baseline')" if baseline else "('match')"
        out: dict[str, int] = {}
        for chunk in chunked(stories):
            out.update((r[0], r[1]) for r in self._db.execute(
                f"""SELECT story, id FROM alerts WHERE rule = ? AND kind IN {kinds}
                    AND story IN ({marks(len(chunk))})""", [rule, *chunk]))
        return out

    # -- rules: first sight and baseline --------------------------------------------------------
    def rules_seen(self) -> dict[str, RuleSeen]:
        """rule id -> when it was first seen and what its baseline holds."""
        return {r["rule"]: RuleSeen(r["rule"], r["first_seen_at"], r["first_seen_seq"],
                                    r["baseline_at"], r["baseline_stories"])
                for r in self._db.execute("SELECT * FROM alert_rules ORDER BY rule")}

    def see_rules(self, rules: Iterable[str], seq: int) -> list[str]:
        """Record the rules not seen before as first seen now, at change-feed position ``seq``;
        returns those that were new."""
        now = now_iso()
        new = []
        with self._tx() as db:
            for rule in rules:
                if db.execute("INSERT INTO alert_rules (rule, first_seen_at, first_seen_seq) "
                              "VALUES (?,?,?) ON CONFLICT(rule) DO NOTHING",
                              (rule, now, int(seq))).rowcount:
                    new.append(rule)
        return new

    def add_baseline(self, rule: str, stories: int) -> None:
        """Record the rule's baseline, or more stories in it (inside the caller's transaction,
        with its alerts): ``baseline_at`` is when it was first recorded."""
        with self._tx() as db:
            db.execute("""UPDATE alert_rules SET baseline_at = COALESCE(baseline_at, ?),
                              baseline_stories = COALESCE(baseline_stories, 0) + ?
                          WHERE rule = ?""", (now_iso(), stories, rule))

    def drop_baseline(self, rule: str) -> int:
        """Forget the rule's silent baseline so a backfill alerts on those stories; returns how
        many baseline stories were dropped. Alerts it sent stay: they are never sent again."""
        with self._tx() as db:
            db.execute("""DELETE FROM alert_articles WHERE alert_id IN (
                              SELECT id FROM alerts WHERE rule = ? AND kind = 'baseline')""",
                       (rule,))
            dropped = db.execute("DELETE FROM alerts WHERE rule = ? AND kind = 'baseline'",
                                 (rule,)).rowcount
            db.execute("UPDATE alert_rules SET baseline_stories = 0 WHERE rule = ?", (rule,))
        return int(dropped)

    def record(self, alerts: Iterable[NewAlert], *, also: Iterable[tuple[str, str, int]] = (),
               run_id: int | None = None) -> list[int]:
        """Write decided alerts, their articles and deliveries (inside the caller's
        ``store.transaction()``, with the rule's watermark).

        ``also`` is (rule, article id, existing alert id): later coverage of a decided story.
        A second alert under a key already decided raises the engine's integrity error, rolling back
        the caller's transaction (watermark included).
        """
        with self._tx() as db:
            return self._record(db, alerts, also, run_id)

    def _record(self, db: Connection, alerts: Iterable[NewAlert],
                also: Iterable[tuple[str, str, int]], run_id: int | None) -> list[int]:
        now = now_iso()
        ids = []
        for a in alerts:
            cur = db.execute(
                """INSERT INTO alerts (key, rule, kind, story, article_id, score, payload,
                       created_at, run_id) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id""",
                (a.key, a.rule, a.kind, a.story, a.article_id, a.score,
                 json.dumps(a.payload, ensure_ascii=False, default=str), now, run_id))
            alert_id = inserted_id(cur)
            ids.append(alert_id)
            db.executemany(
                """INSERT INTO alert_articles (rule, article_id, alert_id, role, added_at)
                   VALUES (?,?,?,?,?) ON CONFLICT(rule, article_id) DO NOTHING""",
                [(a.rule, art, alert_id, role, now) for art, role in (a.articles or {}).items()])
            db.executemany(
                """INSERT INTO deliveries (alert_id, channel, spec, idempotency_key, state,
                       created_at) VALUES (?,?,?,?,'pending',?)""",
                [(alert_id, ch, json.dumps(spec, ensure_ascii=False), idempotency_key(a.key, ch),
                  now) for ch, spec in (a.channels or {}).items()])
        db.executemany(
            """INSERT INTO alert_articles (rule, article_id, alert_id, role, added_at)
               VALUES (?,?,?,'also',?) ON CONFLICT(rule, article_id) DO NOTHING""",
            [(rule, art, alert_id, now) for rule, art, alert_id in also])
        return ids

    def has_alert(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM alerts WHERE key = ?", (key,)).fetchone() is not None

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["payload"] = json.loads(out["payload"])
        return out

    def alerts(self, *, rule: str | None = None, kinds: Iterable[str] = ("match", "digest",
               "health", "recovery")) -> list[dict[str, Any]]:
        kinds = list(kinds)
        sql = f"SELECT * FROM alerts WHERE kind IN ({','.join('?' * len(kinds))})"
        params: list[Any] = list(kinds)
        if rule is not None:
            sql += " AND rule = ?"
            params.append(rule)
        out = []
        for row in self._db.execute(sql + " ORDER BY id", params):
            d = dict(row)
            d["payload"] = json.loads(d["payload"])
            out.append(d)
        return out

    def feed_alerts(self, *, limit: int, channel: str | None = None, rule: str | None = None,
                    including: int | None = None) -> list[dict[str, Any]]:
        """The newest alerts of an Atom feed, newest first, payloads parsed.

        With ``channel``: the alerts delivered to that channel (sent, plus the delivery
        ``including``, which is being sent now), whatever their kind. Without: the rule's match
        alerts (every rule's when ``rule`` is None), whatever channels they went to, as
        `newsmon serve` lists them; digests are made of those matches."""
        params: list[Any] = []
        if channel is not None:
            sql = """SELECT a.* FROM alerts a WHERE EXISTS (
                         SELECT 1 FROM deliveries d WHERE d.alert_id = a.id AND d.channel = ?
                         AND (d.state = 'sent' OR d.id = ?))"""
            params += [channel, -1 if including is None else including]
        else:
            sql = "SELECT a.* FROM alerts a WHERE a.kind = 'match'"
        if rule is not None:
            sql += " AND a.rule = ?"
            params.append(rule)
        out = []
        for row in self._db.execute(sql + " ORDER BY a.id DESC LIMIT ?", [*params, limit]):
            d = dict(row)
            d["payload"] = json.loads(d["payload"])
            out.append(d)
        return out

    def history(self, *, rule: str | None = None, since: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
        """The newest decided alerts (not baselines), newest first, each with its deliveries
        (channel, state, attempts, sent_at, last_attempt_at, last_error) in channel order.
        ``since``: alerts created at or after this UTC ISO instant."""
        sql = ("SELECT * FROM alerts WHERE kind IN ('match', 'digest', 'health', 'recovery')")
        params: list[Any] = []
        if rule is not None:
            sql += " AND rule = ?"
            params.append(rule)
        if since is not None:
            sql += " AND created_at >= ?"
            params.append(since)
        alerts = []
        for row in self._db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]):
            d = dict(row)
            d["payload"] = json.loads(d["payload"])
            d["deliveries"] = []
            alerts.append(d)
        by_id = {a["id"]: a for a in alerts}
        for r in self._rows_in(
                """SELECT alert_id, channel, state, attempts, sent_at, last_attempt_at,
                          last_error FROM deliveries WHERE alert_id IN ({ids})
                   ORDER BY alert_id, channel""", list(by_id)):
            delivery = dict(r)
            by_id[delivery.pop("alert_id")]["deliveries"].append(delivery)
        return alerts

    def alert_rules(self) -> list[str]:
        """Every rule that has decided an alert (or a baseline), sorted."""
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT rule FROM alerts WHERE kind IN ('match', 'baseline', 'digest') "
            "ORDER BY rule")]

    def also_articles(self, alert_id: int) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT article_id FROM alert_articles WHERE alert_id = ? AND role = 'also' "
            "ORDER BY added_at, article_id", (alert_id,))]

    # -- deliveries -----------------------------------------------------------------------------
    def deliveries(self, *, states: Iterable[str] = (PENDING,), rule: str | None = None
                   ) -> list[Delivery]:
        states = list(states)
        sql = f"""SELECT d.*, a.key AS alert_key, a.payload, a.kind, a.rule FROM deliveries d
                  JOIN alerts a ON a.id = d.alert_id
                  WHERE d.state IN ({','.join('?' * len(states))})"""
        params: list[Any] = list(states)
        if rule is not None:
            sql += " AND a.rule = ?"
            params.append(rule)
        return [Delivery(
            id=r["id"], alert_id=r["alert_id"], alert_key=r["alert_key"], channel=r["channel"],
            spec=json.loads(r["spec"]), idempotency_key=r["idempotency_key"], state=r["state"],
            attempts=r["attempts"], last_error=r["last_error"], payload=json.loads(r["payload"]),
            kind=r["kind"], rule=r["rule"],
        ) for r in self._db.execute(sql + " ORDER BY d.id", params)]

    @contextmanager
    def claim(self, delivery: Delivery) -> Iterator[bool]:
        """Whether this process may send ``delivery`` now: no other process is sending it and
        it is still pending (another may have sent it since this one listed the outbox). Not
        waiting: the holder is sending it already; it stays pending if that one fails."""
        with self._store.exclusive(f"newsmon:alerts:delivery:{delivery.id}",
                                   wait=False) as held:
            if held:
                row = self._db.execute("SELECT state FROM deliveries WHERE id = ?",
                                       (delivery.id,)).fetchone()
                held = row is not None and row[0] == PENDING
            yield held

    def mark_sent(self, delivery_id: int) -> None:
        now = now_iso()
        with self._tx() as db:
            db.execute("""UPDATE deliveries SET state='sent', sent_at=?, last_attempt_at=?,
                              last_error=NULL WHERE id=?""", (now, now, delivery_id))

    def mark_failed(self, delivery_id: int, error: str, *, max_attempts: int) -> str:
        """Count one failed run of a delivery; park it at ``max_attempts``. Returns its state."""
        with self._tx() as db:
            db.execute(
                """UPDATE deliveries SET attempts = attempts + 1, last_error = ?,
                       last_attempt_at = ?,
                       state = CASE WHEN attempts + 1 >= ? THEN 'parked' ELSE 'pending' END
                   WHERE id = ?""", (error[:2000], now_iso(), max_attempts, delivery_id))
            row = db.execute("SELECT state FROM deliveries WHERE id=?", (delivery_id,)).fetchone()
        return str(row[0])

    def unpark(self, *, rule: str | None = None) -> int:
        """Make parked deliveries pending again (`newsmon alert --retry`); returns how many."""
        with self._tx() as db:
            if rule is None:
                cur = db.execute("UPDATE deliveries SET state='pending', attempts=0 "
                                 "WHERE state='parked'")
            else:
                cur = db.execute(
                    """UPDATE deliveries SET state='pending', attempts=0 WHERE state='parked'
                       AND alert_id IN (SELECT id FROM alerts WHERE rule = ?)""", (rule,))
            return int(cur.rowcount)

    def delivery_counts(self) -> dict[str, dict[str, int]]:
        """channel -> {pending, sent, parked} for `newsmon status`."""
        out: dict[str, dict[str, int]] = {}
        for r in self._db.execute(
                "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state"):
            out.setdefault(r[0], {PENDING: 0, SENT: 0, PARKED: 0})[r[1]] = r[2]
        return out

    def parked(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._db.execute(
            """SELECT d.id, d.channel, d.attempts, d.last_error, d.last_attempt_at, a.rule,
                      a.key AS alert_key FROM deliveries d JOIN alerts a ON a.id = d.alert_id
               WHERE d.state = 'parked' ORDER BY d.id""")]

    # -- source health --------------------------------------------------------------------------
    def health(self) -> dict[str, dict[str, Any]]:
        return {r["source"]: dict(r) for r in self._db.execute("SELECT * FROM source_health")}

    def set_health(self, source: str, condition: str, since: str, detail: str | None,
                   alert_id: int | None) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO source_health (source, condition, since, detail, alert_id,
                       updated_at) VALUES (?,?,?,?,?,?)
                   ON CONFLICT(source) DO UPDATE SET condition=excluded.condition,
                       since=excluded.since, detail=excluded.detail, alert_id=excluded.alert_id,
                       updated_at=excluded.updated_at""",
                (source, condition, since, detail, alert_id, now_iso()))


__all__ = ["AlertRepo", "NewAlert", "Delivery", "RuleSeen", "idempotency_key",
           "PENDING", "SENT", "PARKED"]
