"""Fuzzing the API of a real `newsmon serve` over a real store: schemathesis over the OpenAPI
schema, and a hand-made list of hostile inputs (FTS5 and Lucene syntax, 10 kB queries, invalid
UTF-8, control characters, unknown parameters). Goal: 0 responses 500, 0 tracebacks."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from tests.helpers.served import Served
from tests.serve.conftest import API_KEY

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,response_schema_conformance,negative_data_rejection"
# a fixed seed keeps CI reproducible; set NEWSMON_FUZZ_SEED to explore others
SEED = os.environ.get("NEWSMON_FUZZ_SEED", "20261130")
EXAMPLES = os.environ.get("NEWSMON_FUZZ_EXAMPLES", "30")


def schemathesis(served: Served, report: Path, *extra: str,
                 examples: str = EXAMPLES) -> subprocess.CompletedProcess[str]:
    st = Path(sys.executable).with_name("schemathesis")
    cmd = [str(st), "run", f"{served.url}/openapi.json", "--checks", CHECKS,
           "--workers", "1", "--max-examples", examples, "--seed", SEED,
           "--request-timeout", "60", "--suppress-health-check", "too_slow",
           "--report", "junit", "--report-dir", str(report), *extra]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    # cwd: schemathesis keeps its example database in .schemathesis/ there
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, cwd=report)


def _tested(out: str) -> tuple[int, int]:
    m = re.search(r"Selected:\s*(\d+)/(\d+)", out)
    assert m, out[-3000:]
    return int(m[1]), int(m[2])


def test_schemathesis_every_endpoint(served: Served, tmp_path: Path) -> None:
    result = schemathesis(served, tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert _tested(out) == (9, 9)  # every operation of the schema, the feeds included
    assert re.search(r"\d+ generated, \d+ passed", out), out[-3000:]
    assert "Traceback" not in served.log_text()


def test_schemathesis_with_an_api_key(served_with_key: Served, tmp_path: Path) -> None:
    # the same schema with the key: fewer examples, the point is that the key is honoured
    result = schemathesis(served_with_key, tmp_path, "--header", f"X-API-Key: {API_KEY}",
                          examples="10")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert _tested(out) == (9, 9)
    assert "Traceback" not in served_with_key.log_text()


HOSTILE_QUERIES = [
    # FTS5 syntax
    '"', '""', '"unterminated', "*", "gcap*", "-cyber", "NEAR(uk japan)", "NEAR(a b, 5)",
    "uk AND", "AND OR NOT", "(", ")", "((((", "title:gcap", "{title body}: x", "^gcap",
    "a + b", "col : x", "'single'", "a\"b", "NOT", "OR", "uk OR japan", "x -- y",
    # Lucene / Elasticsearch query_string syntax
    "title:(GCAP OR 次期戦闘機)", "gcap~2", "gcap^10", "/[a-z]+/", "\\", "a && b || !c",
    "[2020 TO *]", "{* TO 5}", "field:*", "?", "*:*", "gcap\\", "<script>alert(1)</script>",
    "%", "_", "%%", "\x7f",
    # Japanese and mixed scripts
    "日英 次期戦闘機", "「中国は日英の重要鉱物協力にどう反応したか」", "ｇｃａｐ", "レアアース＊",
    "日英\u3000協力", "🇯🇵🇬🇧", "\u200b", "\ufeffuk",
    # control characters and odd whitespace
    "\x00", "uk\x00japan", "\t\n\r", "\x1b[31m", "\u2028",
]
LONG_QUERIES = ["a" * 10_000, "日" * 3_333, ("GCAP " * 2000)[:10_000], "あ" * 10_000]


EXTRAS = ({}, {"lang": "ja"}, {"topic": "cyber", "collapse": "false"})
# keyword search costs milliseconds: every query with every filter set; a vector query embeds
# the text (seconds for the long ones on 2 busy cores): hybrid for each short query (it runs
# both the keyword and the vector path), semantic for a few, and one 10 kB query of each
HOSTILE_CASES = (
    [(q, "keyword", extra) for q in HOSTILE_QUERIES + LONG_QUERIES for extra in EXTRAS]
    + [(q, "hybrid", {}) for q in HOSTILE_QUERIES]
    + [(q, "semantic", {"lang": "en"}) for q in HOSTILE_QUERIES[::6]]
    + [(LONG_QUERIES[0], "hybrid", {"lang": "ja"}), (LONG_QUERIES[1], "semantic", {})]
)


def test_hostile_queries_never_fail(served: Served) -> None:
    problems = []
    for query, mode, extra in HOSTILE_CASES:
        path = "/api/search?" + urllib.parse.urlencode({"q": query, "mode": mode, **extra})
        status, _, raw = served.get(path, timeout=300)
        body = json.loads(raw)
        if status >= 500 or (status >= 400 and not body.get("message")):
            problems.append((query[:40], mode, extra, status, raw[:300]))
        elif status == 200 and not isinstance(body.get("results"), list):
            problems.append((query[:40], mode, extra, status, raw[:300]))
    assert not problems, problems
    assert "Traceback" not in served.log_text()


RAW_PATHS = [
    # invalid UTF-8 and broken escapes in every parameter
    "/api/search?q=%FF", "/api/search?q=caf%E9", "/api/search?q=%E6%97", "/api/search?q=%",
    "/api/search?q=%G1", "/api/search?q=x&lang=%FF", "/api/search?q=x&topic=%C3%28",
    "/api/search?q=x&source=%80", "/api/search?q=x&since=%FF", "/api/coverage?since=%FE",
    "/api/articles/%C3%28", "/api/stories/%E2%82",
    # unknown, repeated, empty and strange parameters
    "/api/search?q=x&q=y", "/api/search?q=x&mode=keyword&mode=semantic", "/api/search?q=x&=1",
    "/api/search?q=x&&&", "/api/search?q=x&limit=1e9", "/api/search?q=x&limit=-1",
    "/api/search?q=x&limit=9999999999999999999999", "/api/search?q=x&limit=1.5",
    "/api/search?q=x&min_topic_score=nan", "/api/search?q=x&min_topic_score=inf",
    "/api/search?q=x&since=0d", "/api/search?q=x&since=9999-12-31",
    "/api/search?q=x&since=0001-01-01&until=0001-01-02",
    "/api/search?q=x&since=2025-01-01T25:99", "/api/search?q=x&entity=" + "e" * 500,
    "/api/search?q=x" + "&topic=cyber" * 50, "/api/search?q=x&color=red",
    "/api/search?Q=x", "/api/search?q[]=x", "/api/search?q=x&lang=EN",
    "/api/coverage?since=2025-01-01&until=2024-01-01", "/api/health?x=1",
    "/api/articles/" + "f" * 24 + "?x=1", "/api/articles/" + "F" * 24,
    "/api/articles/" + "0" * 2000, "/api/nope", "/api/search/", "/static/../pyproject.toml",
    "/static/%2e%2e/api.py",
]


def test_raw_hostile_requests_never_fail(served: Served) -> None:
    problems = []
    for path in RAW_PATHS:
        status, headers, raw = served.get(path)
        if status >= 500:
            problems.append((path, status, raw[:300]))
        elif status >= 400 and headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw)
            if not (body.get("message") or body.get("detail")):
                problems.append((path, status, raw[:300]))
        elif status == 200 and path.startswith("/static/"):
            problems.append((path, status, "served a file outside the web folder"))
    assert not problems, problems
    assert "Traceback" not in served.log_text()
