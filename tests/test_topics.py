"""Topic tagging: config validation, scoring rules, evidence (synthetic texts; the devset gates
live in test_quality_topics.py)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from newsmon.enrich.topics import load_topics, score_topics, topic_vectors
from newsmon.index.core.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[1] / "config" / "topics.yaml"


@pytest.fixture(scope="module")
def topics():
    return load_topics(CONFIG)


def _write(tmp_path: Path, doc: dict) -> Path:
    p = tmp_path / "topics.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return p


def _raw() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


class TestLoad:
    def test_shipped_config(self, topics) -> None:
        assert topics.names == ("cyber", "minerals", "defence")
        for t in topics.topics:
            assert {"en", "ja"} <= set(t.description)
            assert {lang for lang, _, _ in t.terms} == {"en", "ja"}
            assert 0 < topics.scoring.passing_cap < t.threshold <= 1

    def test_version_is_stable_and_tracks_meaning(self, tmp_path: Path, topics) -> None:
        doc = _raw()
        same = load_topics(_write(tmp_path, doc))
        assert same.version == topics.version  # comments and layout do not count
        doc["topics"]["cyber"]["threshold"] = 0.55
        assert load_topics(_write(tmp_path, doc)).version != topics.version

    @pytest.mark.parametrize(
        ("mutate", "expected"),
        [
            (lambda d: d["topics"]["cyber"].__setitem__("threshold", 1.5), "topic 'cyber': key 'threshold'"),
            (lambda d: d["topics"]["cyber"].__setitem__("colour", "red"), "topic 'cyber': unknown key(s) 'colour'"),
            (lambda d: d["topics"]["minerals"].pop("terms"), "topic 'minerals': missing key(s) 'terms'"),
            (lambda d: d["topics"]["defence"]["terms"]["ja"].__setitem__("防衛", "heavy"), "key 'terms.ja.防衛'"),
            (lambda d: d["topics"]["defence"]["terms"].__setitem__("fr", {"défense": 1.0}), "unknown key(s) 'fr'"),
            (lambda d: d["topics"]["cyber"]["terms"]["en"].__setitem__("...", 1.0), "has no word in it"),
            (lambda d: d["scoring"]["semantic"].__setitem__("low", 0.9), "high (0.84) must be greater than low"),
            (lambda d: d["scoring"].pop("saturation"), "scoring: missing key(s) 'saturation'"),
            (lambda d: d.__setitem__("extra", 1), "top level: unknown key(s) 'extra'"),
        ],
    )
    def test_errors_name_file_topic_and_key(self, tmp_path: Path, mutate, expected: str) -> None:
        doc = _raw()
        mutate(doc)
        path = _write(tmp_path, doc)
        with pytest.raises(ConfigError) as info:
            load_topics(path)
        assert str(path) in str(info.value)
        assert expected in str(info.value)

    def test_missing_and_broken_files(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="topics file not found"):
            load_topics(tmp_path / "nope.yaml")
        bad = tmp_path / "bad.yaml"
        bad.write_text("topics: [unclosed", encoding="utf-8")
        with pytest.raises(ConfigError, match="not valid YAML"):
            load_topics(bad)


CYBER_EN = (
    "Ransomware attack cripples hospital systems",
    "A ransomware attack forced a hospital group to postpone operations on Tuesday.\n\n"
    "The hackers encrypted patient records and demanded a payment. The National Cyber Security "
    "Centre said it was helping the hospital restore its systems. Staff switched to paper.\n\n"
    "Officials said the weather was cold.",
)


class TestScoring:
    def test_main_subject_english(self, topics) -> None:
        r = score_topics(*CYBER_EN, "en", topics)
        assert r["cyber"]["label"] is True and r["cyber"]["score"] > 0.8
        assert r["minerals"]["label"] is False and r["minerals"]["score"] == 0.0
        ev = r["cyber"]["evidence"]
        assert ev[0] == {"term": "ransomware", "sentence": CYBER_EN[0], "zone": "title"}
        assert any(e["term"] == "National Cyber Security Centre" and e["zone"] == "body" for e in ev)
        assert r["cyber"]["semantic"] is None  # no vectors given

    def test_main_subject_japanese_kanji_only(self, topics) -> None:
        title = "重要鉱物で枠組み　希土類の調達先を多角化"
        text = "両政府は重要鉱物の供給網を強化する枠組みに署名した。希土類の精錬を共同で進める。\n\n第三国の鉱山への出資も検討する。"
        r = score_topics(title, text, "ja", topics)
        assert r["minerals"]["label"] is True
        assert {e["term"] for e in r["minerals"]["evidence"]} >= {"重要鉱物", "希土類"}

    def test_full_width_terms_match(self, topics) -> None:
        r = score_topics("日英伊、ＧＣＡＰの開発前倒しで一致", "３カ国の防衛相が会談した。", "ja", topics)
        assert r["defence"]["label"] is True
        assert any(e["term"] == "GCAP" for e in r["defence"]["evidence"])

    def test_passing_mention_is_not_a_topic(self, topics) -> None:
        paragraphs = [
            "The carmaker raised its profit forecast on strong demand for hybrid cars.",
            "Sales in North America rose by a fifth, and the weak yen helped exports.",
            "The company said supplies of rare earth magnets had returned to normal.",
            "It will add a production line in Kentucky next year. Hiring starts in spring.",
            "Net profit rose 18 per cent in the quarter. Analysts had expected less.",
            "Shares rose 4 per cent in Tokyo.",
        ]
        r = score_topics("Carmaker raises forecast", "\n\n".join(paragraphs), "en", topics)
        assert r["minerals"]["label"] is False
        assert r["minerals"]["score"] <= topics.scoring.passing_cap
        assert r["minerals"]["evidence"]  # the mention is still shown

    def test_passing_mention_stays_capped_even_when_semantically_close(self, topics) -> None:
        paragraphs = [
            "球場で決勝が行われた。観客は多かった。",
            "エースが完封した。打線は五回に2点を先制した。",
            "チケット販売サイトがサイバー攻撃を受けた。",
            "試合は延長戦の末に決着した。監督は選手をたたえた。",
        ]
        dim = 8
        vec = np.ones(dim, dtype=np.float32) / np.sqrt(dim)
        tv = {name: vec for name in topics.names}
        r = score_topics("大学野球の決勝", "\n\n".join(paragraphs), "ja", topics, doc_vector=vec, topic_vectors=tv)
        assert r["cyber"]["semantic"] == 1.0
        assert r["cyber"]["score"] <= topics.scoring.passing_cap and r["cyber"]["label"] is False

    def test_a_paragraph_of_substance_makes_a_topic(self, topics) -> None:
        paragraphs = [
            "Ministers met in Rome on Monday to discuss the budget.",
            "The deal also covers the fighter. The Global Combat Air Programme will get more money, "
            "and the air force wants the jet earlier. Defence ministers will meet again in spring.",
            "Other items were left for later.",
        ]
        r = score_topics("Budget talks in Rome", "\n\n".join(paragraphs), "en", topics)
        assert r["defence"]["label"] is True

    def test_exclusions(self, topics) -> None:
        text = "The champion made his first title defence on Saturday. His title defence was a success.\n\nHe won."
        r = score_topics("Champion retains belt", text, "en", topics)
        assert r["defence"]["score"] == 0.0 and r["defence"]["evidence"] == []
        ja = score_topics("王者が初防衛に成功", "王者はタイトル防衛に成功した。", "ja", topics)
        assert ja["defence"]["score"] == 0.0

    def test_title_and_lead_weigh_more_than_body(self, topics) -> None:
        filler = " ".join(f"Sentence number {i} is about the weather." for i in range(6))
        in_title = score_topics("Lithium prices fall", filler + "\n\nLithium output was cut. Lithium miners suffered.", "en", topics)
        in_body = score_topics("Weather report", filler + "\n\nLithium output was cut. Lithium miners suffered.", "en", topics)
        assert in_title["minerals"]["term_score"] > in_body["minerals"]["term_score"]

    def test_semantic_part_moves_the_score(self, topics) -> None:
        a = np.zeros(4, dtype=np.float32)
        a[0] = 1.0
        b = np.zeros(4, dtype=np.float32)
        b[1] = 1.0
        tv = {name: a for name in topics.names}
        close = score_topics(*CYBER_EN, "en", topics, doc_vector=a, topic_vectors=tv)["cyber"]
        far = score_topics(*CYBER_EN, "en", topics, doc_vector=b, topic_vectors=tv)["cyber"]
        assert close["semantic"] == 1.0 and far["semantic"] == 0.0
        assert close["score"] > far["score"]
        assert close["term_score"] == far["term_score"]

    def test_empty_article(self, topics) -> None:
        r = score_topics("", "", "en", topics)
        assert all(v == {"score": 0.0, "label": False, "evidence": [], "term_score": 0.0, "semantic": None} for v in r.values())


class _HashEmbedder:
    """A deterministic stand-in with the Embedder protocol's shape (no model needed)."""

    name = "test:hash"
    dim = 16

    def embed_query(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed_documents(self, texts):
        return np.stack([self.embed_query(t) for t in texts])


def test_topic_vectors_are_unit_means_of_descriptions(topics) -> None:
    emb = _HashEmbedder()
    tv = topic_vectors(topics, emb)
    assert set(tv) == set(topics.names)
    for name, v in tv.items():
        assert v.dtype == np.float32 and abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
        desc = topics[name].description
        mean = np.mean([emb.embed_query(d) for d in desc.values()], axis=0)
        assert float(np.dot(v, mean / np.linalg.norm(mean))) > 0.9999


def _labels(topics, title: str, text: str, lang: str) -> set[str]:
    return {k for k, v in score_topics(title, text, lang, topics).items() if v["label"]}


def test_ambiguous_words_count_only_in_their_context(topics) -> None:
    play = ("The Tempest review: Prospero finds his gentle side",
            "Shakespeare's late romance opens with a storm of drums. The Tempest has rarely "
            "felt this physical.\n\nProspero is a tired father and Ariel darts across the "
            "rigging. The island is bare.")
    jet = ("Tempest demonstrator completes engine runs",
           "The demonstrator jet built for Britain's Tempest fighter programme ran its engines "
           "at BAE Systems in Warton.\n\nThe Tempest jet is the first new combat aircraft in "
           "decades. Its data feeds the fighter design.")
    assert "defence" not in _labels(topics, *play, "en")
    assert "defence" in _labels(topics, *jet, "en")
    verb = ("How supermarkets mine your loyalty card data",
            "Supermarkets mine the records of card holders to set prices. They mined years of "
            "history.\n\nThe regulator should look at it. Retailers disagree.")
    pit = ("Cornish lithium mine approved",
           "A lithium mine near St Austell won approval. The open pit reopens a clay "
           "working.\n\nThe mine will produce lithium carbonate from 2028. A plant is planned.")
    assert "minerals" not in _labels(topics, *verb, "en")
    assert "minerals" in _labels(topics, *pit, "en")
    drill = ("日英が初の合同サイバー演習", "日英両政府は初の合同サイバー演習を実施した。港湾へのランサムウェア攻撃を想定した。"
             "\n\n演習は毎年行う。次回はロンドンで開く。")
    assert "defence" not in _labels(topics, *drill, "ja")
    assert "cyber" in _labels(topics, *drill, "ja")


def test_one_sentence_in_an_article_about_something_else_is_a_passing_mention(topics) -> None:
    title = "MPs call for more staff for the cyber partnership"
    text = ("A committee called for more staff for the cyber partnership with Japan. "
            "It wants a liaison office in Tokyo.\n\nJoint work on ransomware should come first. "
            "It notes that cooperation on the GCAP fighter has moved faster than on cyber "
            "defence.")
    labels = _labels(topics, title, text, "en")
    assert "cyber" in labels and "defence" not in labels
