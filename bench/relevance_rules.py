"""Round 3 of issue 16's held-out floors: the features the "no good answer" signal and the
analyst rules' gate could rest on, dumped once per set so the levers are compared offline on
the same numbers (BENCHMARKS.md, "Language-fair search and calibrated relevance", round 3).

Per question and per rule, every article of the store as ``Searcher`` scores it (hybrid, no
collapse): its z, evidence, cosine, relevance, language, story and labelled topics; per query
term, its document frequency in the store (an article holds the term, or mentions the entity
the term names) overall and per language.

    .venv/bin/python bench/relevance_rules.py dump devset /tmp/devset.json
    .venv/bin/python bench/relevance_rules.py dump heldout /tmp/heldout.json   # measure only
    .venv/bin/python bench/relevance_rules.py report /tmp/devset.json [/tmp/heldout.json]

The devset's unanswerable questions are its own three plus the seven of round 2
(bench/relevance_reference.py ``UNANS``); its analyst rules are round 2's ``RULES``. The
held-out set's come from tests/data/relevance (never tuned on: a lever is chosen on the devset,
then measured there once).

Round 4 (the bilingual lexicon, config/lexicon.yaml): its evidence is Searcher's, so a variant
is a fresh dump; ``levers`` reads it in the rows marked "as dumped".

Round 5: the dump also holds each listed item's text, terms and query vector, and per article
the query terms it counts as Searcher's evidence counts them (with the lexicon's headline
translations) and each term's document frequency per language, counted the same way; ``round5``
scores each item as a query of its own and a gate on the query's rarest terms from them:

    .venv/bin/python bench/relevance_rules.py round5 /tmp/devset.json    # every variant, 0.5
    .venv/bin/python bench/relevance_rules.py round5 /tmp/devset.json /tmp/heldout.json \
        --only "round 4 (whole query)" "items, whole-query z >= 0.5"    # at 0.4 / 0.5 / 0.6
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from relevance_reference import RULES, UNANS  # noqa: E402

from newsmon.alerts.evaluate import mentions  # noqa: E402
from newsmon.app.indexing import index_store  # noqa: E402
from newsmon.app.search import (  # noqa: E402
    _LIST_SEP,
    GOOD,
    RELEVANCE_A,
    RELEVANCE_B,
    RELEVANCE_C,
    Searcher,
    SearchRequest,
    _highlight_terms,
    _term_pattern,
    query_parts,
)
from newsmon.app.searchtext import query_tokens  # noqa: E402
from newsmon.enrich.text import normalize, sentences  # noqa: E402
from newsmon.index.core.settings import DataSettings, Settings  # noqa: E402
from newsmon.index.search.fair import LangStats  # noqa: E402
from tests.helpers import relevance_set, search_eval  # noqa: E402
from tests.helpers.search_eval import HELD_OUT  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LEAD_TOKENS = 60   # round 6: "the lead", about the first two sentences


def _cases(name: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(article records, questions [{id, text, relevant}], rules [{id, query, topic, lang,
    pos, neg}]) of the named set."""
    if name == "devset":
        recs = search_eval.load("articles.jsonl")
        qs = [{"id": q["id"], "text": q["text"], "relevant": q["relevant"]}
              for q in search_eval.load("queries.jsonl")]
        qs += [{"id": f"u{i}", "text": t, "relevant": []} for i, t in enumerate(UNANS)]
        rules = [{"id": f"r{i}", "query": t, "topic": o.get("topic"), "lang": o.get("lang"),
                  "pos": pos, "neg": neg} for i, (t, o, pos, neg) in enumerate(RULES)]
        labels = {r["id"]: r for r in yaml.safe_load(
            (search_eval.DEVSET / "alert_rules.yaml").read_text(encoding="utf-8"))["rules"]}
        shipped = yaml.safe_load((ROOT / "config" / "alerts.yaml").read_text(encoding="utf-8"))
        for spec in shipped["rules"]:
            label = labels.get(spec["id"])
            if label is None:
                continue
            pos = set(label["phase1_alerts"]) | set(label["phase2_alerts"])
            rules.append({"id": f"shipped:{spec['id']}", "query": spec["query"],
                          "topic": (spec.get("topics") or [None])[0], "lang": None,
                          "mode": spec.get("mode", "hybrid"),
                          "topics_any": spec.get("topics_any") or [],
                          "entities": spec.get("entities") or {},
                          "pos": sorted(pos),
                          "neg": sorted({r["story"] for r in recs} - pos
                                        - set(label.get("optional") or []))})
        return recs, qs, rules
    recs = relevance_set.articles()
    qs = [{"id": q["id"], "text": q["text"], "relevant": q["relevant"]}
          for q in relevance_set.queries()]
    stories = {r["story"] for r in recs}
    rules = []
    for label in relevance_set.alert_labels():
        pos = set(label["phase1_alerts"]) | set(label["phase2_alerts"])
        neg = stories - pos - set(label.get("optional") or [])
        topics = label["rule"].get("topics") or []
        rules.append({"id": label["id"], "query": label["rule"]["query"],
                      "topic": topics[0] if topics else None, "lang": None,
                      "pos": sorted(pos), "neg": sorted(neg)})
    return recs, qs, rules


def _without(text: str, terms: tuple[str, ...]) -> str:
    """The query with the words of ``terms`` taken out."""
    pattern = _term_pattern(terms)
    norm = normalize(text)
    return " ".join((pattern.sub(" ", norm) if pattern else norm).split())


def _sentence_vectors(searcher: Searcher, arts: dict) -> dict[str, list[list[float]]]:
    """Round 7: each article's body sentences embedded as passages (``enrich.text.sentences``)."""
    out = {}
    for d, a in sorted(arts.items()):
        sents = sentences(a.text, a.lang or "en") or [a.title]
        out[d] = [[round(float(x), 4) for x in v] for v in searcher.embedder.embed_documents(sents)]
    return out


def dump(name: str, out: Path) -> None:
    recs, qs, rules = _cases(name)
    with tempfile.TemporaryDirectory() as tmp:
        store, by_id, _ = relevance_set.enrich_in_phases(recs, Path(tmp))
        settings = Settings(data=DataSettings(dir=Path(tmp)))
        index_store(settings, store)
        rid = {aid: rec["id"] for aid, rec in by_id.items()}
        texts = store.search_text.get_many(list(rid))
        held = {rid[a]: set(f"{t.title_tokens} {t.body_tokens}".split()) for a, t in texts.items()}
        arts = {rid[a.id]: a for a in store.articles.get_many(list(rid))}
        ents = {d: {str(e.get("id")) for e in (a.entities or []) if isinstance(e, dict)}
                for d, a in arts.items()}
        searcher = Searcher(settings, store=store)
        names = searcher._entity_names

        def has(d: str, term: str) -> bool:
            return term in held.get(d, ()) or (term in names and names[term][0] in ents[d])

        headline = {rid[a]: set(t.title_tokens.split()) for a, t in texts.items()}
        # round 6: the headline and lead (title and the body's first LEAD_TOKENS tokens)
        lead = {rid[a]: set(t.title_tokens.split()) | set(t.body_tokens.split()[:LEAD_TOKENS])
                for a, t in texts.items()}

        def in_part(d: str, term: str, translated: dict, part: dict) -> bool:
            """Whether ``term`` counts within ``part`` (headline or lead) of article ``d``: the
            term itself there, or (other language) a lexicon translation there."""
            return term in part.get(d, ()) or (term.isascii() != (by_id_lang[d] == "en") and any(
                any(dd <= part.get(d, set()) for dd in dst) for dst in translated.get(term, ())))

        def counts(d: str, term: str, translated: dict) -> bool:
            """Whether ``term`` counts in article ``d`` as Searcher._evidence counts it: held,
            an entity's name the article mentions, or (other language) a lexicon translation
            in its headline."""
            return has(d, term) or (term.isascii() != (by_id_lang[d] == "en") and any(
                any(dd <= headline.get(d, set()) for dd in dst)
                for dst in translated.get(term, ())))

        def features(text: str, topic: str | None = None, lang: str | None = None,
                     mode: str = "hybrid") -> dict:
            terms = _highlight_terms(query_tokens(text))
            # round 5: each listed item as a query of its own (its terms, its vector), and the
            # terms each article counts (with translations), so the gate and per-item evidence
            # are computed offline
            items = [p for p in _LIST_SEP.split(text) if p.strip() and query_tokens(p)]
            items = items if len(items) >= 2 else []
            translated = searcher._translated(query_tokens(text))
            every = list(dict.fromkeys(
                terms + [t for p in items for t in _highlight_terms(query_tokens(p))]))
            cdf = {t: {lg: sum(counts(d, t, translated) for d in held if by_id_lang[d] == lg)
                       for lg in ("en", "ja")} for t in every}
            r = searcher.search(SearchRequest(text, lang=lang, limit=100, collapse=False,
                                              mode=mode,  # type: ignore[arg-type]
                                              topics=(topic,) if topic else ()))
            hits = [{"d": rid[h.id], "z": h.z, "ev": h.evidence, "cos": h.similarity,
                     "rel": h.relevance, "lang": h.lang, "story": by_id[h.id]["story"],
                     "topics": sorted(k for k, v in (arts[rid[h.id]].topics or {}).items()
                                      if isinstance(v, dict) and v.get("label")),
                     "terms": [t for t in terms if has(rid[h.id], t)],
                     "mentions": mentions(arts[rid[h.id]]),
                     "cterms": [t for t in every if counts(rid[h.id], t, translated)],
                     "hterms": [t for t in every if in_part(rid[h.id], t, translated, headline)],
                     "lterms": [t for t in every if in_part(rid[h.id], t, translated, lead)]}
                    for h in r.results]
            df = {t: {lg: sum(has(d, t) for d in held if by_id_lang[d] == lg)
                      for lg in ("en", "ja")} for t in terms}
            absent = tuple(t for t in terms if not sum(df[t].values()))
            rest = _without(text, absent) if absent and len(absent) < len(terms) else None
            return {"terms": terms, "df": df, "hits": hits, "rest": rest, "cdf": cdf,
                    "items": [{"text": p, "terms": _highlight_terms(query_tokens(p)),
                               "qvec": [round(float(x), 5) for x in searcher._query_vector(p)]}
                              for p in items],
                    "qvec": [round(float(x), 5) for x in searcher._query_vector(text)],
                    "rvec": None if rest is None else
                    [round(float(x), 5) for x in searcher._query_vector(rest)]}

        by_id_lang = {rec["id"]: rec["lang"] for rec in recs}
        model = searcher.embedder.name
        vecs = store.vectors.get_vectors(list(rid), model)
        titles = {d: a.title for d, a in arts.items()}
        order = sorted(titles)
        tvecs = searcher.embedder.embed_documents([titles[d] for d in order])
        data: dict[str, Any] = {
            "set": name, "n": len(held),
            "vectors": {rid[a]: [round(float(x), 5) for x in v] for a, v in vecs.items()},
            "tvectors": {d: [round(float(x), 5) for x in v] for d, v in zip(order, tvecs)},
            "svectors": _sentence_vectors(searcher, arts),
            "doc_lang": {rid[a]: by_id[a]["lang"] for a in rid},
            "doc_story": {rid[a]: by_id[a]["story"] for a in rid},
            "langs": {lg: sum(v == lg for v in by_id_lang.values()) for lg in ("en", "ja")},
            "questions": [{**q, **features(q["text"])} for q in qs],
            "rules": [{**rule, **features(rule["query"], rule["topic"], rule["lang"],
                                          rule.get("mode", "hybrid"))}
                      for rule in rules]}
        searcher.close()
        store.close()
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


# -- levers, over the dumped features ----------------------------------------------------------

A, B, C = RELEVANCE_A, RELEVANCE_B, RELEVANCE_C


def sg(x: float) -> float:
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, x))))


class Moments:
    """Per-language moments of the dumped vectors: the z of any (query vector, article), as
    ``LangStats`` computes it in search. ``key``: which dumped vectors ("tvectors": the titles,
    round 6)."""

    def __init__(self, data: dict, key: str = "vectors") -> None:
        rows = [(data["doc_lang"][d], np.asarray(v, dtype=np.float32))
                for d, v in data[key].items()]
        self.stats = LangStats.build(rows)
        self.vec = {d: np.asarray(v, dtype=np.float32) for d, v in data[key].items()}
        self.lang = data["doc_lang"]

    def z(self, doc: str, q: np.ndarray) -> float:
        return self.stats.zscore(self.lang[doc], q, float(self.vec[doc] @ q)) or 0.0


def _story_best(rule: dict, keep: Callable[[dict], bool] = lambda h: True) -> dict[str, dict]:
    """Per story: the largest z, evidence and relevance among its articles the rule saw."""
    out: dict[str, dict] = {}
    for h in rule["hits"]:
        if not keep(h):
            continue
        s = out.setdefault(h["story"], {"z": -9.0, "ev": 0.0, "rel": 0.0, "docs": []})
        s["z"] = max(s["z"], h["z"] if h["z"] is not None else -9.0)
        s["ev"] = max(s["ev"], h["ev"])
        s["rel"] = max(s["rel"], h["rel"])
        s["docs"].append(h)
    return out


def rule_score(rules: list[dict], fires: Callable[[dict, dict, dict], set[str]]
               ) -> tuple[float, float, list, list]:
    """Story-level recall and precision over labelled stories: ``fires(rule, stories, data)``
    gives the stories the lever alerts on."""
    tp = fp = fn = 0
    missed: list = []
    wrong: list = []
    for rule in rules:
        fired = fires(rule, _story_best(rule, rule.get("_keep", lambda h: True)), rule)
        pos, neg = set(rule["pos"]), set(rule["neg"])
        tp += len(fired & pos)
        fn += len(pos - fired)
        fp += len((fired & neg) - pos)
        missed += [(rule["id"], s) for s in sorted(pos - fired)]
        wrong += [(rule["id"], s) for s in sorted((fired & neg) - pos)]
    return tp / max(1, tp + fn), tp / max(1, tp + fp), missed, wrong


def _own(terms: list[str], lang: str) -> list[str]:
    by = {"en": [t for t in terms if t.isascii()], "ja": [t for t in terms if not t.isascii()]}
    return by.get(lang) or terms


def idf_evidence(q: dict, h: dict, n: int, power: float = 1.0) -> float:
    """Share of the query's terms the article holds, each weighed by log((N+1)/(df+0.5))^power
    (a term no article holds weighs most); the same term sets as the shipped evidence."""
    terms = _own(q["terms"], h["lang"])
    w = {t: math.log((n + 1) / (sum(q["df"][t].values()) + 0.5)) ** power for t in terms}
    total = sum(w.values())
    return sum(w[t] for t in terms if t in h["terms"]) / total if total else 0.0


def fit(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    w = np.zeros(x.shape[1])
    for _ in range(60):   # Newton's method, tiny ridge (as bench/relevance_levers.py)
        p = 1 / (1 + np.exp(-x @ w))
        w += np.linalg.solve((x * (p * (1 - p))[:, None]).T @ x + 1e-4 * np.eye(x.shape[1]),
                             x.T @ (t - p) - 1e-4 * w)
    return w


def flag_line(data: dict, evidence: Callable[[dict, dict], float], coef: tuple) -> str:
    """'No good answer' (no article of the first ten, uncollapsed, at relevance 0.5)."""
    flagged, passed, n_ans, n_una = [], [], 0, 0
    for q in data["questions"]:
        if data["set"] == "devset" and q["id"] in ("q31", "q32", "q33"):
            continue   # the same three questions as u0..u2
        best = max((sg(coef[0] * (h["z"] or 0.0) + coef[1] * evidence(q, h) + coef[2])
                    for h in q["hits"][:10]), default=0.0)
        if q["relevant"]:
            n_ans += 1
            flagged += [q["id"]] if best < GOOD else []
        else:
            n_una += 1
            passed += [q["id"]] if best >= GOOD else []
    return (f"answerable flagged {len(flagged)}/{n_ans}, unanswerable flagged "
            f"{n_una - len(passed)}/{n_una} (answerable flagged {flagged}; unanswerable "
            f"passed {passed})")


def term_evidence(text: str, h: dict, listed: bool) -> float:
    """The evidence recomputed from the terms a hit holds: over all the query's terms (as
    before round 3), or (``listed``) the best of that and each listed item's share
    (``query_parts``, as search now computes it)."""
    groups = [_highlight_terms(query_tokens(text))]
    if listed:
        groups += [_highlight_terms(p) for p in query_parts(text)]
    best = 0.0
    for group in (g for g in groups if g):
        own = _own(group, h["lang"])
        best = max(best, sum(t in h["terms"] for t in own) / len(own))
    return best


def levers(sets: list[dict]) -> None:
    dev = sets[0]
    assert dev["set"] == "devset", "the first dump must be the development set's"
    for data in sets:
        data["_m"] = Moments(data)
        data["_analyst"] = [r for r in data["rules"] if not r["id"].startswith("shipped:")]

    print("## unanswerable questions (devset: its 3 + round 2's 7; first ten, no collapse)")
    variants: dict[str, Callable[[dict, dict, dict], float]] = {
        "evidence over all terms (before round 3)":
            lambda d, q, h: term_evidence(q["text"], h, False),
        "evidence: best of all terms and each listed item":
            lambda d, q, h: term_evidence(q["text"], h, True),
        # round 4: the evidence Searcher computed when the dump was made (with the lexicon's
        # translations, which the recomputed variants above cannot see)
        "evidence as dumped (Searcher's)": lambda d, q, h: h["ev"],
        "idf-weighted evidence": lambda d, q, h: idf_evidence(q, h, d["n"]),
        "idf^2-weighted evidence": lambda d, q, h: idf_evidence(q, h, d["n"], 2.0)}
    for name, ev in variants.items():
        x, t = [], []
        for q in dev["questions"]:
            if q["id"] in HELD_OUT or not q["relevant"]:
                continue
            for h in q["hits"]:
                x.append([h["z"] or 0.0, ev(dev, q, h), 1.0])
                t.append(h["d"] in q["relevant"])
        w = fit(np.array(x), np.array(t, dtype=float))
        for cname, coef in (("shipped A, B, C", (A, B, C)),
                            (f"refit {np.round(w, 2).tolist()}", tuple(w))):
            for data in sets:
                print(f"  {name} / {cname} / {data['set']}: " + flag_line(
                    data, lambda q, h, ev=ev, data=data: ev(data, q, h), coef))
    print("## absent terms: the top hit's z for the query without the words no article holds"
          " minus its z for the whole query (answerable / unanswerable)")
    for data in sets:
        m = data["_m"]
        for kind in (True, False):
            deltas = []
            for q in data["questions"]:
                if q.get("rvec") is None or bool(q["relevant"]) != kind or (
                        data["set"] == "devset" and q["id"] in ("q31", "q32", "q33")):
                    continue
                top = max(q["hits"][:10], key=lambda h: h["rel"])
                deltas.append(round(m.z(top["d"], np.asarray(q["rvec"], np.float32))
                                    - m.z(top["d"], np.asarray(q["qvec"], np.float32)), 2))
            print(f"  {data['set']} {'answerable' if kind else 'unanswerable'}: "
                  f"{len(deltas)} questions with an absent term, deltas {sorted(deltas)}")

    print("## analyst rules without min_score (story level, whole store)")
    rule_levers: dict[str, Callable[[dict, dict, dict], set[str]]] = {
        "relevance (as dumped) >= 0.5": lambda r, st, d: {k for k, s in st.items()
                                                           if s["rel"] >= GOOD}}
    for listed in (False, True):
        for th in (0.5, 0.3):
            rule_levers[f"evidence {'best of all terms and each listed item' if listed else 'over all terms'}"
                        f", relevance >= {th}"] = (
                lambda r, st, d, th=th, listed=listed: {
                    h["story"] for h in r["hits"]
                    if sg(A * (h["z"] or 0.0) + B * term_evidence(r["query"], h, listed) + C)
                    >= th})
    for th in (0.3, 0.2):
        rule_levers[f"relevance >= {th}"] = (
            lambda r, st, d, th=th: {k for k, s in st.items() if s["rel"] >= th})
    for th in (0.5, 0.3):
        rule_levers[f"story aggregate: logistic(max z, max evidence) >= {th}"] = (
            lambda r, st, d, th=th: {k for k, s in st.items()
                                     if sg(A * s["z"] + B * s["ev"] + C) >= th})
    for rho in (0.5, 0.7, 0.85):
        rule_levers[f"relative: relevance >= {rho} x the rule's best (and >= 0.1)"] = (
            lambda r, st, d, rho=rho: {k for k, s in st.items()
                                       if s["rel"] >= max(0.1, rho * max(
                                           v["rel"] for v in st.values()))})
    for alpha in (0.3, 0.5, 0.7):
        for beta in (0.5, 0.6, 0.75):
            rule_levers[f"own best: rel >= 0.5, or z >= {alpha} x the rule's top z and "
                        f"evidence >= {beta}"] = (
                lambda r, st, d, a=alpha, b=beta: {
                    k for k, s in st.items() if s["rel"] >= GOOD or (
                        s["z"] >= a * max(v["z"] for v in st.values()) and s["ev"] >= b)})

    rule_levers["evidence floor alone: rel >= 0.5, or z >= 0.5 and evidence >= 0.6"] = (
        lambda r, st, d: {k for k, s in st.items()
                          if s["rel"] >= GOOD or (s["z"] >= 0.5 and s["ev"] >= 0.6)})

    def prf(k: int, tau: float, mix: float) -> Callable[[dict, dict, dict], set[str]]:
        def fires(r: dict, st: dict, d: dict) -> set[str]:
            anchors = [h["d"] for h in sorted(r["hits"], key=lambda h: -h["rel"])
                       if h["rel"] >= GOOD][:k]
            out = {key for key, s in st.items() if s["rel"] >= GOOD}
            if not anchors:
                return out
            m = r["_data"]["_m"]
            c = np.mean([m.vec[a] for a in anchors], axis=0)
            q = mix * c / np.linalg.norm(c) + (1 - mix) * np.asarray(r["qvec"], np.float32)
            q /= np.linalg.norm(q)
            return out | {key for key, s in st.items()
                          if any(m.z(h["d"], q) >= tau for h in s["docs"])}
        return fires

    for k in (1, 3):
        for tau in (2.0, 2.5, 3.0):
            for mix in (1.0, 0.5):
                rule_levers[f"own best matches (Rocchio): z to the mean of the top {k} "
                            f"(mix {mix}) >= {tau}"] = prf(k, tau, mix)
    for data in sets:
        for r in data["rules"]:
            r["_data"] = data
    for name, fires in rule_levers.items():
        line = f"  {name}"
        for data in sets:
            rec, prec, _, _ = rule_score(data["_analyst"], fires)
            line += f" | {data['set']} R {rec:.2f} P {prec:.2f}"
        print(line)

    shipped = [r for r in dev["rules"] if r["id"].startswith("shipped:")]
    if shipped:
        print("## shipped rules (config/alerts.yaml) on the devset, their filters kept, the "
              "relevance gate instead of min_score 0")
        for r in shipped:
            want = r.get("entities") or {}
            anyof = set(r.get("topics_any") or [])
            r["_keep"] = lambda h, want=want, anyof=anyof: (
                all(h["mentions"].get(e, 0) >= n for e, n in want.items())
                and (not anyof or bool(anyof & set(h["topics"]))))
            for th in (0.0, 0.1, 0.3, 0.5):
                rec, prec, missed, _ = rule_score(
                    [r], lambda rr, st, d, th=th: {k for k, s in st.items() if s["rel"] >= th})
                print(f"  {r['id']} gate {th}: R {rec:.2f} P {prec:.2f} missed {missed}")


# -- round 5: each listed item as a query of its own; a gate on the rule's distinctive terms ----

def _groups(q: dict) -> list[tuple[list[str], np.ndarray | None]]:
    """(terms, vector) of the whole query (vector None: the dumped z) and of each listed item."""
    return [(q["terms"], None)] + [(it["terms"], np.asarray(it["qvec"], np.float32))
                                   for it in q.get("items") or [] if it["terms"]]


def _rare(q: dict, terms: list[str], lang: str, langs: dict, gate: tuple) -> list[str] | None:
    """The group's distinctive terms for an article in ``lang`` (its own terms, as the evidence
    measures it), by the document frequency of the store's articles of that language (a term
    counts as the evidence counts it: held, an entity's name, a headline translation). ``gate``:
    ("share", θ) the terms at most θ of the language's articles count, or ("rarest", k) the k
    rarest terms some article counts (ties kept). None: the group has none (no gate)."""
    own = _own(terms, lang)
    n = max(1, langs.get(lang, 0))
    df = {t: q["cdf"][t][lang] for t in own}
    if gate[0] == "share":
        rare = [t for t in own if df[t] <= gate[1] * n]
    else:
        seen = sorted({v for v in df.values() if v > 0})[:int(gate[1])]
        rare = [t for t in own if df[t] in seen]
    return rare or None


def r5_score(data: dict, q: dict, h: dict, items: bool, gate: tuple | None, zhi: float,
             whole: bool = True, floor: float = -99.0) -> float:
    """The best over {whole query, each item} (``items``) of logistic(A z_g + B evidence_g + C),
    a group counting only where the article holds one of its distinctive terms or z_g >= zhi
    (``whole`` False: the whole query's group is not gated, only the items are). ``floor``: an
    item counts only for an article whose z for the whole query is at least this (the item
    "critical minerals" alone has lost the rule's context, "Japan UK agreements on ...")."""
    m = data["_m"]
    best = 0.0
    for i, (terms, vec) in enumerate(_groups(q) if items else _groups(q)[:1]):
        own = _own(terms, h["lang"])
        if not own:
            continue
        z = (h["z"] or 0.0) if vec is None else m.z(h["d"], vec)
        if i and (h["z"] or 0.0) < floor:
            continue
        if gate is not None and z < zhi and (i or whole):
            rare = _rare(q, terms, h["lang"], data["langs"], gate)
            if rare is not None and not set(rare) & set(h["cterms"]):
                continue
        # the whole query keeps Searcher's evidence (the best share over it and its items), so
        # the items can only add to the shipped relevance
        ev = sum(t in h["cterms"] for t in own) / len(own) if i else h["ev"]
        best = max(best, sg(A * z + B * ev + C))
    return best


def r5_line(data: dict, items: bool, gate: tuple | None, zhi: float, th: float = GOOD,
            whole: bool = True, floor: float = -99.0) -> str:
    tp = fp = fn = 0
    for r in data["_analyst"]:
        fired = {h["story"] for h in r["hits"] if r5_score(data, r, h, items, gate, zhi, whole, floor) >= th}
        pos, neg = set(r["pos"]), set(r["neg"])
        tp += len(fired & pos)
        fn += len(pos - fired)
        fp += len((fired & neg) - pos)
    fa = fu = na = nu = 0
    for q in data["questions"]:
        if data["set"] == "devset" and q["id"] in ("q31", "q32", "q33"):
            continue
        best = max((r5_score(data, q, h, items, gate, zhi, whole, floor) for h in q["hits"][:10]),
                   default=0.0)
        if q["relevant"]:
            na += 1
            fa += best < GOOD
        else:
            nu += 1
            fu += best < GOOD
    return (f"{data['set']}: rules R {tp / max(1, tp + fn):.2f} P {tp / max(1, tp + fp):.2f}"
            f" ({tp} right, {fp} wrong, {fn} missed); flagged answerable {fa}/{na},"
            f" unanswerable {fu}/{nu}")


def round5(sets: list[dict], only: list[str] | None = None) -> None:
    for data in sets:
        data["_m"] = Moments(data)
        data["_analyst"] = [r for r in data["rules"] if not r["id"].startswith("shipped:")]
    dev = sets[0]
    # the whole query's evidence recomputed from the counted terms must be what Searcher gave
    bad = 0
    for q in dev["questions"] + dev["rules"]:
        for h in q["hits"]:
            ev = max(sum(t in h["cterms"] for t in _own(g, h["lang"])) / len(_own(g, h["lang"]))
                     for g, _ in _groups(q) if _own(g, h["lang"]))
            bad += abs(ev - h["ev"]) > 1e-6
    print(f"## evidence recomputed from the counted terms differs from Searcher's in {bad} pairs")
    variants: list[tuple[str, bool, tuple | None, float, bool, float]] = [
        ("round 4 (whole query)", False, None, 99.0, True, -99.0), ("items", True, None, 99.0, True, -99.0)]
    floors = (-99.0, 0.0, 0.25, 0.5, 0.75, 1.0)
    variants += [(f"items, whole-query z >= {f}", True, None, 99.0, True, f) for f in floors[1:]]
    for items, whole in ((False, True), (True, True), (True, False)):
        for gate in [("share", t) for t in (0.05, 0.1, 0.15, 0.2, 0.3, 0.5)] + [
                ("rarest", 1), ("rarest", 2), ("rarest", 3)]:
            for zhi in (2.5, 3.0, 3.5, 4.0, 5.0, 99.0):
                for f in floors if items else floors[:1]:
                    variants.append((
                        f"{'items + ' if items else ''}gate "
                        f"{'' if whole else 'on the items only '}{gate[0]} {gate[1]}, "
                        f"or z >= {zhi}{f', whole-query z >= {f}' if f > -99 else ''}",
                        items, gate, zhi, whole, f))
    for name, items, gate, zhi, whole, floor in variants:
        if only and name not in only:
            continue
        print(f"  {name}")
        for data in sets:
            for th in ((0.4, 0.5, 0.6) if only else (GOOD,)):
                print(f"      @{th} {r5_line(data, items, gate, zhi, th, whole, floor)}")


def report(paths: list[Path]) -> None:
    """Which cases fail and why: per question its best hit, per rule its stories."""
    for data in (json.loads(p.read_text(encoding="utf-8")) for p in paths):
        print(f"== {data['set']}: {data['n']} articles {data['langs']}")
        for q in data["questions"]:
            top = max(q["hits"][:10], key=lambda h: h["rel"]) if q["hits"] else None
            miss = [t for t in q["terms"] if not sum(q["df"][t].values())]
            print(f"  {q['id']:>5} {'ANS' if q['relevant'] else 'UNA'} "
                  f"top rel {top['rel'] if top else 0:.2f} z {top['z'] if top else 0:.2f} "
                  f"ev {top['ev'] if top else 0:.2f} {top['d'] if top else '-'} "
                  f"| absent terms {miss} | {q['text']}")
        for rule in data["rules"]:
            print(f"  rule {rule['id']} ({rule['query']!r}, topic {rule['topic']})")
            for s, h in sorted(_story_best(rule).items(), key=lambda kv: -kv[1]["rel"]):
                mark = "+" if s in rule["pos"] else ("-" if s in rule["neg"] else "?")
                if mark == "+" or h["rel"] >= 0.05:
                    print(f"     {mark} {s:<32} rel {h['rel']:.2f} z {h['z']:.2f} "
                          f"ev {h['ev']:.2f}")


def main() -> None:
    if sys.argv[1] == "dump":
        dump(sys.argv[2], Path(sys.argv[3]))
    elif sys.argv[1] == "round5":
        # round5 DEV [HELD] [--only NAME ...]: the chosen variants at thresholds 0.4/0.5/0.6
        args = sys.argv[2:]
        only = args[args.index("--only") + 1:] if "--only" in args else None
        paths = args[:args.index("--only")] if only else args
        round5([json.loads(Path(p).read_text(encoding="utf-8")) for p in paths], only)
    elif sys.argv[1] == "levers":
        levers([json.loads(Path(p).read_text(encoding="utf-8")) for p in sys.argv[2:]])
    else:
        report([Path(p) for p in sys.argv[2:]])


if __name__ == "__main__":
    main()
