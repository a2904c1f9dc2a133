"""Rule evaluation: what a rule decides about the articles that changed since its watermark.

A rule reads the change feed after its cursor (``rule:<id>``), up to what the search backend has
indexed (its cursor ``backend:<name>``), runs its saved search restricted to those articles
(``SearchRequest(ids=...)``) and keeps hits at or above ``min_score``. Then, per story:

- an article the rule has already attached to an alert (or to its baseline) is skipped, so
  re-enrichment that moves it to another story never re-alerts;
- a story the rule already alerted on (or saw at its baseline) gets the article as "also
  covered by" (syndicated copies, URL variants, the other language's report);
- a new story alerts once, through its best-scoring article, with the story's other coverage
  attached. The unique key ``rule:<id>:story:<story>`` makes "once" a database fact.

The first evaluation of a rule is its baseline: it records the stories that match today without
sending anything (unless ``backfill``), so a new rule never floods the user with old coverage.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newsmon.alerts.rules import Rule
from newsmon.index.store.repos.alerts import AlertRepo, NewAlert

log = logging.getLogger(__name__)

FEED_PAGE = 1000
SEARCH_BATCH = 100  # the search API's largest page
PASSAGE_CHARS = 200
# A matched "term" written only in hiragana is a particle or an inflection (の, は, する), not a
# reason: left out of "why".
HIRAGANA_ONLY = re.compile(r"^[\u3041-\u309f]+$")


@dataclass(slots=True)
class RuleDecision:
    rule: Rule
    start: int
    watermark: int
    baseline: bool
    candidates: int = 0
    matched: int = 0
    alerts: list[NewAlert] = field(default_factory=list)
    also: list[tuple[str, str, int]] = field(default_factory=list)   # (rule, article, alert id)
    updates: list[dict[str, Any]] = field(default_factory=list)      # also-coverage, for digests

    def summary(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "from": self.start, "watermark": self.watermark,
                "candidates": self.candidates, "matched": self.matched,
                "alerts": sum(a.kind in ("match", "digest") for a in self.alerts),
                "digest_items": sum(len(a.payload.get("items", [])) for a in self.alerts
                                    if a.kind == "digest"),
                "baseline_stories": sum(a.kind == "baseline" for a in self.alerts),
                "also": len(self.also)}


def changed_ids(store: Any, start: int, end: int) -> list[str]:
    """Article ids upserted in (start, end] of the change feed, each once, oldest first."""
    seen: dict[str, None] = {}
    position = start
    while position < end:
        page = store.changes.since(position, FEED_PAGE)
        if not page:
            break
        for change in page:
            if change.seq > end:
                position = end
                break
            position = change.seq
            if change.op == "upsert":
                seen[change.article_id] = None
            else:
                seen.pop(change.article_id, None)
    return list(seen)


def brief(article: Any) -> dict[str, Any]:
    """The short form of an article listed under "also covered by"."""
    return {"id": article.id, "url": article.canonical_url or article.url,
            "title": article.title, "lang": article.lang,
            "source": article.source,
            "published": article.published.isoformat() if article.published else None}


def export_dict(article: Any) -> dict[str, Any]:
    """The article as `newsmon export` writes it (DESIGN.md's file channel format)."""
    return article.to_dict()


def _why(match: Any, article: Any, rule: Rule) -> dict[str, Any]:
    hit = match.hit
    terms = [t for t in (getattr(hit, "matched", None) or [])
             if t and not HIRAGANA_ONLY.match(t)]
    snippet = getattr(hit, "snippet", "") or ""
    passage = (snippet.replace("<mark>", "").replace("</mark>", "")
               .replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
               .replace("&#x27;", "'").replace("&amp;", "&"))
    topics = {}
    for name, info in (article.topics or {}).items():
        if not isinstance(info, dict) or not info.get("label"):
            continue
        evidence = []
        for ev in info.get("evidence") or []:
            term = ev.get("term") if isinstance(ev, dict) else ev
            if term and term not in evidence:
                evidence.append(term)
        topics[name] = {"score": round(float(info.get("score", 0.0)), 3),
                        "evidence": evidence[:6]}
    if rule.topics or rule.topics_any:
        wanted = {t for t, _ in rule.topics} | set(rule.topics_any)
        topics = {k: v for k, v in topics.items() if k in wanted} or topics
    return {"terms": terms[:12], "passage": passage[:PASSAGE_CHARS].strip(),
            "topics": topics, "score": round(float(match.score), 4), "mode": rule.mode,
            "min_score": rule.min_score}


@dataclass(slots=True)
class Match:
    """A search hit that passed the rule, with the score the rule's ``min_score`` is about."""

    hit: Any
    score: float

    @property
    def id(self) -> str:
        return self.hit.id


def alert_score(rule: Rule, hit: Any, query_terms: set[str], doc_terms: set[str] | None
                ) -> float | None:
    """The absolute score a rule's ``min_score`` is compared with.

    - semantic and hybrid: the cosine similarity of the article's vector to the query (hybrid's
      fused rank says how a hit ranks among others, not how close it is);
    - keyword: the share of the query's distinct terms (normalised tokens, as the index
      compares them) found in the article's title or body.
    """
    if rule.mode == "keyword":
        if not query_terms or doc_terms is None:
            return None
        return len(query_terms & doc_terms) / len(query_terms)
    return None if hit.similarity is None else float(hit.similarity)


def labelled(article: Any, topic: str) -> bool:
    """Whether the article carries the topic as a label (not merely a score)."""
    info = (article.topics or {}).get(topic)
    return isinstance(info, dict) and bool(info.get("label"))


def mentions(article: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in article.entities or []:
        if isinstance(e, dict) and e.get("id"):
            out[e["id"]] = out.get(e["id"], 0) + int(e.get("count") or 1)
    return out


def search_ids(searcher: Any, store: Any, rule: Rule, ids: list[str],
               articles: dict[str, Any]) -> list[Match]:
    """Matches of the rule's saved search among ``ids`` at or above its ``min_score``."""
    from newsmon.app.search import SearchRequest
    from newsmon.app.searchtext import query_tokens

    query_terms = set(query_tokens(rule.query)) if rule.mode == "keyword" else set()
    min_topic = next((m for _, m in rule.topics if m is not None), None)
    out = []
    for start in range(0, len(ids), SEARCH_BATCH):
        chunk = tuple(ids[start:start + SEARCH_BATCH])
        hits = searcher.search(SearchRequest(
            query=rule.query, mode=rule.mode,  # type: ignore[arg-type]
            lang=rule.langs[0] if len(rule.langs) == 1 else None,
            topics=tuple(t for t, _ in rule.topics), min_topic_score=min_topic,
            sources=rule.sources, entities=tuple(e for e, _ in rule.entities),
            limit=len(chunk), collapse=False, ids=chunk)).results
        texts = (store.search_text.get_many([h.id for h in hits]) if rule.mode == "keyword"
                 else {})
        for hit in hits:
            article = articles.get(hit.id)
            if article is None:
                continue
            counts = mentions(article)
            if any(counts.get(e, 0) < n for e, n in rule.entities):
                continue
            if rule.topics_any and not any(labelled(article, t) for t in rule.topics_any):
                continue
            text = texts.get(hit.id)
            doc_terms = (set(f"{text.title_tokens} {text.body_tokens}".split())
                         if text is not None else None)
            score = alert_score(rule, hit, query_terms, doc_terms)
            if score is not None and score >= rule.min_score:
                out.append(Match(hit, score))
    return out


def decide_rule(rule: Rule, store: Any, repo: AlertRepo, searcher: Any, *, end: int,
                first: bool, backfill: bool, now: datetime) -> RuleDecision:
    """What the rule decides about the changes up to ``end`` (nothing is written here)."""
    start = 0 if (first or backfill) else store.cursors.get(rule.cursor)
    baseline = first and not backfill
    decision = RuleDecision(rule, start, max(start, end), baseline)
    if end <= start:
        return decision
    ids = changed_ids(store, start, end)
    # enrich's story is what alerts are per; an article not enriched yet comes back through
    # the feed when enrichment writes it
    articles = {a.id: a for a in store.articles.get_many(ids) if a.story}
    ids = [i for i in ids if i in articles]
    decision.candidates = len(ids)
    if not ids:
        return decision
    hits = search_ids(searcher, store, rule, ids, articles)
    decision.matched = len(hits)
    seen = repo.seen_articles(rule.id, [h.id for h in hits])
    hits = [h for h in hits if h.id not in seen and h.id in articles]
    stories = {h.id: articles[h.id].story for h in hits}
    decided = repo.story_alerts(rule.id, set(stories.values()))
    by_story: dict[str, list[Any]] = {}
    for hit in hits:
        story = stories[hit.id]
        if story in decided:
            decision.also.append((rule.id, hit.id, decided[story]))
            decision.updates.append({**brief(articles[hit.id]), "story": story})
            continue
        by_story.setdefault(story, []).append(hit)
    stamp = now.isoformat(timespec="seconds")
    channels = {c.key: c.to_spec() for c in rule.channels}
    items = []
    for story, group in by_story.items():
        group.sort(key=lambda h: -h.score)
        best = group[0]
        article = articles[best.id]
        others = [i for i in store.vectors.story_members(story) if i != best.id]
        also = [brief(a) for a in store.articles.get_many(others)]
        payload = {
            "type": "match", "rule": rule.id, "rule_description": rule.description,
            "story": story, "article": export_dict(article), "score": round(best.score, 4),
            "alerted_at": stamp, "why": _why(best, article, rule), "also": also,
        }
        roles = {h.id: ("trigger" if h is best else "also") for h in group}
        kind = "baseline" if baseline else "match"
        decision.alerts.append(NewAlert(
            key=f"rule:{rule.id}:story:{story}", rule=rule.id, kind=kind, payload=payload,
            story=story, article_id=best.id, score=best.score, articles=roles,
            channels=None if baseline or rule.digest == "per_run" else channels))
        items.append(payload)
    if rule.digest == "per_run" and not baseline and (items or decision.updates):
        decision.alerts.append(NewAlert(
            key=f"rule:{rule.id}:digest:{start}-{end}", rule=rule.id, kind="digest",
            payload={"type": "digest", "rule": rule.id, "rule_description": rule.description,
                     "items": items, "updates": decision.updates, "alerted_at": stamp},
            channels=channels))
    return decision


__all__ = ["decide_rule", "changed_ids", "search_ids", "RuleDecision"]
