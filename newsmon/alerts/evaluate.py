"""Rule evaluation: what a rule decides about the articles that changed since its watermark.

A rule reads the change feed after its cursor (``rule:<id>``), up to what the search backend has
indexed (its cursor ``backend:<name>``), runs its saved search restricted to those articles
(``SearchRequest(ids=...)``) and keeps hits whose relevance (newsmon.app.search: 0..1, the chance
the article is about the query) is at least the rule's threshold — ``min_score`` where the rule
sets one, else ALERT_RELEVANCE. Then, per story:

- an article the rule has already attached to an alert (or to its baseline) is skipped, so
  re-enrichment that moves it to another story never re-alerts;
- a story the rule already alerted on (or saw at its baseline) gets the article as "also
  covered by" (syndicated copies, URL variants, the other language's report);
- a new story alerts once, through its best-scoring article, with the story's other coverage
  attached. The unique key ``rule:<id>:story:<story>`` makes "once" a database fact.

The first evaluation of a rule records its baseline: the matching stories of articles stored
before the rule was first seen (``alert_rules.first_seen_seq``, the change feed's head when a
run first loaded it) are recorded without sending anything, so a new rule never floods the user
with old coverage; articles stored after that alert as usual, even when they arrived in the very
run that evaluates the rule first. A rule first seen on an empty store baselines everything its
first evaluation finds (a fresh store's first crawl is the sites' backlog). ``backfill`` records
no baseline (and drops one already recorded): every stored match alerts.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

from newsmon.alerts.rules import Mode, Rule
from newsmon.alerts.why import why_terms
from newsmon.index.core.article import Article
from newsmon.index.core.titles import display_title
from newsmon.index.store import StoreBase
from newsmon.index.store.repos.alerts import AlertRepo, NewAlert

if TYPE_CHECKING:
    # types only: the search stack (numpy, the backends) loads when a rule is evaluated
    from newsmon.app.search import SearchRequest

log = logging.getLogger(__name__)

FEED_PAGE = 1000
SEARCH_BATCH = 100  # the search API's largest page
PASSAGE_CHARS = 200


class RuleHit(Protocol):
    """What evaluation reads of a search hit (``SearchHit`` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def similarity(self) -> float | None: ...  # cosine to the query; None in keyword mode
    @property
    def relevance(self) -> float: ...          # calibrated, 0..1
    @property
    def z(self) -> float | None: ...           # above its language's background, in SDs
    @property
    def evidence(self) -> float: ...           # share of the query's terms it holds
    @property
    def matched(self) -> Sequence[str]: ...    # the query terms as the article spells them
    @property
    def snippet(self) -> str: ...              # HTML-escaped, matches in <mark>


class RuleHits(Protocol):
    @property
    def results(self) -> Sequence[RuleHit]: ...


class RuleSearch(Protocol):
    """The search a rule runs: its saved search restricted to the changed articles. Only this
    is asked of search, so evaluation works over any searcher built on the run's store
    (``Searcher(settings, store=store)``) and tests can hand in their own."""

    def search(self, req: SearchRequest) -> RuleHits: ...


class Brief(TypedDict):
    """An article listed under "also covered by" (JSON in alert payloads)."""

    id: str
    url: str
    title: str
    lang: str | None
    source: str
    published: str | None


class StoryUpdate(Brief):
    """More coverage of a story the rule already alerted on (a digest's "updates")."""

    story: str


class TopicWhy(TypedDict):
    score: float
    evidence: list[str]


class Why(TypedDict):
    """Why an article alerted: the terms, the closest passage, the topics and the score."""

    terms: list[str]
    passage: str
    topics: dict[str, TopicWhy]
    score: float          # the article's relevance
    mode: Mode
    min_score: float      # the threshold it passed (the rule's min_score or the default)


class MatchPayload(TypedDict):
    """A match alert as stored, rendered and written by the file channel."""

    type: Literal["match"]
    rule: str
    rule_description: str
    story: str
    article: dict[str, Any]
    score: float
    alerted_at: str
    why: Why
    also: list[Brief]


class DigestPayload(TypedDict):
    type: Literal["digest"]
    rule: str
    rule_description: str
    items: list[MatchPayload]
    updates: list[StoryUpdate]
    alerted_at: str


# "from" is a keyword, hence the functional form
RuleSummary = TypedDict("RuleSummary", {
    "baseline": bool, "from": int, "watermark": int, "candidates": int, "matched": int,
    "alerts": int, "digest_items": int, "baseline_stories": int, "also": int})


def _json(payload: MatchPayload | DigestPayload) -> dict[str, Any]:
    # the outbox keeps payloads as plain JSON objects; to mypy a TypedDict is not a dict[str, Any]
    return dict(payload)


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
    updates: list[StoryUpdate] = field(default_factory=list)        # also-coverage, for digests

    def summary(self) -> RuleSummary:
        return {"baseline": self.baseline, "from": self.start, "watermark": self.watermark,
                "candidates": self.candidates, "matched": self.matched,
                "alerts": sum(a.kind in ("match", "digest") for a in self.alerts),
                "digest_items": sum(len(a.payload.get("items", [])) for a in self.alerts
                                    if a.kind == "digest"),
                "baseline_stories": sum(a.kind == "baseline" for a in self.alerts),
                "also": len(self.also)}


def changed_ids(store: StoreBase, start: int, end: int) -> list[str]:
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


def brief(article: Article) -> Brief:
    """The short form of an article listed under "also covered by"."""
    return {"id": article.id, "url": article.canonical_url or article.url,
            "title": display_title(article.title), "lang": article.lang,
            "source": article.source,
            "published": article.published.isoformat() if article.published else None}


def export_dict(article: Article) -> dict[str, Any]:
    """The article as `newsmon export` writes it (DESIGN.md's file channel format)."""
    return article.to_dict()


def _why(match: Match, article: Article, rule: Rule) -> Why:
    hit = match.hit
    terms = why_terms(hit.snippet or "", hit.matched)  # whole words, not the index's pieces
    snippet = hit.snippet or ""
    passage = (snippet.replace("<mark>", "").replace("</mark>", "")
               .replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
               .replace("&#x27;", "'").replace("&amp;", "&"))
    topics: dict[str, TopicWhy] = {}
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
            "min_score": rule.threshold}


@dataclass(slots=True)
class Match:
    """A search hit that passed the rule, with the score the rule's ``min_score`` is about."""

    hit: RuleHit
    score: float

    @property
    def id(self) -> str:
        return self.hit.id


def alert_score(rule: Rule, hit: RuleHit) -> float:
    """The score a rule's threshold is compared with: the hit's calibrated relevance, the same
    0..1 scale in every mode (keyword mode embeds the query for it too)."""
    return float(hit.relevance)


def labelled(article: Article, topic: str) -> bool:
    """Whether the article carries the topic as a label (not merely a score)."""
    info = (article.topics or {}).get(topic)
    return isinstance(info, dict) and bool(info.get("label"))


def mentions(article: Article) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in article.entities or []:
        if isinstance(e, dict) and e.get("id"):
            out[e["id"]] = out.get(e["id"], 0) + int(e.get("count") or 1)
    return out


def search_ids(searcher: RuleSearch, store: StoreBase, rule: Rule, ids: list[str],
               articles: Mapping[str, Article]) -> list[Match]:
    """Matches of the rule's saved search among ``ids`` at or above its ``min_score``."""
    from newsmon.app.search import SearchRequest

    min_topic = next((m for _, m in rule.topics if m is not None), None)
    out = []
    for start in range(0, len(ids), SEARCH_BATCH):
        chunk = tuple(ids[start:start + SEARCH_BATCH])
        hits = searcher.search(SearchRequest(
            query=rule.query, mode=rule.mode,
            lang=rule.langs[0] if len(rule.langs) == 1 else None,
            topics=tuple(t for t, _ in rule.topics), min_topic_score=min_topic,
            sources=rule.sources, entities=tuple(e for e, _ in rule.entities),
            limit=len(chunk), collapse=False, ids=chunk)).results
        for hit in hits:
            article = articles.get(hit.id)
            if article is None:
                continue
            counts = mentions(article)
            if any(counts.get(e, 0) < n for e, n in rule.entities):
                continue
            if rule.topics_any and not any(labelled(article, t) for t in rule.topics_any):
                continue
            score = alert_score(rule, hit)
            if score >= rule.threshold:
                out.append(Match(hit, score))
    return out


def decide_rule(rule: Rule, store: StoreBase, repo: AlertRepo, searcher: RuleSearch, *, end: int,
                first: bool, backfill: bool, now: datetime, seen_at: int = 0
                ) -> RuleDecision:
    """What the rule decides about the changes up to ``end`` (nothing is written here).

    ``seen_at`` is the change feed's head when the rule was first seen: stories of articles
    first stored at or before it are the silent baseline (on its first evaluation, all of them
    when it is 0, a rule first seen on an empty store)."""
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
    # a backfill looks again at what the baseline held back
    seen = repo.seen_articles(rule.id, [h.id for h in hits], baseline=not backfill)
    hits = [h for h in hits if h.id not in seen and h.id in articles]
    # every article kept has a story; the walrus only tells mypy so
    stories = {h.id: story for h in hits if (story := articles[h.id].story)}
    decided = repo.story_alerts(rule.id, set(stories.values()), baseline=not backfill)
    # the baseline: stories with an article stored before the rule was first seen; looked at on
    # every evaluation, not only the first, since the first may stop short of ``seen_at`` (the
    # search backend behind) and the next would otherwise alert on what it left
    old: set[str] = set()
    if not backfill and (seen_at or first):
        first_stored = store.changes.first_seen(stories)
        old = {story for art, story in stories.items()
               if seen_at == 0 or first_stored.get(art, 0) <= seen_at}
    by_story: dict[str, list[Match]] = {}
    for hit in hits:
        story = stories[hit.id]
        if story in decided:
            decision.also.append((rule.id, hit.id, decided[story]))
            decision.updates.append(StoryUpdate(**brief(articles[hit.id]), story=story))
            continue
        by_story.setdefault(story, []).append(hit)
    stamp = now.isoformat(timespec="seconds")
    channels = {c.key: c.to_spec() for c in rule.channels}
    items: list[MatchPayload] = []
    for story, group in by_story.items():
        group.sort(key=lambda h: -h.score)
        best = group[0]
        article = articles[best.id]
        others = [i for i in store.vectors.story_members(story) if i != best.id]
        also = [brief(a) for a in store.articles.get_many(others)]
        payload = MatchPayload(
            type="match", rule=rule.id, rule_description=rule.description,
            story=story, article=export_dict(article), score=round(best.score, 4),
            alerted_at=stamp, why=_why(best, article, rule), also=also,
        )
        roles = {h.id: ("trigger" if h is best else "also") for h in group}
        silent = story in old
        decision.alerts.append(NewAlert(
            key=f"rule:{rule.id}:story:{story}", rule=rule.id,
            kind="baseline" if silent else "match", payload=_json(payload),
            story=story, article_id=best.id, score=best.score, articles=roles,
            channels=None if silent or rule.digest == "per_run" else channels))
        if not silent:
            items.append(payload)
    if rule.digest == "per_run" and (items or decision.updates):
        decision.alerts.append(NewAlert(
            key=f"rule:{rule.id}:digest:{start}-{end}", rule=rule.id, kind="digest",
            payload=_json(DigestPayload(
                type="digest", rule=rule.id, rule_description=rule.description,
                items=items, updates=decision.updates, alerted_at=stamp)),
            channels=channels))
    return decision




class Explained(TypedDict):
    """One candidate of `newsmon alert --explain`: what the rule decided about it and why."""

    id: str
    title: str
    lang: str | None
    source: str
    story: str | None
    relevance: float | None
    z: float | None
    evidence: float | None
    terms: list[str]
    decision: str


def explain_rule(rule: Rule, store: StoreBase, repo: AlertRepo, searcher: RuleSearch, *, end: int,
                 backfill: bool) -> list[Explained]:
    """Every candidate of the rule's next evaluation (``backfill``: every stored article),
    best relevance first, with the decision: alert, already alerted (story or article),
    below the threshold, or which filter left it out. Nothing is written."""
    from newsmon.app.search import SearchRequest

    start = 0 if backfill else store.cursors.get(rule.cursor)
    ids = changed_ids(store, start, end) if end > start else []
    articles = {a.id: a for a in store.articles.get_many(ids)}
    scored: dict[str, RuleHit] = {}
    passed: set[str] = set()
    for chunk_start in range(0, len(ids), SEARCH_BATCH):
        chunk = tuple(ids[chunk_start:chunk_start + SEARCH_BATCH])
        base = dict(query=rule.query, mode=rule.mode, limit=len(chunk), collapse=False,
                    ids=chunk)
        for hit in searcher.search(SearchRequest(**base)).results:   # type: ignore[arg-type]
            scored[hit.id] = hit
        enriched = [i for i in chunk if i in articles and articles[i].story]
        passed.update(m.id for m in search_ids(searcher, store, rule, enriched, articles))
    filtered_in = {h.id for h in _filtered_hits(searcher, rule, ids)}
    seen = repo.seen_articles(rule.id, list(passed))
    stories = {i: a.story for i, a in articles.items() if a.story}
    decided = repo.story_alerts(rule.id, {stories[i] for i in passed if i in stories})
    out: list[Explained] = []
    for i in ids:
        art = articles.get(i)
        if art is None:
            continue
        found = scored.get(i)
        rel = None if found is None else float(found.relevance)
        if not art.story:
            decision = "not enriched yet"
        elif found is None:
            decision = "not matched by the query (keyword mode: no term in common)"
        elif i not in filtered_in:
            decision = "left out by the rule's lang/topics/sources/entities filters"
        elif i not in passed and rel is not None and rel < rule.threshold:
            decision = f"below the threshold {rule.threshold:g}"
        elif i not in passed:
            decision = "left out by entity counts or topics_any"
        elif i in seen:
            decision = "already alerted (this article)"
        elif art.story in decided:
            decision = "story already alerted: listed as also covered by"
        else:
            decision = "alert"
        out.append(Explained(
            id=i, title=art.title, lang=art.lang, source=art.source, story=art.story,
            relevance=None if rel is None else round(rel, 3),
            z=None if found is None or found.z is None else round(float(found.z), 2),
            evidence=None if found is None else round(float(found.evidence), 2),
            terms=[t for t in (found.matched if found is not None else []) if t][:8],
            decision=decision))
    out.sort(key=lambda e: -(e["relevance"] or 0.0))
    return out


def _filtered_hits(searcher: RuleSearch, rule: Rule, ids: list[str]) -> list[RuleHit]:
    """The candidates the rule's search filters keep, whatever their relevance."""
    from newsmon.app.search import SearchRequest

    min_topic = next((m for _, m in rule.topics if m is not None), None)
    out: list[RuleHit] = []
    for start in range(0, len(ids), SEARCH_BATCH):
        chunk = tuple(ids[start:start + SEARCH_BATCH])
        out += searcher.search(SearchRequest(
            query=rule.query, mode=rule.mode,
            lang=rule.langs[0] if len(rule.langs) == 1 else None,
            topics=tuple(t for t, _ in rule.topics), min_topic_score=min_topic,
            sources=rule.sources, entities=tuple(e for e, _ in rule.entities),
            limit=len(chunk), collapse=False, ids=chunk)).results
    return out


__all__ = ["decide_rule", "changed_ids", "search_ids", "RuleDecision", "RuleSearch",
           "RuleSummary", "explain_rule", "Explained"]
