"""A large search corpus for the index and search benchmarks, built by re-mixing devset texts.

Each document takes a devset article's headline (plus a number), language, outlet and topic
labels, and 2-4 paragraphs sampled from articles of the same language; its tokens are the
paragraphs' real tokens (enrich's tokenizer, computed once per paragraph). Vectors are the
real model's title vector of the base article plus Gaussian noise, re-normalised: synthetic,
but with the real model's geometry (clusters per story, the narrow e5 band). Queries are the 34
devset queries, embedded by the real model with its query prompt.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import numpy as np
from _enrich_articles import devset_records  # noqa: E402 - bench/ is on sys.path

from newsmon.enrich.embed import DEFAULT_MODEL, load_embedder
from newsmon.enrich.text import normalize, tokenize
from newsmon.index.search.backend import IndexDoc

MODEL = DEFAULT_MODEL


class Corpus:
    def __init__(self, seed: int = 7, noise: float = 0.6) -> None:
        self.records = devset_records()
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.noise = noise
        self.pool: dict[str, list[tuple[str, str]]] = {}
        for r in self.records:
            for p in r["text"].split("\n\n"):
                if p.strip():
                    text = normalize(p)
                    self.pool.setdefault(r["lang"], []).append(
                        (text, " ".join(tokenize(text, r["lang"]))))
        self.title_tokens = {r["id"]: " ".join(tokenize(normalize(r["title"]), r["lang"]))
                             for r in self.records}
        self.embedder = load_embedder(MODEL)
        self.base_vectors = self.embedder.embed_documents([r["title"] for r in self.records])
        self.dim = int(self.base_vectors.shape[1])

    def queries(self) -> list[tuple[str, np.ndarray]]:
        import json

        from _enrich_articles import DEVSET

        qs = [json.loads(x) for x in (DEVSET / "queries.jsonl").read_text("utf-8").splitlines()
              if x.strip()]
        return [(q["text"], np.asarray(self.embedder.embed_query(q["text"]), np.float32))
                for q in qs]

    def docs(self, n: int, start: int = 0) -> list[IndexDoc]:
        out = []
        t0 = datetime.fromisoformat("2026-11-01T00:00:00+00:00")
        for k in range(start, start + n):
            i = k % len(self.records)
            r = self.records[i]
            paras = self.rng.sample(self.pool[r["lang"]], self.rng.randint(2, 4))
            v = self.base_vectors[i] + self.np_rng.normal(0, self.noise / np.sqrt(self.dim),
                                                          self.dim)
            v = (v / np.linalg.norm(v)).astype(np.float32)
            out.append(IndexDoc(
                id=f"b{k:07d}", url=f"http://{r['source']}.example/b/{k}", title=f"{r['title']} {k}",
                body="\n\n".join(p for p, _ in paras),
                title_tokens=f"{self.title_tokens[r['id']]} {k}",
                body_tokens=" ".join(t for _, t in paras), source=r["source"], lang=r["lang"],
                published=t0 + timedelta(minutes=k), story=None,
                topics={t: 0.8 for t in r["topics"]}, entities=(), model=MODEL, vector=v))
        return out
