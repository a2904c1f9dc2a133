"""Topic tagging with a score, a label and the evidence behind it.

Topics are data (``config/topics.yaml``): English and Japanese terms with weights, exclusions,
a short description and a threshold per topic, plus the scoring constants. A topic's score in
[0, 1] combines

- **term evidence**: matched terms per sentence (capped, so one keyword-stuffed sentence is
  one sentence of evidence), weighted by where they occur — headline, lead, body — and squashed
  with ``1 - exp(-evidence / saturation)``. A single sentence of evidence in the body is a
  passing mention, and so is a mention confined to the lead of a long article (the lead of a
  pact story names every agreement): with nothing in the headline, no paragraph with
  ``min_paragraph_sentences`` sentences of evidence and evidence in less than ``min_share`` of
  the text, the score is capped at ``passing_cap``, below any sensible threshold;
- **semantic similarity** between the article's embedding and the topic's description,
  calibrated from the narrow band where embedding cosines live onto [0, 1].

The label is ``score >= threshold``; the evidence lists the matched terms and their sentences.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from newsmon.enrich.text import Match, PhraseMatcher, Sentence, analyze, normalize
from newsmon.index.core.defaults import default_file
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.yamlfile import load_yaml

__all__ = ["Topic", "Scoring", "TopicSet", "load_topics", "score_topics", "topic_names",
           "topic_vectors", "topics_document"]

LANGS = ("en", "ja")
ZONES = ("title", "lead", "body")
# what a topic's phrase matcher finds: ("term", term, weight) or ("exclude", phrase, 0.0)
TermKey = tuple[str, str, float]


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    description: Mapping[str, str]  # lang -> text
    threshold: float
    terms: tuple[tuple[str, str, float], ...]  # (lang, term, weight)
    exclude: tuple[tuple[str, str], ...]  # (lang, phrase)
    # ambiguous words: (lang, word as written, casefolded) -> phrases of which one must occur
    # in the article for the word to count ("Tempest" needs fighter/jet/GCAP/BAE context)
    context: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scoring:
    zone_weights: Mapping[str, float]
    lead_sentences: int
    sentence_cap: float
    saturation: float
    min_paragraph_sentences: int
    min_share: float
    passing_cap: float
    brief_sentences: int
    semantic_weight: float
    semantic_low: float
    semantic_high: float
    max_evidence: int


@dataclass(frozen=True)
class TopicSet:
    topics: tuple[Topic, ...]
    scoring: Scoring
    version: str  # hash of the definition: a change means articles need re-tagging
    source: str = ""
    # term matchers and context matchers (their keys differ: TermKey, the ambiguous word)
    _matchers: dict[tuple[str, str], PhraseMatcher[Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics)

    def __getitem__(self, name: str) -> Topic:
        for t in self.topics:
            if t.name == name:
                return t
        raise KeyError(name)

    def context_matcher(self, topic: str, lang: str) -> PhraseMatcher[str]:
        """Matcher of the context phrases of one topic's ambiguous words (key: the word)."""
        key = ("context:" + topic, "ja" if lang == "ja" else "en")
        m: PhraseMatcher[str] | None = self._matchers.get(key)
        if m is None:
            m = PhraseMatcher()
            term_langs = ("ja", "en") if key[1] == "ja" else ("en",)
            for (tl, word), phrases in self[topic].context.items():
                if tl in term_langs:
                    for phrase in phrases:
                        m.add(phrase, tl, word)
            self._matchers[key] = m
        return m

    def ambiguous(self, topic: str, lang: str) -> frozenset[str]:
        """The ambiguous words (casefolded) of one topic for documents in ``lang``."""
        term_langs = ("ja", "en") if lang == "ja" else ("en",)
        return frozenset(w for tl, w in self[topic].context if tl in term_langs)

    def matcher(self, topic: str, lang: str) -> PhraseMatcher[TermKey]:
        """Phrase matcher of one topic for documents in ``lang``.

        Japanese documents are matched against the Japanese terms and the English ones
        (acronyms such as GCAP and NATO are written in Latin letters there).
        """
        key = (topic, "ja" if lang == "ja" else "en")
        m: PhraseMatcher[TermKey] | None = self._matchers.get(key)
        if m is None:
            m = PhraseMatcher()
            t = self[topic]
            term_langs = ("ja", "en") if key[1] == "ja" else ("en",)
            for tl, term, weight in t.terms:
                if tl in term_langs:
                    m.add(term, tl, ("term", term, weight))
            for tl, phrase in t.exclude:
                if tl in term_langs:
                    m.add(phrase, tl, ("exclude", phrase, 0.0))
            self._matchers[key] = m  # the dict is a cache; the TopicSet itself stays immutable
        return m


# --- loading -------------------------------------------------------------------------------


class _Check:
    """Builds error messages that name the file, the topic and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {message}", reason="topics")

    def mapping(self, value: Any, where: str) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, got {type(value).__name__}")
        return value

    def keys(self, value: dict[Any, Any], where: str, required: Set[str], optional: Set[str] = frozenset()) -> None:
        unknown = set(value) - required - optional
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            raise self.fail(where, f"unknown key(s) {', '.join(map(repr, sorted(unknown)))}; allowed: {allowed}")
        missing = required - set(value)
        if missing:
            raise self.fail(where, f"missing key(s) {', '.join(map(repr, sorted(missing)))}")

    def number(self, value: Any, where: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"must be a number, got {value!r}")
        v = float(value)
        if v > hi or v < lo or (lo_open and v == lo):
            bracket = "(" if lo_open else "["
            raise self.fail(where, f"must be in {bracket}{lo}, {hi}], got {v}")
        return v

    def integer(self, value: Any, where: str, lo: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise self.fail(where, f"must be an integer >= {lo}, got {value!r}")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"must be a non-empty string, got {value!r}")
        return value.strip()


def _load_scoring(raw: Any, c: _Check) -> Scoring:
    s = c.mapping(raw, "scoring")
    c.keys(s, "scoring", {"zone_weights", "lead_sentences", "sentence_cap", "saturation",
                          "min_paragraph_sentences", "min_share", "passing_cap", "semantic",
                          "max_evidence", "brief_sentences"})
    zw = c.mapping(s["zone_weights"], "scoring.zone_weights")
    c.keys(zw, "scoring.zone_weights", set(ZONES))
    sem = c.mapping(s["semantic"], "scoring.semantic")
    c.keys(sem, "scoring.semantic", {"weight", "low", "high"})
    low = c.number(sem["low"], "scoring.semantic.low", -1.0, 1.0)
    high = c.number(sem["high"], "scoring.semantic.high", -1.0, 1.0)
    if high <= low:
        raise c.fail("scoring.semantic", f"high ({high}) must be greater than low ({low})")
    return Scoring(
        zone_weights={z: c.number(zw[z], f"scoring.zone_weights.{z}", 0.0, 100.0) for z in ZONES},
        lead_sentences=c.integer(s["lead_sentences"], "scoring.lead_sentences", 0),
        sentence_cap=c.number(s["sentence_cap"], "scoring.sentence_cap", 0.0, 100.0, lo_open=True),
        saturation=c.number(s["saturation"], "scoring.saturation", 0.0, 1000.0, lo_open=True),
        min_paragraph_sentences=c.integer(s["min_paragraph_sentences"], "scoring.min_paragraph_sentences", 1),
        min_share=c.number(s["min_share"], "scoring.min_share", 0.0, 1.0),
        passing_cap=c.number(s["passing_cap"], "scoring.passing_cap", 0.0, 1.0),
        brief_sentences=c.integer(s["brief_sentences"], "scoring.brief_sentences", 1),
        semantic_weight=c.number(sem["weight"], "scoring.semantic.weight", 0.0, 1.0),
        semantic_low=low,
        semantic_high=high,
        max_evidence=c.integer(s["max_evidence"], "scoring.max_evidence", 1),
    )


def _load_topic(name: str, raw: Any, c: _Check) -> Topic:
    where = f"topic {name!r}"
    t = c.mapping(raw, where)
    c.keys(t, where, {"description", "threshold", "terms"}, {"exclude", "context"})
    desc = c.mapping(t["description"], f"{where}: key 'description'")
    c.keys(desc, f"{where}: key 'description'", set(), set(LANGS))
    if not desc:
        raise c.fail(f"{where}: key 'description'", f"needs at least one of {', '.join(LANGS)}")
    description = {lang: c.text(v, f"{where}: key 'description.{lang}'") for lang, v in desc.items()}
    threshold = c.number(t["threshold"], f"{where}: key 'threshold'", 0.0, 1.0, lo_open=True)

    terms_raw = c.mapping(t["terms"], f"{where}: key 'terms'")
    c.keys(terms_raw, f"{where}: key 'terms'", set(), set(LANGS))
    terms: list[tuple[str, str, float]] = []
    probe: PhraseMatcher[None] = PhraseMatcher()  # only checks that a phrase has words
    for lang, entries in terms_raw.items():
        entries = c.mapping(entries, f"{where}: key 'terms.{lang}'")
        for term, weight in entries.items():
            key = f"{where}: key 'terms.{lang}.{term}'"
            term = c.text(str(term), key)
            w = c.number(weight, key, 0.0, 1.0, lo_open=True)
            if not probe.add(term, lang, None):
                raise c.fail(key, "has no word in it (punctuation only)")
            terms.append((lang, term, w))
    if not terms:
        raise c.fail(f"{where}: key 'terms'", "lists no term")

    excl_raw = c.mapping(t.get("exclude") or {}, f"{where}: key 'exclude'")
    c.keys(excl_raw, f"{where}: key 'exclude'", set(), set(LANGS))
    exclude: list[tuple[str, str]] = []
    for lang, phrases in excl_raw.items():
        if phrases is None:
            continue
        if not isinstance(phrases, list):
            raise c.fail(f"{where}: key 'exclude.{lang}'", f"must be a list, got {type(phrases).__name__}")
        for p in phrases:
            p = c.text(p, f"{where}: key 'exclude.{lang}'")
            if not probe.add(p, lang, None):
                raise c.fail(f"{where}: key 'exclude.{lang}'", f"{p!r} has no word in it")
            exclude.append((lang, p))
    ctx_raw = c.mapping(t.get("context") or {}, f"{where}: key 'context'")
    c.keys(ctx_raw, f"{where}: key 'context'", set(), set(LANGS))
    context: dict[tuple[str, str], tuple[str, ...]] = {}
    for lang, words in ctx_raw.items():
        words = c.mapping(words or {}, f"{where}: key 'context.{lang}'")
        for word, phrases in words.items():
            key = f"{where}: key 'context.{lang}.{word}'"
            word = c.text(str(word), key)
            if not isinstance(phrases, list) or not phrases:
                raise c.fail(key, "must be a non-empty list of context phrases")
            checked = []
            for p in phrases:
                p = c.text(str(p), key)
                if not probe.add(p, lang, None):
                    raise c.fail(key, f"{p!r} has no word in it")
                checked.append(p)
            context[(lang, normalize(word).casefold())] = tuple(checked)
    return Topic(name, description, threshold, tuple(terms), tuple(exclude), context)


# `extends: bundled` in a topics file: the topics.yaml newsmon ships
EXTENDS_BUNDLED = "bundled"


def _merge(base: Any, over: Any, where: str, c: _Check) -> Any:
    """``over`` laid over ``base``: mappings merge key by key, anything else replaces, and null
    removes the key (naming a key the base lacks is an error: a typo would remove nothing)."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    out = dict(base)
    for key, value in over.items():
        inner = f"{where}.{key}" if where else str(key)
        if value is None:
            if key not in out:
                raise c.fail(inner, f"null removes {key!r}, which the extended file does not "
                                    f"define; it has: {', '.join(map(str, sorted(out, key=str)))}")
            del out[key]
        elif key in out:
            out[key] = _merge(out[key], value, inner, c)
        else:
            out[key] = value
    return out


def topics_document(path: str | Path, *, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The topics document ``path`` means, before validation of the topics themselves.

    A file with ``extends:`` (``bundled``, or the path of another topics file relative to this
    one) names only what it adds or changes: its ``topics`` and ``scoring`` are laid over the
    extended file's (see _merge: a new topic is added whole, an existing one changes only the
    keys given, ``null`` removes a topic, a term or a key). Without ``extends`` the file is
    complete on its own. ConfigError names the file and the key."""
    path = Path(path)
    c = _Check(path)
    raw = load_yaml(path, "topics", reason="topics")
    doc = c.mapping(raw, "top level")
    if "extends" not in doc:
        c.keys(doc, "top level", {"scoring", "topics"})
        return doc
    c.keys(doc, "top level", {"extends"}, {"scoring", "topics"})
    extends = doc["extends"]
    if not isinstance(extends, str) or not extends.strip():
        raise c.fail("extends", f"must be {EXTENDS_BUNDLED!r} or the path of a topics file, "
                                f"got {extends!r}")
    base_path = default_file("topics.yaml") if extends.strip() == EXTENDS_BUNDLED \
        else (path.parent / Path(extends.strip()).expanduser()).resolve()
    if base_path.resolve() in _seen or base_path.resolve() == path.resolve():
        raise c.fail("extends", f"{extends!r} extends itself (a cycle)")
    base = topics_document(base_path, _seen=(*_seen, path.resolve()))
    merged = {"scoring": base.get("scoring"), "topics": base.get("topics")}
    for key in ("scoring", "topics"):
        if doc.get(key) is not None:
            c.mapping(doc[key], key)
            merged[key] = _merge(merged[key], doc[key], key, c)
    return merged


def topic_names(path: str | Path) -> tuple[str, ...]:
    """The topic names a topics file defines (an extending file's included), without building
    the matchers (cheap: for checking alert rules and --topic filters)."""
    topics = _Check(Path(path)).mapping(topics_document(path).get("topics"), "topics")
    return tuple(map(str, topics))


def load_topics(path: str | Path) -> TopicSet:
    """Read and validate a topics file (see topics_document for one that extends another);
    any problem raises ConfigError naming file, topic, key."""
    path = Path(path)
    c = _Check(path)
    doc = topics_document(path)
    c.keys(doc, "top level", {"scoring", "topics"})
    scoring = _load_scoring(doc["scoring"], c)
    topics_raw = c.mapping(doc["topics"], "topics")
    if not topics_raw:
        raise c.fail("topics", "defines no topic")
    topics = []
    for name, body in topics_raw.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise c.fail(f"topic {name!r}", "a topic name must be a plain identifier")
        topics.append(_load_topic(name, body, c))
    # The version hashes what the file means, not how it is laid out: comments and key order
    # do not force re-tagging the archive.
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    topic_set = TopicSet(tuple(topics), scoring, version, str(path))
    for t in topic_set.topics:  # build every matcher now, not racing on first use in workers
        for lang in LANGS:
            topic_set.matcher(t.name, lang)
    return topic_set


# --- scoring -------------------------------------------------------------------------------


@dataclass(slots=True)
class _ZoneEvidence:
    total: float = 0.0
    sentences: int = 0


def _sentence_evidence(sentence: Sentence, matcher: PhraseMatcher[TermKey],
                       blocked: frozenset[str] = frozenset()) -> dict[str, float]:
    """Distinct terms in one sentence -> weight (exclusions consume their tokens silently;
    an ambiguous word whose context the article lacks, ``blocked``, counts for nothing)."""
    found: dict[str, float] = {}
    for m in matcher.find(sentence.tokens):
        kind, term, weight = m.key
        if kind != "term":
            continue
        if blocked and _surface(sentence, m) in blocked:
            continue
        found[term] = max(found.get(term, 0.0), weight)
    return found


def _surface(sentence: Sentence, m: Match[TermKey]) -> str:
    return " ".join(t.surface for t in sentence.tokens[m.start:m.end]).casefold()


def _blocked(topics: TopicSet, topic: str, lang: str,
             sentences: tuple[Sentence, ...]) -> frozenset[str]:
    """Ambiguous words of ``topic`` without any of their context phrases in the article."""
    words = topics.ambiguous(topic, lang)
    if not words:
        return frozenset()
    matcher = topics.context_matcher(topic, lang)
    present = {m.key for sent in sentences for m in matcher.find(sent.tokens)}
    return frozenset(w for w in words if w not in present)


def _calibrate(cosine: float, s: Scoring) -> float:
    return min(1.0, max(0.0, (cosine - s.semantic_low) / (s.semantic_high - s.semantic_low)))


def _collect_evidence(title_sents: Sequence[Sentence], body_sents: Sequence[Sentence], lead_idx: set[int],
                      matcher: PhraseMatcher[TermKey], blocked: frozenset[str], s: Scoring,
                      ) -> tuple[dict[str, _ZoneEvidence], list[dict[str, str]], dict[int, int]]:
    """One topic's evidence in one article: per zone (title, lead, body) the capped weight and
    sentence count, the first sentence of each distinct term, and evidence sentences per
    paragraph."""
    zones = {z: _ZoneEvidence() for z in ZONES}
    evidence: list[dict[str, str]] = []
    seen_terms: set[str] = set()
    per_paragraph: dict[int, int] = {}

    # the headline is one zone however it is punctuated
    title_found: dict[str, float] = {}
    for sent in title_sents:
        for term, w in _sentence_evidence(sent, matcher, blocked).items():
            title_found[term] = max(title_found.get(term, 0.0), w)
    if title_found:
        zones["title"].total = min(s.sentence_cap, sum(title_found.values()))
        zones["title"].sentences = 1
        headline = " ".join(t.text for t in title_sents)
        for term in title_found:
            seen_terms.add(term)
            evidence.append({"term": term, "sentence": headline, "zone": "title"})
    for i, sent in enumerate(body_sents):
        found = _sentence_evidence(sent, matcher, blocked)
        if not found:
            continue
        zone = "lead" if i in lead_idx else "body"
        zones[zone].total += min(s.sentence_cap, sum(found.values()))
        zones[zone].sentences += 1
        per_paragraph[sent.paragraph] = per_paragraph.get(sent.paragraph, 0) + 1
        for term in found:
            if term not in seen_terms:
                seen_terms.add(term)
                evidence.append({"term": term, "sentence": sent.text, "zone": zone})
    return zones, evidence, per_paragraph


def score_topics(
    title: str,
    text: str,
    lang: str,
    topics: TopicSet,
    *,
    doc_vector: np.ndarray | None = None,
    topic_vectors: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score every topic for one article.

    Returns ``{topic: {"score", "label", "evidence": [{"term", "sentence", "zone"}],
    "term_score", "semantic"}}``; ``semantic`` is the calibrated similarity, or None when no
    vectors were given (the score is then the term score alone).
    """
    s = topics.scoring
    lang = "ja" if lang == "ja" else "en"
    title_sents = analyze(title or "", lang)
    body_sents = analyze(text or "", lang)
    lead_idx = {i for i, b in enumerate(body_sents) if b.paragraph == 0 and i < s.lead_sentences}
    n_text = len(body_sents)
    # topic -> the vector of its description, when scores blend in semantic similarity
    semantic_vectors = topic_vectors if doc_vector is not None and s.semantic_weight > 0 else None

    out: dict[str, dict[str, Any]] = {}
    for topic in topics.topics:
        matcher = topics.matcher(topic.name, lang)
        blocked = _blocked(topics, topic.name, lang, title_sents + body_sents)
        zones, evidence, per_paragraph = _collect_evidence(title_sents, body_sents, lead_idx,
                                                           matcher, blocked, s)

        raw = sum(s.zone_weights[z] * zones[z].total for z in ZONES)
        term_score = 1.0 - math.exp(-raw / s.saturation)
        # Main subject = the headline, or a paragraph of substance, or a fair share of the
        # whole text (a two-sentence brief); anything less is a passing mention.
        share = (zones["lead"].total + zones["body"].total) / n_text if n_text else 0.0
        # one sentence of evidence in an article longer than a brief is a passing mention
        # whatever its share of a short text
        single = (zones["lead"].sentences + zones["body"].sentences == 1
                  and n_text > s.brief_sentences)
        passing = (
            zones["title"].sentences == 0
            and max(per_paragraph.values(), default=0) < s.min_paragraph_sentences
            and (share < s.min_share or single)
        )

        semantic: float | None = None
        score = term_score
        topic_vector = semantic_vectors.get(topic.name) if semantic_vectors is not None else None
        if topic_vector is not None and doc_vector is not None:
            cosine = float(np.dot(doc_vector, topic_vector))
            semantic = _calibrate(cosine, s)
            score = (1.0 - s.semantic_weight) * term_score + s.semantic_weight * semantic
        if passing:
            # however close the article sits to the topic's description
            score = min(score, s.passing_cap)
        out[topic.name] = {
            "score": round(score, 3),
            "label": score >= topic.threshold,
            "evidence": evidence[: s.max_evidence],
            "term_score": round(term_score, 3),
            "semantic": None if semantic is None else round(semantic, 3),
        }
    return out


def topic_vectors(topics: TopicSet, embedder: Any) -> dict[str, np.ndarray]:
    """One unit vector per topic: the mean of its descriptions embedded as queries.

    Descriptions play the role of a search query against article passages, which is how
    retrieval models such as e5 are trained to compare them.
    """
    out: dict[str, np.ndarray] = {}
    for topic in topics.topics:
        vecs = np.stack([np.asarray(embedder.embed_query(d), dtype=np.float32) for d in topic.description.values()])
        mean = vecs.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        out[topic.name] = (mean / norm if norm > 0 else mean).astype(np.float32)
    return out
