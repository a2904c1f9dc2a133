"""Round 6 of issue 16's held-out floors: does *where* an article holds the query decide
whether it is about it? Features over a round-5 dump (bench/relevance_rules.py ``dump``, which
now also holds per hit the query terms its headline and its lead count, and each article's
title embedded as a passage):

- hev: the share of the query's own terms the headline holds (a lexicon translation counts in
  an article of the other language, as in the evidence);
- lev: the same over the lead (headline and the body's first ``LEAD_TOKENS`` tokens);
- tz: the query's z against the titles (cosine to the title's vector, standardised by the
  per-language moments of the store's title vectors, as ``LangStats`` does for articles).

Each feature set is fitted as logistic(w · features) over every (question, article) pair of the
development set's questions (the held-out questions of the devset excluded, as the shipped
A, B, C were fitted), then scored as round 5 ships it (the best over the whole query and, for an
article at whole-query z >= 0.5, each listed item with its own z, evidence and features), and
a gate variant: a group counts only when the article's lead holds one of its terms, unless its
z is at least ``zhi``.

    .venv/bin/python bench/relevance_rules.py dump devset /tmp/dev6.json
    .venv/bin/python bench/relevance_round6.py /tmp/dev6.json                 # every variant
    .venv/bin/python bench/relevance_rules.py dump heldout /tmp/held6.json
    .venv/bin/python bench/relevance_round6.py /tmp/dev6.json /tmp/held6.json --only NAME ...
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from relevance_rules import (  # noqa: E402
    GOOD,
    HELD_OUT,
    A,
    B,
    C,
    Moments,
    _groups,
    _own,
    fit,
    sg,
)

from newsmon.app.searchtext import text_lang  # noqa: E402
from newsmon.enrich.entities import find_entities, load_gazetteer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_GAZ = load_gazetteer(ROOT / "config" / "entities.yaml")


def query_entities(text: str) -> set[str]:
    """The countries a query names (gazetteer entities of type country, found as in articles):
    the parties of a deal, where its subject terms may be listed alternatives."""
    return {str(e["id"]) for e in find_entities("", text, text_lang(text), _GAZ)
            if _GAZ[str(e["id"])].type == "country"}

ITEM_FLOOR = 0.5   # round 5's ITEM_CONTEXT_Z


def _share(terms: list[str], lang: str, held: list[str]) -> float:
    own = _own(terms, lang)
    return sum(t in held for t in own) / len(own) if own else 0.0


def group_features(data: dict, q: dict, h: dict) -> list[dict]:
    """Per group (the whole query, then each listed item): z, ev, hev, lev, tz."""
    m, tm = data["_m"], data["_t"]
    qvec = np.asarray(q["qvec"], np.float32)
    out = []
    for i, (terms, vec) in enumerate(_groups(q)):
        if not _own(terms, h["lang"]):
            continue
        v = qvec if vec is None else vec
        out.append({"item": bool(i),
                    "z": (h["z"] or 0.0) if vec is None else m.z(h["d"], vec),
                    "ev": h["ev"] if not i else _share(terms, h["lang"], h["cterms"]),
                    "hev": _share(terms, h["lang"], h["hterms"]),
                    "lev": _share(terms, h["lang"], h["lterms"]),
                    "tz": tm.z(h["d"], v)})
    return out


FEATURES: dict[str, tuple[str, ...]] = {
    "z, ev (refit of the shipped)": ("z", "ev"),
    "z, ev, hev": ("z", "ev", "hev"),
    "z, ev, lev": ("z", "ev", "lev"),
    "z, ev, tz": ("z", "ev", "tz"),
    "z, ev, hev, tz": ("z", "ev", "hev", "tz"),
    "z, ev, lev, tz": ("z", "ev", "lev", "tz"),
}


Feats = Callable[[dict, dict, dict], list[dict]]


def fit_on_questions(dev: dict, names: tuple[str, ...], feats: Feats | None = None) -> np.ndarray:
    feats = feats or group_features
    x, t = [], []
    for q in dev["questions"]:
        if q["id"] in HELD_OUT or not q["relevant"]:
            continue
        for h in q["hits"]:
            g = feats(dev, q, h)[0]   # the whole query, as the shipped fit
            x.append([g[n] for n in names] + [1.0])
            t.append(h["d"] in q["relevant"])
    return fit(np.array(x), np.array(t, dtype=float))


def scorer(names: tuple[str, ...], w: np.ndarray, gate: float | None,
           entity_gate: bool = False, feats: Feats | None = None
           ) -> Callable[[dict, dict, dict], float]:
    """Relevance of an article for a question or rule: the best group, items counting only at
    whole-query z >= ITEM_FLOOR; ``gate``: a group needs a term in the lead unless z >= gate;
    ``entity_gate``: 0 unless the article mentions every country the query names."""
    def score(data: dict, q: dict, h: dict) -> float:
        if entity_gate:
            want = q.setdefault("_ents", query_entities(q["text"] if "text" in q else q["query"]))
            if not want <= set(h["mentions"]):
                return 0.0
        best = 0.0
        for g in (feats or group_features)(data, q, h):
            if g["item"] and (h["z"] or 0.0) < ITEM_FLOOR:
                continue
            if gate is not None and g["lev"] == 0.0 and g["z"] < gate:
                continue
            best = max(best, sg(float(np.dot(w[:-1], [g[n] for n in names]) + w[-1])))
        return best
    return score


def line(data: dict, score: Callable[[dict, dict, dict], float], th: float) -> str:
    tp = fp = fn = 0
    wrong, missed = [], []
    for r in data["_analyst"]:
        fired = {h["story"] for h in r["hits"] if score(data, r, h) >= th}
        pos, neg = set(r["pos"]), set(r["neg"])
        tp += len(fired & pos)
        fn += len(pos - fired)
        fp += len((fired & neg) - pos)
        wrong += [f"{r['id']}:{s}" for s in sorted((fired & neg) - pos)]
        missed += [f"{r['id']}:{s}" for s in sorted(pos - fired)]
    fa = fu = na = nu = 0
    for q in data["questions"]:
        if data["set"] == "devset" and q["id"] in ("q31", "q32", "q33"):
            continue
        best = max((score(data, q, h) for h in q["hits"][:10]), default=0.0)
        if q["relevant"]:
            na, fa = na + 1, fa + (best < GOOD)
        else:
            nu, fu = nu + 1, fu + (best < GOOD)
    return (f"{data['set']} @{th}: rules R {tp / max(1, tp + fn):.2f} P {tp / max(1, tp + fp):.2f}"
            f" ({tp} right, {fp} wrong, {fn} missed); flagged answerable {fa}/{na},"
            f" unanswerable {fu}/{nu}")


def load(args: list[str]) -> tuple[list[dict], list[str] | None]:
    """The dumps named on the command line (the devset's first) and the ``--only`` names."""
    only = args[args.index("--only") + 1:] if "--only" in args else None
    paths = args[:args.index("--only")] if only else args
    sets = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    for data in sets:
        data["_m"], data["_t"] = Moments(data), Moments(data, "tvectors")
        data["_analyst"] = [r for r in data["rules"] if not r["id"].startswith("shipped:")]
    assert sets[0]["set"] == "devset", "the first dump must be the development set's"
    return sets, only


def show(name: str, w: np.ndarray, sets: list[dict],
         score: Callable[[dict, dict, dict], float]) -> None:
    print(f"  {name}  w={np.round(w, 2).tolist()}")
    for data in sets:
        for th in (0.4, 0.5, 0.6):
            print(f"      {line(data, score, th)}")


def run_variants(sets: list[dict], only: list[str] | None, feats: Feats,
                 variants: dict[str, tuple[str, ...]]) -> None:
    """Fit each variant's features (``feats`` per group, memoised per question and article) on
    the devset's question pairs and show it beside the shipped A, B, C on every set."""
    cache: dict[tuple[int, str], list[dict]] = {}

    def memo(data: dict, q: dict, h: dict) -> list[dict]:
        key = (id(q), h["d"])
        if key not in cache:
            cache[key] = feats(data, q, h)
        return cache[key]

    for name, names in [("z, ev (shipped A, B, C)", ("z", "ev")), *variants.items()]:
        if only and name not in only:
            continue
        w = np.array([A, B, C]) if name.startswith("z, ev (shipped") else \
            fit_on_questions(sets[0], names, memo)
        show(name, w, sets, scorer(names, w, None, feats=memo))


def main() -> None:
    sets, only = load(sys.argv[1:])
    for fname, names in [("z, ev (shipped A, B, C)", ("z", "ev")), *FEATURES.items()]:
        w = (np.array([A, B, C]) if "shipped" in fname else fit_on_questions(sets[0], names))
        for gate in (None, 2.0, 3.0, 99.0):
            for ents in (False, True):
                name = (f"{fname}{'' if gate is None else f', lead gate or z >= {gate}'}"
                        f"{', entity gate' if ents else ''}")
                if not only or name in only:
                    show(name, w, sets, scorer(names, w, gate, ents))

if __name__ == "__main__":
    main()
