"""How an alert reads: every piece of article text escaped in the Slack text (a page can carry
<!channel>), and titles shown in the one normalised form everywhere (the alert's own title,
its "also covered" list, and the search results)."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from newsmon.alerts.evaluate import brief
from newsmon.alerts.render import render
from newsmon.index.core.article import Article
from newsmon.index.core.titles import display_title

EVIL = "<!channel> <@U123> <https://evil.example|click> & co"


def _payload() -> dict:
    return {
        "type": "match", "rule": "pact", "rule_description": f"pact {EVIL}", "story": "s1",
        "article": {"id": "a", "url": "https://news.example/a?x=1|2>3",
                    "title": f"ＧＣＡＰ　venture {EVIL}", "lang": "en",
                    "source": "uk<paper>", "published": "2026-11-13T09:30:00+00:00",
                    "topics": {"defence": {"score": 0.9, "label": True}}},
        "why": {"terms": ["<!here>", "GCAP"], "passage": f"quoted {EVIL}",
                "topics": {"defence": {"score": 0.9, "evidence": ["<!everyone>"]}}},
        "also": [{"id": "b", "url": "https://other.example/b", "title": f"次期戦闘機　{EVIL}",
                  "lang": "ja", "source": "jp<!channel>", "published": None}],
        "updates": [{"id": "c", "url": "https://third.example/c", "title": "x",
                     "lang": "en", "source": "<!subteam^S1>"}],
    }


def test_slack_text_escapes_every_piece_of_article_text() -> None:
    slack = render(_payload(), "key", ZoneInfo("UTC")).slack
    # the only <...> left are the links newsmon made: to the article and its other coverage
    brackets = re.findall(r"<[^>]*>", slack)
    assert brackets and all(b.startswith("<https://") for b in brackets), brackets
    assert "<!" not in slack and "<@" not in slack
    assert "&lt;!channel&gt;" in slack  # shown literally, not acted on
    assert "quoted &lt;!channel&gt;" in slack and "&lt;!here&gt;" in slack
    assert "<https://news.example/a?x=1%7C2%3E3|GCAP venture &lt;!channel&gt;" in slack
    health = render({"type": "health", "source": "src<!channel>", "condition": "failing",
                     "detail": "HTTP 500 at https://x.example/<!here>",
                     "since": "2026-11-13T09:30:00+00:00"}, "k", ZoneInfo("UTC")).slack
    assert "<" not in health, health


def test_titles_are_normalised_alike_in_alerts_and_also_covered() -> None:
    message = render(_payload(), "key", ZoneInfo("UTC"))
    assert message.text.splitlines()[2].startswith("GCAP venture ")  # NFKC, one plain space
    assert "  - 次期戦闘機 <!channel>" in message.text
    assert "ＧＣＡＰ" not in message.text + message.html + message.slack + message.subject
    assert "\u3000" not in message.text + message.html + message.slack + message.subject
    art = Article(url="https://x.example/1", canonical_url="https://x.example/1", source="s",
                  title="ＧＣＡＰ　次期戦闘機\u200b、英国拠点", lang="ja",
                  published=datetime(2025, 1, 1, tzinfo=UTC))
    assert brief(art)["title"] == "GCAP 次期戦闘機、英国拠点" == display_title(art.title)
