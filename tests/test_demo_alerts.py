"""`newsmon demo --new-articles` end to end: the first pass sets the alert baseline, new
articles appear on the demo sites, and the next run (child processes, as cron runs them)
delivers exactly one alert: the new Japan–UK cyber exercise story, with the Japanese paper's
report of it as "also covered by"; the unrelated local story and every old story stay silent."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_demo import REPO, clean_env

pytestmark = pytest.mark.slow

EN = "http://www.harbour-times.example/news/2025/09/uk-japan-first-joint-cyber-exercise"
JA = "http://www.toto-shimpo.example/news/politics/20250910-0005.html"


def test_demo_shows_one_alert_after_new_articles_appear(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsmon", "demo", "--data-dir", str(tmp_path), "--new-articles"],
        capture_output=True, text=True, env=clean_env(), cwd=REPO, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "baseline: " in out and "stories recorded without alerting" in out
    lines = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, lines
    alert = json.loads(lines[0])
    urls = {alert["article"]["canonical_url"], *(a["url"] for a in alert["also"])}
    assert {EN, JA} <= urls
    assert alert["rule"] == "japan-uk-pact" and alert["why"]["score"] >= 0.855
    # printed by the rule's stdout channel: title, source, language, badges, link
    assert "== 1 alert(s) delivered this run" in out
    assert "also covered by" in out and "日英が初のサイバー共同演習" in out
    assert "marathon" not in lines[0].lower()
