"""Entities from a bilingual gazetteer (``config/entities.yaml``).

Countries, leaders, ministries and agencies, programmes and minerals, each with an id, a type
and names per language, found in an article's title and text by phrase matching on normalised
tokens (see ``enrich.text``): Sudachi tokens for Japanese, stemmed tokens for English, never
whitespace splitting for Japanese. The result is stored with the article as
``[{"id", "type", "name", "count"}]``.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsmon.enrich.text import PhraseMatcher, analyze
from newsmon.index.core.errors import ConfigError
from newsmon.index.core.yamlfile import load_yaml

__all__ = ["Entity", "Gazetteer", "load_gazetteer", "find_entities", "ENTITY_TYPES"]

ENTITY_TYPES = ("country", "person", "organisation", "programme", "mineral")
LANGS = ("en", "ja")


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    type: str
    names: Mapping[str, tuple[str, ...]]  # lang -> names, the first is the display name

    def display_name(self, lang: str) -> str:
        for candidate in (lang, "en", "ja"):
            if self.names.get(candidate):
                return self.names[candidate][0]
        return self.id


@dataclass(frozen=True)
class Gazetteer:
    entities: tuple[Entity, ...]
    version: str  # hash of the definition: a change means articles need re-tagging
    source: str = ""
    # (doc lang) -> matcher; built once at load time
    _matchers: dict[str, PhraseMatcher[tuple[str, ...]]] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, entity_id: str) -> Entity:
        for e in self.entities:
            if e.id == entity_id:
                return e
        raise KeyError(entity_id)

    def matcher(self, lang: str) -> PhraseMatcher[tuple[str, ...]]:
        return self._matchers["ja" if lang == "ja" else "en"]


def _is_acronym(name: str) -> bool:
    # UK, US, MoD, NCSC: words in lower case ("us", "mod"), so they must keep their capitals
    return len(name) <= 6 and sum(c.isupper() for c in name) >= 2


def _fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}", reason="entities")


def _parse_name(raw: Any, path: Path, where: str) -> tuple[str, bool]:
    if isinstance(raw, str) and raw.strip():
        return raw.strip(), _is_acronym(raw.strip())
    if isinstance(raw, dict):
        unknown = set(raw) - {"name", "case_sensitive"}
        if unknown:
            raise _fail(path, where, f"unknown key(s) {sorted(unknown)}; allowed: case_sensitive, name")
        name, cs = raw.get("name"), raw.get("case_sensitive", None)
        if not isinstance(name, str) or not name.strip():
            raise _fail(path, where, f"'name' must be a non-empty string, got {name!r}")
        if cs is not None and not isinstance(cs, bool):
            raise _fail(path, where, f"'case_sensitive' must be true or false, got {cs!r}")
        return name.strip(), _is_acronym(name.strip()) if cs is None else cs
    raise _fail(path, where, f"a name must be a string or {{name, case_sensitive}}, got {raw!r}")


def load_gazetteer(path: str | Path) -> Gazetteer:
    """Read and validate a gazetteer; any problem raises ConfigError naming file, entity and key."""
    path = Path(path)
    doc = load_yaml(path, "gazetteer", reason="entities")
    if not isinstance(doc, dict) or set(doc) != {"entities"}:
        raise _fail(path, "top level", "must be a mapping with exactly one key, 'entities'")
    if not isinstance(doc["entities"], list) or not doc["entities"]:
        raise _fail(path, "entities", "must be a non-empty list")

    entities: list[Entity] = []
    seen: set[str] = set()
    # phrase (lang, name, case_sensitive) -> entity ids, so that one name may count several
    phrases: dict[tuple[str, str, bool], list[str]] = {}
    for i, raw in enumerate(doc["entities"]):
        where = f"entity #{i + 1}"
        if not isinstance(raw, dict):
            raise _fail(path, where, f"must be a mapping, got {type(raw).__name__}")
        if isinstance(raw.get("id"), str):
            where = f"entity {raw['id']!r}"
        unknown = set(raw) - {"id", "type", "names"}
        if unknown:
            raise _fail(path, where, f"unknown key(s) {sorted(unknown)}; allowed: id, names, type")
        for key in ("id", "type", "names"):
            if key not in raw:
                raise _fail(path, where, f"missing key {key!r}")
        eid = raw["id"]
        if not isinstance(eid, str) or not eid.strip():
            raise _fail(path, where, f"key 'id' must be a non-empty string, got {eid!r}")
        if eid in seen:
            raise _fail(path, where, "key 'id' is a duplicate")
        seen.add(eid)
        if raw["type"] not in ENTITY_TYPES:
            raise _fail(path, where, f"key 'type' must be one of {', '.join(ENTITY_TYPES)}, got {raw['type']!r}")
        names_raw = raw["names"]
        if not isinstance(names_raw, dict) or not names_raw:
            raise _fail(path, where, "key 'names' must map a language (en, ja) to a list of names")
        names: dict[str, tuple[str, ...]] = {}
        for lang, items in names_raw.items():
            key = f"key 'names.{lang}'"
            if lang not in LANGS:
                raise _fail(path, where, f"{key}: language must be one of {', '.join(LANGS)}")
            if not isinstance(items, list) or not items:
                raise _fail(path, where, f"{key} must be a non-empty list")
            parsed = []
            for item in items:
                name, cs = _parse_name(item, path, f"{where}: {key}")
                probe: PhraseMatcher[None] = PhraseMatcher()  # only checks that a name has words
                if not probe.add(name, lang, None):
                    raise _fail(path, where, f"{key}: {name!r} has no word in it")
                parsed.append(name)
                ids = phrases.setdefault((lang, name, cs), [])
                if eid not in ids:
                    ids.append(eid)
            names[lang] = tuple(parsed)
        entities.append(Entity(eid, raw["type"], names))

    matchers: dict[str, PhraseMatcher[tuple[str, ...]]] = {"en": PhraseMatcher(), "ja": PhraseMatcher()}
    for (lang, name, cs), ids in phrases.items():
        doc_langs = ("ja", "en") if lang == "en" else ("ja",)
        for doc_lang in doc_langs:
            matchers[doc_lang].add(name, lang, tuple(ids), case_sensitive=cs)
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    return Gazetteer(tuple(entities), version, str(path), matchers)


def find_entities(title: str, text: str, lang: str, gazetteer: Gazetteer) -> list[dict[str, Any]]:
    """Entities in the title and text: ``[{"id", "type", "name", "count"}]``, most mentioned first.

    ``name`` is the entity's display name in the article's language; ``count`` the number of
    mentions in title and text together.
    """
    lang = "ja" if lang == "ja" else "en"
    matcher = gazetteer.matcher(lang)
    counts: dict[str, int] = {}
    for part in (title or "", text or ""):
        for sent in analyze(part, lang):
            for m in matcher.find(sent.tokens):
                for eid in m.key:
                    counts[eid] = counts.get(eid, 0) + 1
    out: list[dict[str, Any]] = []
    for eid, count in counts.items():
        e = gazetteer[eid]
        out.append({"id": e.id, "type": e.type, "name": e.display_name(lang), "count": count})
    out.sort(key=lambda d: (-d["count"], d["id"]))
    return out
