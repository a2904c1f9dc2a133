"""The enrich stage: language, topics, entities, an embedding and a story for every article.

It takes every stored article whose ``enrich_version`` is not the current one (never enriched,
or enriched with another model, topic definition, gazetteer or story thresholds) and works in
two resumable passes, each committing per batch:

1. **Embed** (the CPU cost): articles sorted by length so a batch holds texts of similar size;
   headline and paragraphs embedded in one call per batch; vectors and MinHash fingerprints
   committed per batch. A vector whose model and text hash are already stored is reused, so a
   rerun after a kill redoes at most the batch in flight.
2. **Assign** in published order: topics (term evidence + similarity to each topic's
   description), entities, and the story (see ``enrich.stories``); the article is written with
   ``stage=enriched`` and the new ``enrich_version`` together with its story membership.

Per-article failures are recorded with a reason and counted; the article stays pending and is
retried on the next run.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from newsmon.enrich.boilerplate import (
    BoilerplateRule,
    block_key,
    boilerplate_keys,
    clean,
    restore,
)
from newsmon.enrich.embed import (
    DEFAULT_MODEL,
    Embedder,
    configured_embedder,
    document_chunks,
    pool,
)
from newsmon.enrich.entities import Gazetteer, find_entities, load_gazetteer
from newsmon.enrich.language import detect_language
from newsmon.enrich.minhash import MinHasher, from_bytes, shingles, to_bytes
from newsmon.enrich.stories import (
    JOIN_DUPLICATE,
    JOIN_SIMILAR,
    NEW_STORY,
    LanguageMeans,
    StoryAssigner,
    StoryItem,
    StoryParams,
    body_vectors,
    center,
    is_opinion,
)
from newsmon.enrich.stories import anchors as story_anchors
from newsmon.enrich.story_phase import event_day, event_phase, is_reaction, reacting_party
from newsmon.enrich.title_affix import TitleAffixRule, learn, strip
from newsmon.enrich.title_affix import restore as restore_title
from newsmon.enrich.topics import TopicSet, load_topics, score_topics, topic_vectors
from newsmon.index.core.article import Article, Stage
from newsmon.index.core.defaults import defaults_dir
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.settings import EnrichSettings, Settings
from newsmon.index.store import StoreBase
from newsmon.index.store.repos.boilerplate import BoilerplateRepo
from newsmon.index.store.repos.vectors import EmbeddingRow, PoolRow, StoryMember

log = logging.getLogger(__name__)

# bump when the enrichment code changes what it writes, so stored articles are redone
CODE_VERSION = "1"
SHINGLE_WORDS = SHINGLE_CHARS = 3
DEFAULTS_DIR = defaults_dir()
MAX_ERRORS_KEPT = 50
HELPER_MIN_ARTICLES = 64   # fewer: not worth loading the model in a second process

Progress = Callable[[str, int, int], None]  # (pass name, done, total)


@dataclass(slots=True)
class EnrichStats:
    model: str = ""
    engine: str = ""
    version: str = ""
    pending: int = 0
    embedded: int = 0
    vectors_reused: int = 0
    enriched: int = 0
    failed: int = 0
    boilerplate_cleaned: int = 0
    boilerplate_recleaned: int = 0
    titles_cleaned: int = 0
    titles_recleaned: int = 0
    new_stories: int = 0
    stories_kept: int = 0     # re-enriched articles that still found the story they founded
    joined_duplicate: int = 0
    joined_similar: int = 0
    batches: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    def fail(self, article_id: str, reason: str, detail: str) -> None:
        self.failed += 1
        self.failures[reason] = self.failures.get(reason, 0) + 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"id": article_id, "reason": reason, "detail": detail[:300]})
        log.warning("enrich: article %s failed (%s): %s", article_id, reason, detail)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 2)
        out["embed_seconds"] = round(self.embed_seconds, 2)
        return out


@dataclass(frozen=True)
class EnrichContext:
    """Everything one enrich run needs, loaded once."""

    settings: EnrichSettings
    embedder: Embedder
    topics: TopicSet
    topic_vectors: dict[str, np.ndarray]
    gazetteer: Gazetteer
    hasher: MinHasher
    params: StoryParams
    version: str
    boilerplate: BoilerplateRule = BoilerplateRule()
    title_affix: TitleAffixRule = TitleAffixRule()

    @property
    def fingerprint_kind(self) -> str:
        return f"minhash{self.hasher.num_perm}-w{SHINGLE_WORDS}c{SHINGLE_CHARS}"


def resolve_config_path(path: Path, settings: Settings) -> Path:
    """A relative topics/entities path is relative to the settings file that could name it:
    the local file when it has that file beside it, else the bundled defaults folder."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    if settings.config_file is not None:
        local = settings.config_file.parent / path
        if local.exists():
            return local.resolve()
    return (DEFAULTS_DIR / path).resolve()


def story_params(es: EnrichSettings) -> StoryParams:
    return StoryParams(
        dup_threshold=es.dup_threshold, dup_window_hours=es.dup_window_hours,
        window_hours=es.story_window_hours, same_lang=es.story_same_lang,
        cross_lang=es.story_cross_lang, early_margin=es.story_early_margin,
        anchor_margin=es.story_anchor_margin, phase_margin=es.story_phase_margin,
        party_margin=es.story_party_margin, cross_event_bonus=es.story_cross_event_bonus,
    )


def enrich_version(es: EnrichSettings, model: str, topics_version: str,
                   gazetteer_version: str) -> str:
    """Hash of everything that decides what enrich writes; a change means re-enrichment."""
    parts = {
        "code": CODE_VERSION, "model": model, "text": es.text, "max_chunks": es.max_chunks,
        "topics": topics_version, "entities": gazetteer_version,
        "lang": es.min_lang_confidence, "minhash": es.minhash_perm,
        "stories": asdict(story_params(es)), "center": [es.center_min_articles,
                                                         es.center_max_articles],
    }
    blob = json.dumps(parts, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def configured_model(es: EnrichSettings) -> str:
    """The name the configured embedder will report (``load_embedder`` keys on it)."""
    return (es.model or DEFAULT_MODEL).strip()


def current_version(settings: Settings) -> str:
    """The ``enrich_version`` this configuration writes, computed without loading the model, so
    a run with nothing pending never pays for it."""
    es = settings.enrich
    topics = load_topics(resolve_config_path(es.topics, settings))
    gazetteer = load_gazetteer(resolve_config_path(es.entities, settings))
    return enrich_version(es, configured_model(es), topics.version, gazetteer.version)


def build_context(settings: Settings, *, embedder: Embedder | None = None,
                  workload: int | None = None) -> EnrichContext:
    es = settings.enrich
    if es.batch_size < 1:
        raise ConfigError(f"[enrich].batch_size must be at least 1, got {es.batch_size}")
    if es.max_chunks < 1:
        raise ConfigError(f"[enrich].max_chunks must be at least 1, got {es.max_chunks}")
    embedder = embedder or configured_embedder(settings, workload=workload)
    topics = load_topics(resolve_config_path(es.topics, settings))
    gazetteer = load_gazetteer(resolve_config_path(es.entities, settings))
    return EnrichContext(
        settings=es, embedder=embedder, topics=topics,
        topic_vectors=topic_vectors(topics, embedder), gazetteer=gazetteer,
        hasher=MinHasher(es.minhash_perm), params=story_params(es),
        version=enrich_version(es, embedder.name, topics.version, gazetteer.version),
        boilerplate=boilerplate_rule(es), title_affix=title_affix_rule(es),
    )


def boilerplate_rule(es: EnrichSettings) -> BoilerplateRule:
    if es.boilerplate_min_articles < 2:
        raise ConfigError("[enrich].boilerplate_min_articles must be at least 2, got "
                          f"{es.boilerplate_min_articles}")
    return BoilerplateRule.build(es.boilerplate_min_articles, es.boilerplate_min_share,
                                 es.boilerplate_markers.split("|"))


def title_affix_rule(es: EnrichSettings) -> TitleAffixRule:
    if es.title_affix_min_titles < 2:
        raise ConfigError("[enrich].title_affix_min_titles must be at least 2, got "
                          f"{es.title_affix_min_titles}")
    for key in ("title_affix_min_share", "title_affix_min_cover"):
        if not 0.0 < getattr(es, key) <= 1.0:
            raise ConfigError(f"[enrich].{key} must be in (0, 1], got {getattr(es, key)}")
    return TitleAffixRule(min_titles=es.title_affix_min_titles,
                          min_share=es.title_affix_min_share,
                          min_cover=es.title_affix_min_cover)


def text_hash(article: Article, es: EnrichSettings) -> str:
    """What the stored vector was made from (a changed text or strategy re-embeds)."""
    h = hashlib.sha256()
    # "full" cuts windows with the model's tokenizer (before: the engine windowed on its own)
    strategy = "full/windows" if es.text == "full" else es.text
    for part in (strategy, str(es.max_chunks), article.title or "", article.text or ""):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


def embedder_engine(embedder: Embedder) -> str:
    """What ran the model (an embedder from elsewhere may not say)."""
    return str(getattr(embedder, "engine", "") or type(embedder).__name__)


def _when(article: Article, fallback: datetime) -> datetime:
    value = article.published or article.fetched_at or fallback
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _hours(value: datetime) -> float:
    return value.timestamp() / 3600.0


def detect(article: Article, min_confidence: float) -> tuple[str, float]:
    """Detected language; a weak detection yields to the language the source declared."""
    lang, conf = detect_language(f"{article.title}\n{(article.text or '')[:3000]}")
    if conf < min_confidence and article.lang:
        return article.lang, conf
    return lang, conf


def enrich_store(settings: Settings, store: StoreBase, *, run_id: int | None = None,
                 progress: Progress | None = None,
                 context: EnrichContext | None = None) -> EnrichStats:
    """Enrich every pending article of ``store``; returns counts (failures included)."""
    started = time.perf_counter()
    workload = None
    if context is None:
        # the model is loaded only when there is work for it, on the engine that suits it
        version = current_version(settings)
        workload = len(store.articles.enrich_pending(version))
        if not workload:
            log.info("enrich run %s: nothing pending (version %s); model not loaded", run_id,
                     version)
            return EnrichStats(model=configured_model(settings.enrich), version=version,
                               seconds=time.perf_counter() - started)
    ctx = context or build_context(settings, workload=workload)
    stats = EnrichStats(model=ctx.embedder.name, engine=embedder_engine(ctx.embedder),
                        version=ctx.version)
    pending = store.articles.enrich_pending(ctx.version)
    stats.pending = len(pending)
    log.info("enrich run %s: %d articles pending (model %s, engine %s, version %s)", run_id,
             len(pending), ctx.embedder.name, stats.engine, ctx.version)
    if len(pending) >= HELPER_MIN_ARTICLES:
        # the sentence-transformers engine's second process loads while the passes below run
        start_helper = getattr(ctx.embedder, "start_helper", None)
        if start_helper is not None:
            start_helper()
    if pending:
        pending = _title_pass(ctx, store, pending, stats)
        pending = _boilerplate_pass(ctx, store, pending, stats)
        info = _embed_pass(ctx, store, pending, stats, progress)
        # stories are decided against the stories already assigned, in every language (the
        # model is multilingual): on a store shared by machines one assignment runs at a time
        with store.exclusive("story-assignment"):
            _assign_pass(ctx, store, info, stats, progress)
    stats.seconds = time.perf_counter() - started
    return stats


def _title_pass(ctx: EnrichContext, store: StoreBase, pending: list[tuple[str, int]],
                stats: EnrichStats) -> list[tuple[str, int]]:
    """Learn the title affixes of each source with pending articles from the titles (as
    extracted) of all its stored articles, pending ones included, so a new source's first batch
    is stripped by what the batch shows; strip the pending articles, and re-strip stored
    articles whose title changes with what was learned; those become pending too. Returns the
    pending list, extended."""
    pending_ids = {i for i, _ in pending}
    sources = sorted(store.articles.sources(pending_ids))
    extra: list[tuple[str, int]] = []
    for src in sources:
        titles = store.articles.titles(src)
        original = {aid: restore_title(t, removed) for aid, (t, removed) in titles.items()}
        affixes = learn(original.values(), ctx.title_affix)
        new: dict[str, tuple[str, dict[str, str]]] = {}
        for aid, (title, removed) in titles.items():
            stripped = strip(original[aid], affixes)
            if stripped != (title, removed):
                new[aid] = stripped
        ids = sorted(new)
        for start in range(0, len(ids), 200):
            changed = store.articles.get_many(ids[start:start + 200])
            for art in changed:
                art.title, art.title_affix = new[art.id]
                if art.id in pending_ids:
                    stats.titles_cleaned += 1
                else:
                    art.enrich_version = None
                    extra.append((art.id, len(art.title) + len(art.text or "")))
                    stats.titles_recleaned += 1
            store.articles.update_enriched(changed)
        if affixes:
            log.info("enrich: source %s title affixes %s", src, affixes.as_dict())
    if extra:
        log.info("enrich: %d stored articles' titles re-stripped, re-enriched", len(extra))
    return pending + extra


def _boilerplate_pass(ctx: EnrichContext, store: StoreBase, pending: list[tuple[str, int]],
                      stats: EnrichStats) -> list[tuple[str, int]]:
    """Learn each source's boilerplate from its pending articles (all of them before any is
    cleaned, so a new source's first batch is cleaned by what the batch shows), clean the
    pending articles, and re-clean stored articles of a source whose boilerplate grew; those
    become pending too. Returns the pending list, extended."""
    repo = store.boilerplate
    rule = ctx.boilerplate
    sources: dict[str, set[str]] = {}
    grown: set[str] = set()  # sources whose boilerplate grew: all their articles are looked at
    ids = [i for i, _ in pending]
    for start in range(0, len(ids), ctx.settings.batch_size * 8):
        chunk = ids[start:start + ctx.settings.batch_size * 8]
        counted = repo.counted(chunk)
        new: dict[str, dict[str, dict[str, str]]] = {}
        for art in store.articles.get_many(chunk):
            sources.setdefault(art.source, set()).add(art.id)
            if art.id not in counted:
                # the page's template lines count with the text's: a footer every page shows
                # is learned from all pages, not only from the short ones it leaks into
                lines = [*art.template, *restore(art.text or "", art.boilerplate).split("\n")]
                new.setdefault(art.source, {})[art.id] = {
                    k: ln for ln in lines if (k := block_key(ln))}
        before = {src: _source_keys(repo, src, rule) for src in new}
        for src, blocks in new.items():
            repo.add(src, blocks)
        for src in new:
            if _source_keys(repo, src, rule) != before[src]:
                grown.add(src)
    pending_ids = set(ids)
    extra: list[tuple[str, int]] = []
    for src, only in sorted(sources.items()):
        keys = _source_keys(repo, src, rule)
        todo = (store.articles.iter(source=src) if src in grown
                else store.articles.get_many(sorted(only)))
        changed: list[Article] = []
        for art in todo:
            original = restore(art.text or "", art.boilerplate)
            text, removed = clean(original, keys)
            if text == (art.text or "") and removed == art.boilerplate:
                continue
            art.text, art.boilerplate = text, removed
            if art.id in pending_ids:
                stats.boilerplate_cleaned += 1
            else:
                art.enrich_version = None
                extra.append((art.id, len(art.title or "") + len(text)))
                stats.boilerplate_recleaned += 1
            changed.append(art)
            if len(changed) >= 200:
                store.articles.update_enriched(changed)
                changed = []
        store.articles.update_enriched(changed)
    if extra:
        log.info("enrich: %d stored articles re-cleaned of boilerplate, re-enriched", len(extra))
    return pending + extra


def _source_keys(repo: BoilerplateRepo, source: str, rule: BoilerplateRule) -> set[str]:
    return boilerplate_keys(repo.counts(source, min_articles=rule.min_articles),
                            repo.total(source), rule)


@dataclass(slots=True)
class _Info:
    lang: str
    confidence: float
    when: datetime


def _embed_pass(ctx: EnrichContext, store: StoreBase, pending: list[tuple[str, int]],
                stats: EnrichStats, progress: Progress | None) -> dict[str, _Info]:
    es = ctx.settings
    now = datetime.now(UTC)
    by_length = [i for i, _ in sorted(pending, key=lambda p: (p[1], p[0]))]
    info: dict[str, _Info] = {}
    for start in range(0, len(by_length), es.batch_size):
        ids = by_length[start:start + es.batch_size]
        articles = store.articles.get_many(ids)
        stored = store.vectors.embedding_hashes(ids, ctx.embedder.name)
        todo: list[tuple[Article, str, list[str], bool]] = []
        for art in articles:
            lang, conf = detect(art, es.min_lang_confidence)
            info[art.id] = _Info(lang, conf, _when(art, now))
            digest = text_hash(art, es)
            if stored.get(art.id) == digest:
                stats.vectors_reused += 1
                continue
            chunks, has_title = document_chunks(art.title, art.text, es.text,
                                                max_chunks=es.max_chunks, embedder=ctx.embedder)
            if not chunks:
                stats.fail(art.id, "empty_text", "no headline and no text to embed")
                del info[art.id]
                continue
            todo.append((art, digest, chunks, has_title))
        if todo:
            texts = [c for _, _, chunks, _ in todo for c in chunks]
            t0 = time.perf_counter()
            vectors = ctx.embedder.embed_documents(texts)
            stats.embed_seconds += time.perf_counter() - t0
            rows, at = [], 0
            for art, digest, chunks, has_title in todo:
                mine = vectors[at:at + len(chunks)]
                at += len(chunks)
                lang = info[art.id].lang
                sig = ctx.hasher.signature(shingles(art.title, art.text, lang,
                                                    words=SHINGLE_WORDS, chars=SHINGLE_CHARS))
                rows.append(EmbeddingRow(
                    article_id=art.id, model=ctx.embedder.name, vector=pool(mine), chunks=mine,
                    has_title=has_title, lang=lang, published=info[art.id].when,
                    text_hash=digest, fingerprint_kind=ctx.fingerprint_kind,
                    signature=to_bytes(sig),
                ))
            store.vectors.save_embeddings(rows)
            stats.embedded += len(rows)
        stats.batches += 1
        if progress:
            progress("embed", min(start + es.batch_size, len(by_length)), len(by_length))
    return info


def _language_means(ctx: EnrichContext, store: StoreBase) -> LanguageMeans:
    means = LanguageMeans(ctx.embedder.dim, min_articles=ctx.settings.center_min_articles)
    for lang in store.vectors.embedding_langs(ctx.embedder.name):
        for chunks in store.vectors.iter_chunk_vectors(ctx.embedder.name, lang,
                                               newest=ctx.settings.center_max_articles):
            means.add(lang, chunks)
    return means


@dataclass(frozen=True, slots=True)
class _Facts:
    """What story assignment reads of an article beside its vectors."""

    opinion: bool = False
    anchors: frozenset[str] = frozenset()
    source: str = ""
    phase: str | None = None
    party: frozenset[str] = frozenset()
    reaction: bool = False
    day: date | None = None


def _pool_item(row: PoolRow, means: LanguageMeans, fallback: datetime,
               facts: _Facts = _Facts()) -> StoryItem:
    when = row.published or fallback
    signature = from_bytes(row.signature) if row.signature is not None else np.zeros(0)
    lang = row.lang or ""
    return StoryItem(
        id=row.article_id, lang=lang, published=_hours(when),
        signature=signature,
        paragraphs=center(body_vectors(row.chunks, row.has_title), means.mean(lang)),
        story=row.story, own_mean=means.has_own(lang), opinion=facts.opinion,
        anchors=facts.anchors, source=facts.source, phase=facts.phase, party=facts.party,
        reaction=facts.reaction, day=facts.day,
    )


def _facts(ctx: EnrichContext, art: Article, lang: str | None = None,
           published: datetime | None = None) -> _Facts:
    """Opinion piece or not (by headline label or URL section), story anchors, source, the
    event's phase and, for a reaction, who reacts (``newsmon.enrich.story_phase``)."""
    lang = "ja" if (lang or art.lang) == "ja" else "en"

    def entities_of(text: str) -> list[str]:
        return [e["id"] for e in find_entities(text, "", lang, ctx.gazetteer)]

    when = published or art.published
    return _Facts(_opinion(art), story_anchors(art.title, art.text, art.entities), art.source,
                  event_phase(art.title, art.text, lang, when),
                  reacting_party(art.title, lang, entities_of), is_reaction(art.title, lang),
                  event_day(art.text, lang, when))


def _pool_facts(ctx: EnrichContext, store: StoreBase, ids: list[str]) -> dict[str, _Facts]:
    """``_facts`` of each of ``ids``."""
    return {a.id: _facts(ctx, a) for a in store.articles.get_many(ids)}


def _opinion(art: Article) -> bool:
    """Opinion by the title as extracted (a label such as "Opinion:" may sit beside the site's
    name among the stripped affixes)."""
    return is_opinion(restore_title(art.title, art.title_affix), art.url)


def _add_to_pool(ctx: EnrichContext, store: StoreBase, assigner: StoryAssigner, means: LanguageMeans,
                 in_pool: set[str], since: datetime, until: datetime, fallback: datetime) -> None:
    """Give the assigner the stored articles published between ``since`` and ``until`` that it
    does not hold yet, as candidates to join."""
    rows = [r for r in store.vectors.story_pool(ctx.embedder.name, ctx.fingerprint_kind, since, until)
            if r.article_id not in in_pool]
    facts = _pool_facts(ctx, store, [r.article_id for r in rows])
    for row in rows:
        assigner.add(_pool_item(row, means, fallback, facts.get(row.article_id, _Facts())))
        in_pool.add(row.article_id)


def _assign_pass(ctx: EnrichContext, store: StoreBase, info: dict[str, _Info], stats: EnrichStats,
                 progress: Progress | None) -> None:
    es = ctx.settings
    model = ctx.embedder.name
    means = _language_means(ctx, store)
    log.info("enrich: centring by language means over %s articles", means.counts())
    order = sorted(info, key=lambda i: (info[i].when, i))
    # re-enriched articles are assigned afresh, in published order like new ones; since a story
    # is named after its earliest member, unchanged clusters keep their ids
    store.vectors.clear_stories(order)
    horizon = timedelta(hours=max(ctx.params.dup_window_hours, ctx.params.window_hours))
    assigner = StoryAssigner(ctx.params)
    in_pool: set[str] = set()
    loaded_until: datetime | None = None
    done = 0
    for start in range(0, len(order), es.batch_size):
        ids = order[start:start + es.batch_size]
        first, last = info[ids[0]].when, info[ids[-1]].when
        assigner.forget_before(_hours(first))
        # the window slides forward with the batches: read only the part not read yet (what
        # this run assigns goes into the pool directly)
        since = first - horizon if loaded_until is None else max(first - horizon, loaded_until)
        until = last + horizon
        if loaded_until is None or until > loaded_until:
            _add_to_pool(ctx, store, assigner, means, in_pool, since, until, first)
            loaded_until = until
        articles = {a.id: a for a in store.articles.get_many(ids)}
        own = {r.article_id: r for r in store.vectors.story_pool_rows(ids, model,
                                                                 ctx.fingerprint_kind)}
        vectors = store.vectors.get_vectors(ids, model)
        done_articles: list[Article] = []
        members: list[StoryMember] = []
        for aid in ids:
            art = articles.get(aid)
            row = own.get(aid)
            if art is None:
                continue  # deleted since the embed pass
            if row is None or aid not in vectors:
                stats.fail(aid, "no_vector", "no stored vector for the current model")
                continue
            meta = info[aid]
            try:
                art.lang, art.lang_confidence = meta.lang, meta.confidence
                art.topics = score_topics(art.title, art.text, meta.lang, ctx.topics,
                                          doc_vector=vectors[aid],
                                          topic_vectors=ctx.topic_vectors)
                art.entities = find_entities(art.title, art.text, meta.lang, ctx.gazetteer)
                row = dataclasses.replace(row, story=None, lang=meta.lang, published=meta.when)
                item = _pool_item(row, means, meta.when, _facts(ctx, art, meta.lang, meta.when))
                item.story = None
                choice = assigner.assign(item)
            except Exception as exc:  # noqa: BLE001 - one bad article must not stop the batch
                stats.fail(aid, f"error:{type(exc).__name__}", str(exc))
                continue
            in_pool.add(aid)
            before, art.story = art.story, choice.story
            art.embedding_model = model
            art.enrich_version = ctx.version
            art.stage = Stage.ENRICHED
            done_articles.append(art)
            members.append(StoryMember(aid, choice.story, meta.lang, meta.when, choice.how,
                                       choice.score, choice.via))
            if choice.how == NEW_STORY and choice.story == before:
                stats.stories_kept += 1   # re-enriched, still founding the story it founded
            elif choice.how == NEW_STORY:
                stats.new_stories += 1
            elif choice.how == JOIN_DUPLICATE:
                stats.joined_duplicate += 1
            elif choice.how == JOIN_SIMILAR:
                stats.joined_similar += 1
        with store.transaction():  # articles and their story membership commit together
            store.articles.update_enriched(done_articles)
            store.vectors.save_members(members)
        stats.enriched += len(done_articles)
        done += len(ids)
        if progress:
            progress("assign", done, len(order))


__all__ = ["EnrichContext", "EnrichStats", "build_context", "enrich_store", "enrich_version",
           "resolve_config_path", "text_hash"]
