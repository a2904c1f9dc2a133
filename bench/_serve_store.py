"""A large store of record for the serve benchmark: what `newsmon crawl` + `newsmon enrich` would
leave for N articles, then indexed by the real `newsmon index`.

The texts, tokens and vectors come from bench/_search_corpus.py (devset headlines and paragraphs
re-mixed; the real model's title vectors plus noise). Each document becomes a stored, enriched
Article (id = article_id(url), as the crawler makes them; labelled topics; a story shared by runs
of three consecutive documents), its search text (the corpus's real tokens, so indexing does not
re-tokenise 100k texts), its embedding row and its story membership. Then `newsmon index
--backend sqlite` builds the embedded index from the store exactly as in production.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _search_corpus import MODEL, Corpus  # noqa: E402

from newsmon.app.searchtext import TOKENIZER, text_hash  # noqa: E402
from newsmon.index.core.article import Article, Stage, article_id  # noqa: E402
from newsmon.index.store import Store  # noqa: E402
from newsmon.index.store.repos.changes import SearchText  # noqa: E402
from newsmon.index.store.repos.vectors import EmbeddingRow, StoryMember  # noqa: E402

STORY_RUN = 3  # documents k, k+1, k+2 (k divisible by 3) share a story


def build_store(data_dir: Path, n: int, *, batch: int = 2000) -> Path:
    """Write N articles into data_dir/newsmon.db and index them; skip when already there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "newsmon.db"
    done = data_dir / f".built-{n}"
    if done.exists():
        return path
    path.unlink(missing_ok=True)
    t0 = time.monotonic()
    corpus = Corpus()
    with Store(path) as store:
        story = ""
        for start in range(0, n, batch):
            docs = corpus.docs(min(batch, n - start), start)
            arts, texts, vecs, members = [], [], [], []
            for k, d in enumerate(docs, start):
                aid = article_id(d.url)
                if k % STORY_RUN == 0:
                    story = aid
                art = Article(
                    url=d.url, canonical_url=d.url, source=d.source, title=d.title, text=d.body,
                    lang=d.lang, published=d.published, stage=Stage.ENRICHED,
                    topics={t: {"score": s, "label": True, "evidence": []}
                            for t, s in d.topics.items()},
                    story=story, embedding_model=MODEL, id=aid)
                h = text_hash(art)
                arts.append(art)
                texts.append(SearchText(aid, d.lang, d.title, d.body, d.title_tokens,
                                        d.body_tokens, TOKENIZER, h))
                vecs.append(EmbeddingRow(aid, MODEL, d.vector, np.asarray(d.vector)[None, :],
                                         True, d.lang, d.published, h, "none", b""))
                members.append(StoryMember(aid, story, d.lang, d.published, "bench"))
            store.articles.upsert(arts)
            store.search_text.save(texts)
            store.vectors.save_embeddings(vecs)
            store.vectors.save_members(members)
            print(f"stored {start + len(docs)}/{n} ({time.monotonic() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    newsmon = Path(sys.executable).parent / "newsmon"
    subprocess.run([str(newsmon), "--data-dir", str(data_dir), "--log-level", "WARNING",
                    "index", "--backend", "sqlite", "--rebuild"], check=True)
    print(f"built and indexed {n} articles in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    done.touch()
    return path
