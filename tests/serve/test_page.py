"""The search page in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven
by selenium) against a real `newsmon serve` over a real store.

The screenshot of each run is a test artifact: $NEWSMON_TEST_ARTIFACTS/browser/ (default
test-artifacts/browser/ in the checkout).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.served import Served

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
WAIT = 90  # seconds: the first semantic query loads the embedding model


def artifacts_dir() -> Path:
    base = Path(os.environ.get("NEWSMON_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path = base / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)), None)
    chromedriver = shutil.which("chromedriver")
    if not binary or not chromedriver:
        message = "headless Chromium not found (bash .ci/setup installs chromium chromium-driver)"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--lang=en-US", "--no-proxy-server"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield drv
    finally:
        drv.quit()


def test_japanese_query_filter_results_and_chart(driver, served: Served) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT)
    driver.get(served.url + "/")
    # the chart comes up before any search: coverage per day per topic, drawn in SVG
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#chart svg rect")))
    legend = {e.get_attribute("data-topic") for e in
              driver.find_elements(By.CSS_SELECTOR, "#legend span")}
    assert {"cyber", "minerals", "defence"} <= legend

    box = driver.find_element(By.ID, "q")
    box.send_keys("日英 重要鉱物")
    box.send_keys(Keys.ENTER)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results li.hit"))
    first_round = driver.execute_script("return document.body.dataset.searched")
    hits = driver.find_elements(By.CSS_SELECTOR, "#results li.hit")
    langs = {h.get_attribute("data-lang") for h in hits}
    assert "ja" in langs
    # the address bar keeps the search (a link to it reproduces it)
    assert "q=%E6%97%A5%E8%8B%B1" in driver.current_url

    # apply a filter: Japanese only
    Select(driver.find_element(By.ID, "lang")).select_by_value("ja")
    wait.until(lambda d: d.execute_script("return document.body.dataset.searched")
               != first_round)
    hits = driver.find_elements(By.CSS_SELECTOR, "#results li.hit")
    assert hits and {h.get_attribute("data-lang") for h in hits} == {"ja"}
    top = hits[0]
    assert top.find_element(By.CSS_SELECTOR, "h3").text.startswith("重要鉱物で日英が協力枠組み")
    marks = [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#results .snippet mark")]
    assert marks and any(m in ("日英", "重要", "鉱物", "重要鉱物") for m in marks), marks
    badges = [b.text for b in top.find_elements(By.CSS_SELECTOR, ".badge")]
    assert "ja" in badges and any(b.startswith("minerals") for b in badges), badges
    facet_langs = [b.get_attribute("data-value") for b in
                   driver.find_elements(By.CSS_SELECTOR, "#facets ul[data-facet=lang] button")]
    assert facet_langs == ["ja"]
    status = driver.find_element(By.ID, "status").text
    assert "result" in status, status
    assert driver.find_elements(By.CSS_SELECTOR, "#chart svg rect")
    # a Japanese font is installed and chosen, so the page shows glyphs, not boxes
    assert driver.execute_script(
        "return document.fonts.check('16px \"Noto Sans CJK JP\"', '日英')")

    shot = artifacts_dir() / "search-ja.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    # the page loaded nothing it was not allowed to (CSP) and threw nothing
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_story_coverage_and_facet_click(driver, served: Served) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT)
    driver.get(served.url + "/?q=GCAP+fighter+programme&lang=en")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results li.hit .also li"))
    # textContent: a hit among the folded weaker matches is hidden, and hidden text is no .text
    also = [a.get_attribute("textContent") or "" for a in
            driver.find_elements(By.CSS_SELECTOR, "#results li.hit .also li")]
    # the story's other coverage: the Japanese report of the same GCAP news
    assert any("GCAP" in a or "戦闘機" in a for a in also), also
    before = driver.execute_script("return document.body.dataset.searched")
    source = driver.find_element(By.CSS_SELECTOR, "#facets ul[data-facet=source] button")
    value = source.get_attribute("data-value")
    source.click()
    wait.until(lambda d: d.execute_script("return document.body.dataset.searched") != before)
    hits = driver.find_elements(By.CSS_SELECTOR, "#results li.hit")
    # textContent: the weaker matches are folded (hidden), and a hidden element has no .text
    assert hits and all(value in h.find_element(By.CSS_SELECTOR, ".meta")
                        .get_attribute("textContent") for h in hits)
    assert f"source={value}" in driver.current_url
    driver.find_element(By.CSS_SELECTOR, "#results li.hit .story-link").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results .also.story li"))
    driver.save_screenshot(str(artifacts_dir() / "story-en.png"))


def test_alerts_view_lists_each_rules_latest_alerts(driver, served: Served) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT)
    _, expected = served.get_json("/api/alerts?rule=japan-uk-pact")
    # the search page links the Alerts view and the feed
    driver.get(served.url + "/")
    driver.find_element(By.CSS_SELECTOR, "nav.views a[href='/alerts']").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts li.alert"))
    assert driver.find_element(By.CSS_SELECTOR,
                               "link[rel=alternate][type='application/atom+xml']")
    Select(driver.find_element(By.ID, "rule")).select_by_value("japan-uk-pact")
    wait.until(lambda d: "rule=japan-uk-pact" in d.current_url and d.find_element(
        By.ID, "alerts-title").text == "Latest alerts of japan-uk-pact")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#alerts li.alert"))
               == len(expected["alerts"]))  # type: ignore[index]
    items = driver.find_elements(By.CSS_SELECTOR, "#alerts li.alert")
    assert {i.get_attribute("data-rule") for i in items} == {"japan-uk-pact"}
    # each alert links to its story's canonical URL, newest first, in its own language
    links = [i.find_element(By.CSS_SELECTOR, "h3 a").get_attribute("href") for i in items]
    assert links == [a["url"] for a in expected["alerts"]]  # type: ignore[index]
    titles = [i.find_element(By.CSS_SELECTOR, "h3").text for i in items]
    assert any("日英" in t for t in titles), titles
    states = {s.get_attribute("data-state") for s in
              driver.find_elements(By.CSS_SELECTOR, "#alerts .delivery")}
    assert states == {"sent"}
    assert "feed:feeds/japan-uk-pact.atom" in items[0].text
    feed = driver.find_element(By.ID, "feed-link")
    assert feed.get_attribute("href") == served.url + "/feeds/alerts/japan-uk-pact.atom"
    # the story behind an alert, every outlet and language of it
    items[0].find_element(By.CSS_SELECTOR, ".story-link").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts .also.story li"))
    shot = artifacts_dir() / "alerts.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    # the link in the page's head is a feed a reader can subscribe to
    status, headers, _ = served.get("/feeds/alerts.atom")
    assert status == 200 and headers["content-type"].startswith("application/atom+xml")


def test_relevance_in_words_weaker_fold_query_chart_and_listed_facets(
        driver, served: Served) -> None:  # noqa: ANN001
    """Each result shows its relevance as a word and a bar; weaker matches are folded under
    one summary; the chart shows the good matches of this query (not the whole store); the
    facets count what is listed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT)
    driver.get(served.url + "/")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart svg rect"))
    store_bars = len(driver.find_elements(By.CSS_SELECTOR, "#chart svg rect"))
    assert driver.find_element(By.ID, "chart").get_attribute("data-query") == ""

    driver.get(served.url + "/?q=GCAP+fighter+programme")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results li.hit"))
    wait.until(lambda d: d.find_element(By.ID, "chart").get_attribute("data-query")
               == "GCAP fighter programme")
    hits = driver.find_elements(By.CSS_SELECTOR, "#results li.hit")
    words = [h.find_element(By.CSS_SELECTOR, ".relevance").get_attribute("data-strength")
             for h in hits]
    assert set(words) <= {"strong", "good", "weak"} and words[0] in ("strong", "good"), words
    visible = [h for h in hits if h.is_displayed()]
    assert visible and all(h.find_element(By.CSS_SELECTOR, ".relevance").text in
                           ("strong", "good", "weak") for h in visible)
    folded = driver.find_elements(By.CSS_SELECTOR, "#results details.weaker")
    weak = [w for w in words if w == "weak"]
    if weak:
        [fold] = folded
        assert fold.find_element(By.TAG_NAME, "summary").text.startswith(f"{len(weak)} weaker")
        assert not any(h.is_displayed() for h in fold.find_elements(By.CSS_SELECTOR, "li.hit"))
        fold.find_element(By.TAG_NAME, "summary").click()
        assert all(h.is_displayed() for h in fold.find_elements(By.CSS_SELECTOR, "li.hit"))
    else:
        assert not folded
    # the chart follows the query: fewer bars than the whole store's, and says so
    query_bars = driver.find_elements(By.CSS_SELECTOR, "#chart svg rect")
    assert len(query_bars) < store_bars, (len(query_bars), store_bars)
    assert "matches of" in driver.find_element(By.ID, "chart-range").text
    # the facets count what is listed: one language count per listed result
    counts = [int(b.find_element(By.CSS_SELECTOR, ".count").text) for b in
              driver.find_elements(By.CSS_SELECTOR, "#facets ul[data-facet=lang] button")]
    assert sum(counts) == len(hits), (counts, len(hits))
    driver.save_screenshot(str(artifacts_dir() / "relevance-en.png"))
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
