"""Alert rules are data (config/alerts.yaml), loaded into frozen objects and validated strictly.

A rule is a saved search (query, mode, filters) plus an optional minimum relevance, channels and a digest
setting; the file also holds the source-health settings. Every error names the file, the rule
and the key, like crawler/sources.py.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from newsmon.index.core.errors import ConfigError
from newsmon.index.core.yamlfile import load_yaml

MODES = ("hybrid", "semantic", "keyword")
Mode = Literal["hybrid", "semantic", "keyword"]  # a search mode, as SearchRequest takes it
# A rule without min_score alerts on articles whose relevance (newsmon.app.search: the chance
# the article is about the query) is at least this: more likely about the query than not.
ALERT_RELEVANCE = 0.5
LANGS = ("en", "ja")
CHANNEL_TYPES = ("file", "feed", "webhook", "email", "stdout", "apprise")
DIGESTS = ("off", "per_run")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ENV_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")

RULE_KEYS = {
    "id": "unique short name, [a-z0-9-]",
    "description": "what the rule is for, in words (shown in alerts)",
    "query": "search text, English or Japanese",
    "mode": "hybrid, semantic or keyword (default hybrid)",
    "lang": "en, ja, or a list (default: both)",
    "topics": "topics every match must carry: a list, or a mapping topic -> minimum score",
    "topics_any": "topics of which every match must carry at least one (a list)",
    "sources": "source ids a match must come from (default: any)",
    "entities": "entity ids (config/entities.yaml) a match must mention: a list, or a mapping "
                "entity -> minimum number of mentions (a passing mention is one)",
    "min_score": "optional: the relevance (0..1, as search reports it) at or above which an "
                 "article alerts; without it, articles clearly about the query (0.5)",
    "channels": "where alerts go: a list of {type: file|feed|webhook|email|stdout|apprise, "
                "...}",
    "digest": "off (one message per alert) or per_run (one message per channel per run)",
    "enabled": "false to keep the rule without evaluating it",
}
CHANNEL_KEYS = {
    "file": {"type", "path"},
    "feed": {"type", "path"},
    "webhook": {"type", "url_env"},
    "email": {"type", "to", "subject_prefix"},
    "stdout": {"type"},
    "apprise": {"type", "urls_env"},
}
HEALTH_KEYS = {
    "failed_runs": "a source whose listings all fail this many crawl runs in a row is failing",
    "silence_factor": "a source silent this many times its usual gap between articles is silent",
    "min_silence_hours": "...but never before this many hours without a new article",
    "channels": "where health alerts and recovery notices go",
    "enabled": "false to switch source health off",
}


@dataclass(frozen=True, slots=True)
class Channel:
    type: str
    path: str | None = None          # file, feed
    url_env: str | None = None       # webhook
    to: tuple[str, ...] = ()         # email
    subject_prefix: str = "[newsmon]"
    urls_env: str | None = None      # apprise

    @property
    def key(self) -> str:
        """Names the channel in the outbox: one delivery per (alert, key)."""
        if self.type == "file":
            return f"file:{self.path}"
        if self.type == "feed":
            return f"feed:{self.path}"
        if self.type == "webhook":
            return f"webhook:{self.url_env}"
        if self.type == "email":
            return "email:" + ",".join(self.to)
        if self.type == "apprise":
            return f"apprise:{self.urls_env}"
        return "stdout"

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": self.type}
        for name in ("path", "url_env", "urls_env"):
            if getattr(self, name) is not None:
                spec[name] = getattr(self, name)
        if self.type == "email":
            spec["to"] = list(self.to)
            spec["subject_prefix"] = self.subject_prefix
        return spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Channel:
        return cls(type=spec["type"], path=spec.get("path"), url_env=spec.get("url_env"),
                   to=tuple(spec.get("to") or ()),
                   subject_prefix=spec.get("subject_prefix", "[newsmon]"),
                   urls_env=spec.get("urls_env"))


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    query: str
    mode: Mode = "hybrid"
    description: str = ""
    langs: tuple[str, ...] = ()
    topics: tuple[tuple[str, float | None], ...] = ()
    topics_any: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    entities: tuple[tuple[str, int], ...] = ()
    min_score: float | None = None   # None: ALERT_RELEVANCE (articles clearly about the query)
    channels: tuple[Channel, ...] = ()
    digest: str = "off"
    enabled: bool = True

    @property
    def cursor(self) -> str:
        return f"rule:{self.id}"

    @property
    def threshold(self) -> float:
        """The relevance an article needs to alert: ``min_score``, else ALERT_RELEVANCE."""
        return ALERT_RELEVANCE if self.min_score is None else self.min_score


@dataclass(frozen=True, slots=True)
class HealthConfig:
    failed_runs: int = 3
    silence_factor: float = 4.0
    min_silence_hours: float = 24.0
    channels: tuple[Channel, ...] = ()
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class AlertConfig:
    path: Path
    rules: tuple[Rule, ...] = ()
    health: HealthConfig = field(default_factory=HealthConfig)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise ConfigError(f"{self.path}: no rule {rule_id!r}; rules: "
                          f"{', '.join(r.id for r in self.rules) or '(none)'}")


def _where(path: Path, index: int, rid: object) -> str:
    return f"{path}: rules[{index}]" + (f" (id={rid})" if rid else "")


def _str_list(value: object, where: str, key: str, *, allowed: tuple[str, ...] | None = None
              ) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: '{key}' must be a string or a list of strings, "
                          f"got {value!r}")
    if allowed is not None:
        bad = [v for v in value if v not in allowed]
        if bad:
            raise ConfigError(f"{where}: '{key}' has {bad[0]!r}; allowed values: "
                              f"{', '.join(allowed)}")
    return tuple(value)


def _number(value: object, where: str, key: str, *, low: float | None = None,
            high: float | None = None, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            integer and not float(value).is_integer()):
        raise ConfigError(f"{where}: '{key}' must be a {'whole ' if integer else ''}number, "
                          f"got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{where}: '{key}' = {value!r} must be {span}")
    return int(value) if integer else float(value)


def parse_channel(raw: object, where: str, owner: str = "alerts") -> Channel:
    """One channel; ``owner`` (the rule's id, or "health") names a feed channel's default file."""
    if not isinstance(raw, dict) or raw.get("type") not in CHANNEL_TYPES:
        raise ConfigError(f"{where}: a channel must be a mapping with 'type' one of "
                          f"{', '.join(CHANNEL_TYPES)}, got {raw!r}")
    kind = raw["type"]
    where = f"{where} ({kind})"
    unknown = set(raw) - CHANNEL_KEYS[kind]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                          f"allowed: {', '.join(sorted(CHANNEL_KEYS[kind]))}")
    if kind == "file":
        path = raw.get("path")
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{where}: 'path' must name a file (relative: in the data folder)")
        return Channel(type=kind, path=path)
    if kind == "feed":
        path = raw.get("path", f"feeds/{owner}.atom")
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{where}: 'path' must name the Atom file (relative: in the data "
                              f"folder; default feeds/<rule>.atom)")
        return Channel(type=kind, path=path)
    if kind in ("webhook", "apprise"):
        key = "url_env" if kind == "webhook" else "urls_env"
        name = raw.get(key)
        if not isinstance(name, str) or not ENV_RE.match(name):
            raise ConfigError(
                f"{where}: '{key}' must name an environment variable (like NEWSMON_WEBHOOK_URL)"
                f" that holds the URL{'s' if kind == 'apprise' else ''}; secrets never go in "
                f"this file, got {name!r}")
        if kind == "webhook":
            return Channel(type=kind, url_env=name)
        return Channel(type=kind, urls_env=name)
    if kind == "email":
        to = _str_list(raw.get("to"), where, "to")
        if not to:
            raise ConfigError(f"{where}: 'to' must give at least one address")
        for address in to:
            if not EMAIL_RE.match(address):
                raise ConfigError(f"{where}: 'to' has {address!r}, which is not an address")
        prefix = raw.get("subject_prefix", "[newsmon]")
        if not isinstance(prefix, str):
            raise ConfigError(f"{where}: 'subject_prefix' must be a string")
        return Channel(type=kind, to=to, subject_prefix=prefix)
    return Channel(type="stdout")


def _channels(value: object, where: str, owner: str) -> tuple[Channel, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: 'channels' must be a list of channels")
    channels = tuple(parse_channel(c, f"{where}: channels[{i}]", owner)
                     for i, c in enumerate(value))
    keys = [c.key for c in channels]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"{where}: 'channels' lists {key} twice")
    return channels


def parse_rule(raw: object, path: Path, index: int) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: rules[{index}] must be a mapping with keys "
                          f"{', '.join(sorted(RULE_KEYS))}")
    rid = raw.get("id")
    where = _where(path, index, rid)
    unknown = set(raw) - set(RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                          f"allowed: {', '.join(sorted(RULE_KEYS))}")
    if not isinstance(rid, str) or not ID_RE.match(rid):
        raise ConfigError(f"{where}: 'id' must be lower-case letters, digits and '-'")
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ConfigError(f"{where}: 'query' must be non-empty text")
    mode = raw.get("mode", "hybrid")
    if mode not in MODES:
        raise ConfigError(f"{where}: 'mode' is {mode!r}; allowed values: {', '.join(MODES)}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: 'description' must be text")
    langs = _str_list(raw.get("lang"), where, "lang", allowed=LANGS)
    topics_raw = raw.get("topics")
    topics: list[tuple[str, float | None]] = []
    if isinstance(topics_raw, dict):
        for name, minimum in topics_raw.items():
            if not isinstance(name, str):
                raise ConfigError(f"{where}: 'topics' keys must be topic names")
            topics.append((name, None if minimum is None else
                           _number(minimum, where, f"topics.{name}", low=0.0, high=1.0)))
    else:
        topics = [(t, None) for t in _str_list(topics_raw, where, "topics")]
    mins = {m for _, m in topics if m is not None}
    if len(mins) > 1:
        raise ConfigError(f"{where}: 'topics' gives different minimum scores {sorted(mins)}; "
                          f"the search filter takes one minimum for all listed topics")
    entities_raw = raw.get("entities")
    entities: list[tuple[str, int]] = []
    if isinstance(entities_raw, dict):
        for name, minimum in entities_raw.items():
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where}: 'entities' keys must be entity ids")
            entities.append((name, int(_number(1 if minimum is None else minimum, where,
                                                f"entities.{name}", low=1, integer=True))))
    else:
        entities = [(e, 1) for e in _str_list(entities_raw, where, "entities")]
    min_score = None if raw.get("min_score") is None else \
        _number(raw["min_score"], where, "min_score", low=0.0)
    if min_score is not None and min_score > 1:
        raise ConfigError(f"{where}: 'min_score' = {min_score} must be at most 1 (the "
                          f"relevance search reports, 0..1; leave it out for the default "
                          f"{ALERT_RELEVANCE})")
    digest = raw.get("digest", "off")
    if digest is False:
        digest = "off"
    if digest not in DIGESTS:
        raise ConfigError(f"{where}: 'digest' is {digest!r}; allowed values: "
                          f"{', '.join(DIGESTS)}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: 'enabled' must be true or false, not {enabled!r}")
    channels = _channels(raw.get("channels"), where, rid)
    if not channels:
        raise ConfigError(f"{where}: 'channels' must list at least one channel")
    return Rule(
        id=rid, query=query.strip(), mode=mode, description=description.strip(), langs=langs,
        topics=tuple(topics), topics_any=_str_list(raw.get("topics_any"), where, "topics_any"),
        sources=_str_list(raw.get("sources"), where, "sources"),
        entities=tuple(entities), min_score=min_score,
        channels=channels, digest=digest, enabled=enabled,
    )


def parse_health(raw: object, path: Path) -> HealthConfig:
    where = f"{path}: health"
    if raw is None:
        return HealthConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with keys {', '.join(sorted(HEALTH_KEYS))}")
    unknown = set(raw) - set(HEALTH_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                          f"allowed: {', '.join(sorted(HEALTH_KEYS))}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: 'enabled' must be true or false, not {enabled!r}")
    return HealthConfig(
        failed_runs=int(_number(raw.get("failed_runs", 3), where, "failed_runs", low=1,
                                integer=True)),
        silence_factor=_number(raw.get("silence_factor", 4.0), where, "silence_factor", low=1),
        min_silence_hours=_number(raw.get("min_silence_hours", 24.0), where,
                                  "min_silence_hours", low=0),
        channels=_channels(raw.get("channels"), where, "health"),
        enabled=enabled,
    )


def _unknown_name(where: str, key: str, name: str, known: set[str], what: str) -> ConfigError:
    # an id's last part alone ("GCAP" for programme/gcap) is the likeliest slip, then spelling
    near = [k for k in sorted(known) if k.rsplit("/", 1)[-1] == name.lower()]
    near += [k for k in difflib.get_close_matches(name.lower(), sorted(known), n=3, cutoff=0.6)
             if k not in near]
    hint = f" (did you mean {' or '.join(near)}?)" if near else ""
    return ConfigError(f"{where}: '{key}' has {name!r}; known {what}: "
                       f"{', '.join(sorted(known))}{hint}")


def load_rules(path: str | Path, *, known_topics: set[str] | None = None,
               known_sources: set[str] | None = None,
               known_entities: set[str] | None = None) -> AlertConfig:
    """Load and validate an alert rules file; raise ConfigError naming the file, rule and key.

    ``known_topics`` / ``known_sources`` / ``known_entities``, when given, are checked too, so
    a typo in a topic name or entity id is an error at load time (naming the near matches)
    rather than a rule that silently never matches.
    """
    path = Path(path)
    data = load_yaml(path, "alert rules")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'rules:' (and optional 'health:')")
    unknown = set(data) - {"version", "rules", "health"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) "
                          f"{', '.join(sorted(map(str, unknown)))}; allowed: health, rules, "
                          f"version")
    if data.get("version", 1) != 1:
        raise ConfigError(f"{path}: 'version' is {data.get('version')!r}; this newsmon reads 1")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{path}: 'rules' must be a list of rules")
    rules = [parse_rule(raw, path, i) for i, raw in enumerate(raw_rules)]
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        where = _where(path, i, rule.id)
        if rule.id in seen:
            raise ConfigError(f"{where}: duplicate id {rule.id!r}")
        seen.add(rule.id)
        if known_topics is not None:
            for key, names in (("topics", [n for n, _ in rule.topics]),
                               ("topics_any", rule.topics_any)):
                for name in names:
                    if name not in known_topics:
                        raise _unknown_name(where, key, name, known_topics, "topics")
        if known_entities is not None:
            for name, _ in rule.entities:
                if name not in known_entities:
                    raise _unknown_name(where, "entities", name, known_entities,
                                        "entities (ids in the gazetteer)")
        if known_sources is not None:
            for name in rule.sources:
                if name not in known_sources:
                    raise ConfigError(f"{where}: 'sources' has {name!r}; configured sources: "
                                      f"{', '.join(sorted(known_sources))}")
    return AlertConfig(path=path, rules=tuple(rules), health=parse_health(data.get("health"),
                                                                          path))


__all__ = ["Rule", "Channel", "HealthConfig", "AlertConfig", "load_rules", "parse_rule",
           "parse_channel", "MODES", "CHANNEL_TYPES", "ALERT_RELEVANCE"]
