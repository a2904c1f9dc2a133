"""Signals that tell stories of one event apart: its phase, and who reacts to it.

An analyst keeps a summit's preview and its outcome apart, and one country's business reaction
to an agreement apart from another country's diplomatic reaction; the embedding puts them
close together (same actors, same agreement, same words). Two signals, read from the headline
and the lead (the first paragraph) in both languages:

- ``event_phase``: PREVIEW when the event lies ahead ("will sign", "is expected to", "ahead of",
  "to sign" in a headline; 予定, 見通し, 方針, 調整, 開催される, a headline ending in へ), OUTCOME
  when it has happened ("signed", "agreed", "sign" in a headline; 署名した, 合意した, 一致した),
  and, where the lead dates the event (「１５日に」, "on 15 November"), that date against the
  publication date. The headline counts double; a tie is no phase (None).
- ``reacting_party``: for a headline that reports a reaction (welcome, criticise, condemn,
  歓迎, 批判, 反発, 懸念…), who reacts: the countries (an organisation counts for its country)
  named before the reaction verb, and whether the reactor is a government or business.
  ``other_party`` tells whether two such parties differ.

bench/story_signals.py measures what each carries (pair precision and recall with and without
it) on the devset and the held-out sites.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

__all__ = ["OUTCOME", "PREVIEW", "event_day", "event_phase", "is_reaction", "other_party",
           "reacting_party"]

PREVIEW, OUTCOME = "preview", "outcome"

_EN_PREVIEW = re.compile(
    r"\b(?:will|won't|shall|is expected to|are expected to|expected to|is set to|are set to|"
    r"set to|is due to|are due to|due to (?:meet|sign|hold|visit|announce)|plans? to|"
    r"planning to|is to|are to|ahead of|upcoming|poised to|prepares? (?:to|for)|whether|"
    r"to (?:meet|sign|hold|visit|seal|discuss|agree|announce|host|unveil|launch)\b)", re.I)
_EN_OUTCOME = re.compile(
    r"\b(?:signed|agreed|reached|struck|sealed|concluded|announced|unveiled|held talks|met|"
    r"clinched|launched|adopted|approved|pledged|committed|said on|said in|was signed|were signed|"
    r"raised|lowered|hiked|kept|won|opened|named|appointed|elected|passed|voted|decided|"
    r"confirmed|have signed|has signed|have agreed|has agreed)\b", re.I)
# a headline's present tense reports what happened ("Japan, UK sign pacts"); "to sign" is ahead
_EN_HEADLINE_OUTCOME = re.compile(
    r"(?<!\bto )\b(?:sign|signs|agree|agrees|seal|seals|strike|strikes|clinch|clinches|unveil|"
    r"unveils|hold talks|meet|meets|back|backs|pledge|pledges|launch|launches|raise|raises|cut|"
    r"cuts|hike|hikes|lift|lifts|lower|lowers|hold|holds|keep|keeps|win|wins|open|opens|adopt|"
    r"adopts|approve|approves|confirm|confirms|decide|decides|vote|votes|pass|passes)\b", re.I)
_JA_PREVIEW = re.compile(
    r"(?:予定|見通し|方針|調整|見込み|開催される|開かれる|行われる|署名する|合意する|訪問する|会談する|"
    r"発表する|臨む|控え|前に|向け|めざす|目指す|検討|かどうか|(?:開く|行う|始める|決める)(?=。|、|$))")
_JA_OUTCOME = re.compile(
    r"(?:署名した|合意した|一致した|確認した|発表した|会談した|締結した|表明した|決めた|開いた|"
    r"行った|署名し|合意し|一致し|会談し|確認し|発表し|署名|合意|一致|締結|引き上げ(?!る)|"
    r"引き下げ(?!る)|据え置き|可決|成立|採択|承認)(?!する|へ|予定|方針|見通し)")
_JA_HEADLINE_PREVIEW = re.compile(r"へ$|へ[　\s]|予定|見通し|調整|あす|明日|きょうから")
_EN_MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"), start=1)}
_EN_DATE = re.compile(
    r"\bon (?:(\d{1,2}) (" + "|".join(_EN_MONTHS) + r")|(" + "|".join(_EN_MONTHS)
    + r") (\d{1,2}))\b", re.I)
_JA_DAY = re.compile(r"(?<![\d月年])(\d{1,2})日(?:に|から|まで|、|の|夜|朝|午前|午後)")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def _lead(text: str) -> str:
    for par in (text or "").split("\n"):
        if par.strip():
            return par.strip()[:400]
    return ""


_EN_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EN_WEEKDAY = re.compile(r"\bon (" + "|".join(_EN_WEEKDAYS) + r")\b", re.I)
_EN_RELATIVE = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}
_EN_RELATIVE_DAY = re.compile(r"\b(" + "|".join(_EN_RELATIVE) + r")\b", re.I)
_JA_RELATIVE = {"きのう": -1, "昨日": -1, "きょう": 0, "本日": 0, "今日": 0, "あす": 1, "明日": 1}
_JA_RELATIVE_DAY = re.compile("|".join(_JA_RELATIVE))


def _day_of_month(published: datetime, d: int) -> date | None:
    """The date with day of month ``d`` nearest to ``published``, within a fortnight."""
    for shift in (0, -1, 1):
        month = (published.month - 1 + shift) % 12 + 1
        year = published.year + (published.month - 1 + shift) // 12
        try:
            cand = published.replace(year=year, month=month, day=d)
        except ValueError:
            continue
        if abs(cand - published) <= timedelta(days=15):
            return cand.date()
    return None


def event_day(text: str, lang: str, published: datetime | None) -> date | None:
    """The date the lead (first paragraph) gives the event, in the publication's own time
    zone: a day of the month (「１１日に」, "on 15 November"), a relative day (あす, きょう,
    "yesterday") or, in English, a weekday that is the publication's own ("on Friday" in a
    Friday report; another weekday is ahead in a preview and behind in a report, so it is not
    read). None when the lead gives none. Two reports of one event name the same day in
    either language, which tells a summit's outcome from its preview across languages where
    the embedding barely can."""
    if published is None:
        return None
    lead = _norm(_lead(text))
    if lang == "ja":
        m = _JA_DAY.search(lead)
        r = _JA_RELATIVE_DAY.search(lead)
        if m and (r is None or m.start() < r.start()):
            return _day_of_month(published, int(m.group(1)))
        return published.date() + timedelta(days=_JA_RELATIVE[r.group(0)]) if r else None
    found: list[tuple[int, date | None]] = []
    if m := _EN_DATE.search(lead):
        month = _EN_MONTHS[(m.group(2) or m.group(3)).lower()]
        try:
            cand = published.replace(month=month, day=int(m.group(1) or m.group(4)))
        except ValueError:
            cand = None
        ok = cand is not None and abs(cand - published) <= timedelta(days=15)
        found.append((m.start(), cand.date() if ok and cand else None))
    if m := _EN_WEEKDAY.search(lead):
        same = _EN_WEEKDAYS.index(m.group(1).lower()) == published.weekday()
        found.append((m.start(), published.date() if same else None))
    if m := _EN_RELATIVE_DAY.search(lead):
        found.append((m.start(), published.date()
                      + timedelta(days=_EN_RELATIVE[m.group(1).lower()])))
    return min(found, key=lambda f: f[0])[1] if found else None


def event_phase(title: str, text: str, lang: str, published: datetime | None = None) -> str | None:
    """PREVIEW, OUTCOME or None (see the module doc)."""
    title, lead = _norm(title), _norm(_lead(text))
    if lang == "ja":
        pre = 2 * bool(_JA_HEADLINE_PREVIEW.search(title)) + len(_JA_PREVIEW.findall(lead))
        out = 2 * bool(_JA_OUTCOME.search(title) and not _JA_HEADLINE_PREVIEW.search(title)) \
            + len(_JA_OUTCOME.findall(lead))
    else:
        pre = 2 * bool(_EN_PREVIEW.search(title)) + len(_EN_PREVIEW.findall(lead))
        out = 2 * bool(_EN_OUTCOME.search(title) or (_EN_HEADLINE_OUTCOME.search(title)
                                                     and not _EN_PREVIEW.search(title))) \
            + len(_EN_OUTCOME.findall(lead))
    # an event dated on the publication day may lie either side of it: only tense tells
    day = event_day(text, lang, published)
    if day is not None and published is not None and day != published.date():
        pre += 2 * (day > published.date())
        out += 2 * (day < published.date())
    # one cue in the lead is no phase: outcome reports say what "will" follow ("the venture
    # will run the design from Reading"); a phase needs the headline, the event's date or two
    # cues more than the other side
    if pre - out >= 2:
        return PREVIEW
    if out - pre >= 2:
        return OUTCOME
    return None


_EN_REACTION = re.compile(
    r"\b(?:welcome[sd]?|criticis(?:e|es|ed)|criticiz(?:e|es|ed)|condemn(?:s|ed)?|slam(?:s|med)?|"
    r"hail(?:s|ed)?|protest(?:s|ed)?|denounce[sd]?|reject(?:s|ed)?|decr(?:y|ies|ied)|"
    r"voice[sd]? (?:concern|alarm|support)|express(?:es|ed)? (?:concern|alarm|support)|"
    r"react(?:s|ed)?|respond(?:s|ed)?|warn(?:s|ed)?|praise[sd]?|object(?:s|ed)? to|"
    r"cautiously welcome[sd]?)\b", re.I)
_JA_REACTION = re.compile(r"歓迎|批判|反発|懸念|抗議|非難|反応|けん制|牽制|称賛|評価|警戒|不快感|遺憾")
_GOVERNMENT = re.compile(
    r"\b(?:government|ministry|minister|foreign office|spokes(?:man|woman|person)|embassy|"
    r"officials?|beijing|washington|state department)\b|政府|外務省|外交部|報道官|大使館|省|首相|大臣|長官",
    re.I)
_BUSINESS = re.compile(
    r"\b(?:business(?:es)?|industry|industries|companies|firms|miners|mining companies|"
    r"trading houses|manufacturers|investors|chambers? of commerce|lobby|employers|carmakers|"
    r"exporters|importers|banks)\b|経済界|産業界|財界|企業|商社|経団連|業界|メーカー|経済団体|商工会議所|投資家",
    re.I)
_ORG_COUNTRY = re.compile(r"^org/([a-z]{2})-")
_COUNTRY_CODES = {"uk": "gb"}


def _country_of(entity_id: str) -> str | None:
    """The country an entity stands for: itself for a country; for an organisation, the
    country its gazetteer id names (org/<code>-…: org/cn-mfa is China's foreign ministry)."""
    if entity_id.startswith("country/"):
        return entity_id
    m = _ORG_COUNTRY.match(entity_id)
    return f"country/{_COUNTRY_CODES.get(m.group(1), m.group(1))}" if m else None


def reacting_party(title: str, lang: str,
                   entities_of: Callable[[str], Iterable[str]]) -> frozenset[str]:
    """Who reacts, for a headline that reports a reaction (else empty): ``entities_of`` gives
    the gazetteer entity ids named in a piece of text; the party is the countries named
    before the reaction verb (an organisation counts for its country) and ``kind:government``
    or ``kind:business`` by the words there."""
    title = _norm(title)
    m = (_JA_REACTION if lang == "ja" else _EN_REACTION).search(title)
    if not m:
        return frozenset()
    subject = title[: m.start()]
    if lang == "ja":
        # 中国外務省、日英の鉱物協力を批判: the reactor is before the first 、 or が/は
        cut = re.search(r"[、,]|が|は", subject)
        subject = subject[: cut.start()] if cut else subject
    party = {c for eid in entities_of(subject) if (c := _country_of(eid))}
    if _GOVERNMENT.search(subject):
        party.add("kind:government")
    if _BUSINESS.search(subject):
        party.add("kind:business")
    return frozenset(party)


def other_party(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two reactions come from different parties: both name countries and share none,
    or both name a kind (government, business) and share none."""
    if not a or not b:
        return False
    ca, cb = {x for x in a if x.startswith("country/")}, {x for x in b if x.startswith("country/")}
    ka, kb = a - ca, b - cb
    return bool(ca and cb and not ca & cb) or bool(ka and kb and not ka & kb)


def is_reaction(title: str, lang: str) -> bool:
    """Whether a headline reports a reaction to the event (welcome, criticise, 歓迎, 批判…)
    rather than the event itself."""
    return bool((_JA_REACTION if lang == "ja" else _EN_REACTION).search(_norm(title)))
