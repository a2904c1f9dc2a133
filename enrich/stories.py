"""Story clustering: which stored article reports the same news event, in any outlet or language.

Two tests, in this order, against articles that already have a story:

1. **Near-duplicate** (syndicated copy with small edits, AMP or tracking-parameter variant):
   MinHash Jaccard of the shingle sets >= ``dup_threshold`` within ``dup_window_hours``. A copy
   published days later still joins its original's story.
2. **Same event** (other outlet, other language): paragraph-alignment similarity of the two
   articles inside ``window_hours``. For every body paragraph of one article take its best
   match among the other's paragraphs, average, and do the same the other way round. Before
   comparing, each paragraph vector has its language's mean vector removed ("centring"):
   e5 vectors share a large common component (language, and the news of the week), which is
   why raw cosines sit in a narrow band; without it, summit coverage and the cyber angle of
   the same summit are closer than an English report and its Japanese counterpart. Pairs in
   one language and across languages have their own thresholds (cross-language similarity is
   systematically lower); a story's score is the mean over its members in the window, minus
   the threshold, and the best story with a non-negative score wins. While a language has
   fewer than ``center_min_articles`` articles its mean is a small sample, and a join across
   such an article needs ``early_margin`` more (a first run is judged by a stricter rule).
   Two more signals guard the embedding: a pair that shares no anchor (a specific entity of
   the gazetteer, or a number; ``anchors``) needs ``anchor_margin`` more, and inside one source
   paragraphs repeated word for word (its template) are left out of the alignment.
   An editorial or opinion piece (``is_opinion``) is its own event: it joins a story only as
   a near-duplicate, and nothing joins its story by similarity.
   Two more tell apart stories of one event that an analyst keeps apart: its **phase**
   (``event_phase``: a preview, "will sign", 署名へ, against an outcome, "signed", 署名した,
   by tense and time words and by the event's date against the publication date) and, for
   reactions, the **party** that reacts (``reacting_party``: the country or organisation, and
   whether government or business, named before the reaction verb of the headline). A pair
   whose phases differ needs ``phase_margin`` more, and two reactions of different parties
   ``party_margin`` more. The same signals also vouch for a pair across languages, where
   the cosine of two reports of one event runs low even after centring (on held-out sites a
   summit's English and Japanese outcome reports sat 0.02-0.06 under the threshold): an
   English and a Japanese article in the same phase, neither a reaction, sharing a specific
   entity and not dated to different days (``event_day``) need ``cross_event_bonus`` less
   (``same_event_across``).

Otherwise the article starts a new story whose id is its own id. Articles are assigned in
published order, and a story id is never renamed: new members only ever join.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from newsmon.enrich.minhash import similarities
from newsmon.enrich.story_phase import other_party

JOIN_DUPLICATE, JOIN_SIMILAR, NEW_STORY = "duplicate", "similar", "new"
# cosine of two centred paragraph vectors at or above which they are the same text (the model is
# deterministic: identical text gives 1.0; different paragraphs stay well below)
IDENTICAL = 0.995


@dataclass(frozen=True, slots=True)
class StoryParams:
    dup_threshold: float = 0.5
    dup_window_hours: float = 720.0
    window_hours: float = 72.0
    same_lang: float = 0.38
    cross_lang: float = 0.32
    # added to both thresholds where either article was centred by the all-language mean (its
    # language had too few articles for a mean of its own): the stricter rule of a first run
    early_margin: float = 0.03
    # added where the two articles share no anchor (a specific entity or a number, see
    # ``anchors``): a second signal beside the embedding for joins near the threshold
    anchor_margin: float = 0.0
    # added where one article previews the event and the other reports its outcome
    # (``event_phase``), and where two reactions come from different parties
    # (``reacting_party``)
    phase_margin: float = 0.0
    party_margin: float = 0.0
    # taken off the cross-language threshold for two reports of one event in the same phase
    # (``same_event_across``): the cross-language cosine is biased low even after centring
    cross_event_bonus: float = 0.0


@dataclass(slots=True)
class StoryItem:
    """What story assignment needs of one article."""

    id: str
    lang: str
    published: float  # hours since the epoch (UTC); articles without a date use fetch time
    signature: np.ndarray  # MinHash, uint32
    paragraphs: np.ndarray  # centred, unit body-paragraph vectors (m, dim)
    story: str | None = None
    own_mean: bool = True  # centred by its own language's mean (else the all-language one)
    opinion: bool = False  # an editorial or opinion piece: joins a story only as a copy
    anchors: frozenset[str] = frozenset()  # specific entities and numbers (``anchors``)
    source: str = ""  # the source id: paragraphs repeated within one source are its template
    phase: str | None = None  # PREVIEW or OUTCOME (``event_phase``), None when unclear
    party: frozenset[str] = frozenset()  # who reacts, for a reaction (``reacting_party``)
    reaction: bool = False  # the headline reports a reaction (``is_reaction``)
    day: date | None = None  # the event's date as the lead gives it (``event_day``)


@dataclass(frozen=True, slots=True)
class Assignment:
    story: str
    how: str  # duplicate | similar | new
    score: float  # Jaccard estimate, margin over the threshold, or 0.0 for a new story
    via: str | None  # the member that decided it


def body_vectors(chunks: np.ndarray, has_title: bool) -> np.ndarray:
    """The paragraph vectors used for alignment: the headline chunk is left out when present."""
    if has_title and len(chunks) > 1:
        return chunks[1:]
    return chunks


def center(vectors: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """Remove a language mean and renormalise rows (a zero row stays zero)."""
    out = np.asarray(vectors, dtype=np.float32)
    if mean is not None:
        out = out - mean[None, :].astype(np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    centred: np.ndarray = (out / norms).astype(np.float32)
    return centred


def alignment(a: np.ndarray, b: np.ndarray, *, skip_identical: bool = False) -> float:
    """Symmetric paragraph alignment: mean best-match similarity, averaged over both sides.

    With ``skip_identical`` (two articles of one source), a paragraph that has a copy in the
    other article is left out of both means while other paragraphs remain: inside one site a
    paragraph repeated word for word is its template (an advertisement block, a table header
    the boilerplate memory has not learnt yet), not evidence of one event."""
    if len(a) == 0 or len(b) == 0:
        return -1.0
    sims = a @ b.T
    if skip_identical:
        same = sims >= IDENTICAL
        rows, cols = ~same.any(axis=1), ~same.any(axis=0)
        if rows.any() and cols.any():
            sims = sims[rows][:, cols]
    return 0.5 * (float(sims.max(axis=1).mean()) + float(sims.max(axis=0).mean()))


class LanguageMeans:
    """Running sums of paragraph vectors per language, to centre by (see module docstring)."""

    def __init__(self, dim: int, *, min_articles: int = 10) -> None:
        self.dim = dim
        self.min_articles = min_articles
        self._sums: dict[str, np.ndarray] = {}
        self._rows: dict[str, int] = {}
        self._articles: dict[str, int] = {}

    def add(self, lang: str, chunks: np.ndarray) -> None:
        if len(chunks) == 0:
            return
        s = self._sums.setdefault(lang, np.zeros(self.dim, dtype=np.float64))
        s += np.asarray(chunks, dtype=np.float64).sum(axis=0)
        self._rows[lang] = self._rows.get(lang, 0) + len(chunks)
        self._articles[lang] = self._articles.get(lang, 0) + 1

    def has_own(self, lang: str) -> bool:
        """Whether ``lang`` has enough articles to be centred by its own mean."""
        return self._articles.get(lang, 0) >= self.min_articles

    def mean(self, lang: str) -> np.ndarray | None:
        """This language's own mean as soon as it has two articles (before ``min_articles`` it
        is a small sample, and joins need ``early_margin`` more, see ``StoryParams``); the
        all-language mean for a language's first article; None when there is nothing to centre
        by. (Centring a language by the all-language mean inflates same-language similarity:
        on the devset it drops story precision from 0.97 to 0.24, while the own mean of five
        articles keeps 0.82 at recall 0.91, and 1.0 at 0.77 with a margin of 0.03.)"""
        if self._articles.get(lang, 0) >= 2:
            return (self._sums[lang] / self._rows[lang]).astype(np.float32)
        total_rows = sum(self._rows.values())
        if sum(self._articles.values()) < 2 or total_rows == 0:
            return None
        every = np.zeros(self.dim, dtype=np.float64)
        for sums in self._sums.values():
            every += sums
        return (every / total_rows).astype(np.float32)

    def counts(self) -> dict[str, int]:
        return dict(self._articles)


class StoryAssigner:
    """Assigns stories one article at a time against a pool of already assigned articles."""

    def __init__(self, params: StoryParams, pool: Iterable[StoryItem] = ()) -> None:
        self.params = params
        self._pool: list[StoryItem] = []
        for item in pool:
            if item.story is None:
                raise ValueError(f"pool article {item.id} has no story")
            self._pool.append(item)

    def __len__(self) -> int:
        return len(self._pool)

    def add(self, item: StoryItem) -> None:
        if item.story is None:
            raise ValueError(f"article {item.id} has no story")
        self._pool.append(item)

    def forget_before(self, hours: float) -> None:
        """Drop pool articles too old to match anything published at or after ``hours``."""
        horizon = max(self.params.dup_window_hours, self.params.window_hours)
        self._pool = [p for p in self._pool if p.published >= hours - horizon]

    def assign(self, item: StoryItem) -> Assignment:
        """Choose the story of ``item`` and add it to the pool."""
        result = self._near_duplicate(item)
        if result is None and not item.opinion:
            result = self._same_event(item)
        if result is None:
            result = Assignment(item.id, NEW_STORY, 0.0, None)
        item.story = result.story
        self._pool.append(item)
        return result

    def _near_duplicate(self, item: StoryItem) -> Assignment | None:
        p = self.params
        near = [c for c in self._pool if abs(c.published - item.published) <= p.dup_window_hours
                and c.signature.shape == item.signature.shape]
        if not near:
            return None
        sims = similarities(item.signature, np.stack([c.signature for c in near]))
        best = _argbest(sims, near)
        if best is None or sims[best] < p.dup_threshold:
            return None
        return Assignment(near[best].story or near[best].id, JOIN_DUPLICATE, float(sims[best]),
                          near[best].id)

    def _same_event(self, item: StoryItem) -> Assignment | None:
        p = self.params
        by_story: dict[str, list[tuple[float, str]]] = {}
        for c in self._pool:
            if abs(c.published - item.published) > p.window_hours:
                continue
            if c.paragraphs.shape[1:] != item.paragraphs.shape[1:]:
                continue  # another model's vectors: never compared
            if c.opinion:
                continue  # an opinion piece's story is its own (and its copies')
            if c.lang == item.lang:
                threshold = p.same_lang
            else:
                threshold = p.cross_lang - p.cross_event_bonus * same_event_across(item, c)
            if not (item.own_mean and c.own_mean):
                threshold += p.early_margin
            if p.anchor_margin and not (item.anchors & c.anchors):
                threshold += p.anchor_margin
            if item.phase and c.phase and item.phase != c.phase:
                threshold += p.phase_margin
            if other_party(item.party, c.party):
                threshold += p.party_margin
            same_source = bool(item.source) and item.source == c.source
            margin = alignment(item.paragraphs, c.paragraphs,
                               skip_identical=same_source) - threshold
            by_story.setdefault(c.story or c.id, []).append((margin, c.id))
        best: tuple[float, str, str] | None = None
        for story in sorted(by_story):  # sorted: ties resolve the same way in every run
            members = by_story[story]
            score = sum(m for m, _ in members) / len(members)
            via = max(members)[1]
            if score >= 0 and (best is None or score > best[0]):
                best = (score, story, via)
        if best is None:
            return None
        return Assignment(best[1], JOIN_SIMILAR, round(best[0], 4), best[2])


_OPINION_TITLE = re.compile(
    r"^\s*[【\[（(]?\s*(?:社説|主張|論説|コラム|オピニオン|editorial|opinion|comment|leader|"
    r"analysis|op-ed)\s*[】\]）)]?\s*[:：|｜\-–—　 ]", re.I)
_OPINION_PATH = re.compile(
    r"/(?:opinion|opinions|editorial|editorials|comment|commentisfree|columns?|op-ed|shasetsu|"
    r"column|ronsetsu|editorial-board)/", re.I)


def is_opinion(title: str, url: str) -> bool:
    """An editorial, column or opinion piece, by its headline's label or its URL's section.
    Opinion is its own event (an editorial on a deal is not a report of the deal), so such a
    piece joins a story only as a near-duplicate."""
    return bool(_OPINION_TITLE.match(title or "") or _OPINION_PATH.search(urlsplit(url).path))


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def anchors(title: str, text: str, entities: Iterable[dict[str, Any]] | None) -> frozenset[str]:
    """What two reports of one event tend to share whatever their language: the gazetteer's
    specific entities (people, organisations, programmes, minerals; countries are too common to
    tell events apart) and the numbers in the text (NFKC, so １２０人 and 120 officials agree),
    leaving out numbers below 10 and years 1900-2099, which most articles share."""
    out = {f"e:{e['id']}" for e in entities or []
           if isinstance(e, dict) and e.get("id") and e.get("type") != "country"}
    folded = unicodedata.normalize("NFKC", f"{title}\n{text}").replace(",", "")
    for number in _NUMBER.findall(folded):
        value = float(number)
        if value < 10 or (value.is_integer() and 1900 <= value <= 2099):
            continue
        out.add(f"n:{value:g}")
    return frozenset(out)


def same_event_across(a: StoryItem, b: StoryItem) -> bool:
    """Whether two articles read as reports of one event by what the embedding does not carry
    across languages: both in the same phase (both previews, or both outcomes), neither a
    reaction, sharing a specific entity of the gazetteer, and not dated to different days."""
    return (a.phase is not None and a.phase == b.phase and not a.reaction and not b.reaction
            and any(x.startswith("e:") for x in a.anchors & b.anchors)
            and (a.day is None or b.day is None or a.day == b.day))


def _argbest(values: np.ndarray, items: Sequence[StoryItem]) -> int | None:
    """Index of the highest value; ties go to the earliest published, then smallest id."""
    if len(values) == 0:
        return None
    top = float(values.max())
    tied = [i for i, v in enumerate(values) if math.isclose(float(v), top)]
    return min(tied, key=lambda i: (items[i].published, items[i].id))


__all__ = [
    "Assignment", "LanguageMeans", "StoryAssigner", "StoryItem", "StoryParams",
    "alignment", "anchors", "body_vectors", "center", "is_opinion", "same_event_across",
    "JOIN_DUPLICATE", "JOIN_SIMILAR", "NEW_STORY",
]
