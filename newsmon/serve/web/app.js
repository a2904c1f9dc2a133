// The newsmon search page: plain DOM, no libraries, nothing loaded from elsewhere.
"use strict";

const KEY_STORE = "newsmon-api-key";
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22"];
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const topicColours = new Map();
let lastCoverage = [];
let chartOfQuery = "";   // the query the chart shows the matches of ("" = the whole store)
let searchSeq = 0;

function colourOf(topic) {
  if (!topicColours.has(topic)) topicColours.set(topic, PALETTE[topicColours.size % PALETTE.length]);
  return topicColours.get(topic);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of params || []) url.searchParams.append(k, v);
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  const resp = await fetch(url, { headers });
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (!resp.ok) {
    if (resp.status === 401) $("key-form").hidden = false;
    throw new ApiError(resp.status, (body && body.message) || `${resp.status} ${resp.statusText}`);
  }
  return body;
}

// -- the form and the address bar --------------------------------------------------------------
const FIELDS = ["q", "mode", "lang", "topic", "source", "since", "until"];

function formParams() {
  const params = [];
  for (const name of FIELDS) {
    const value = $(name).value.trim();
    if (value) params.push([name, value]);
  }
  if (!$("collapse").checked) params.push(["collapse", "false"]);
  return params;
}

function ensureOption(select, value, label) {
  if (!value || [...select.options].some((o) => o.value === value)) return;
  select.append(el("option", { value, text: label || value }));
}

function fromAddress() {
  const sp = new URLSearchParams(window.location.search);
  for (const name of FIELDS) {
    const value = sp.get(name);
    if (value === null) continue;
    if ($(name).tagName === "SELECT") ensureOption($(name), value);
    $(name).value = value;
  }
  $("collapse").checked = sp.get("collapse") !== "false";
  return Boolean(sp.get("q"));
}

// -- results -----------------------------------------------------------------------------------
// The snippet is HTML-escaped text with <mark> around matched terms: keep the marks, nothing else.
function snippetNodes(html) {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  const out = [];
  for (const node of doc.body.childNodes) {
    if (node.nodeType === Node.ELEMENT_NODE && node.tagName === "MARK") {
      out.push(el("mark", { text: node.textContent }));
    } else {
      out.push(document.createTextNode(node.textContent));
    }
  }
  return out;
}

function day(published) {
  return published ? published.slice(0, 10) : "undated";
}

function langBadge(lang) {
  return el("span", { class: `badge lang-${lang || "unknown"}`, text: lang || "?" });
}

function topicBadges(topics) {
  return Object.entries(topics || {}).sort((a, b) => b[1] - a[1]).map(([t, score]) => {
    const b = el("span", { class: "badge topic", title: `score ${score.toFixed(2)}`,
      text: `${t} ${score.toFixed(2)}` });
    b.style.setProperty("--swatch", colourOf(t));
    return b;
  });
}

function coverageItem(a) {
  return el("li", {}, langBadge(a.lang), " ",
    el("a", { href: a.url, lang: a.lang || undefined, rel: "noreferrer", text: a.title || a.url }),
    el("span", { class: "meta-inline", text: ` — ${a.source}, ${day(a.published)}` }));
}

// the calibrated relevance in a word and a bar: strong (0.9 or more), good (0.5), weak
function relevanceBadge(hit) {
  const r = Math.max(0, Math.min(1, hit.relevance || 0));
  const strength = hit.strength || (r >= 0.9 ? "strong" : r >= 0.5 ? "good" : "weak");
  const bar = el("span", { class: "bar" }, el("span", { class: "fill" }));
  bar.firstChild.style.width = `${Math.round(r * 100)}%`;
  return el("span", { class: `relevance ${strength}`, "data-strength": strength,
    title: `relevance ${r.toFixed(2)}: ${strength === "weak" ? "a weaker match" :
      strength === "good" ? "likely about the query" : "clearly about the query"}` },
    bar, el("span", { text: strength }));
}

function renderHit(hit) {
  const title = el("h3", { lang: hit.lang || undefined },
    el("a", { href: hit.url, rel: "noreferrer", text: hit.title || hit.url }));
  const meta = el("div", { class: "meta" }, relevanceBadge(hit), langBadge(hit.lang),
    ...topicBadges(hit.topics),
    el("span", { text: `${hit.source} · ${day(hit.published)}` }));
  const snippet = el("p", { class: "snippet", lang: hit.lang || undefined },
    ...snippetNodes(hit.snippet || ""));
  const li = el("li", { class: "hit", "data-id": hit.id, "data-lang": hit.lang || "" },
    title, meta, snippet);
  if (hit.also && hit.also.length) {
    li.append(el("div", { class: "also" },
      el("span", { text: `Also covered (${hit.also.length}):` }),
      el("ul", {}, ...hit.also.map(coverageItem))));
  }
  if (hit.story) {
    const more = el("button", { class: "story-link", type: "button",
      text: "whole story ›" });
    more.addEventListener("click", () => showStory(li, hit.story, more));
    li.append(more);
  }
  return li;
}

async function showStory(li, story, button) {
  button.disabled = true;
  try {
    const body = await api(`/api/stories/${encodeURIComponent(story)}`);
    const list = el("div", { class: "also story" },
      el("span", { text: `Story: ${body.articles.length} article(s)` }),
      el("ul", {}, ...body.articles.map(coverageItem)));
    button.replaceWith(list);
  } catch (err) {
    button.textContent = `story unavailable: ${err.message}`;
  }
}

function renderFacets(facets) {
  const box = $("facets");
  box.replaceChildren();
  const names = { lang: "Language", topic: "Topic", source: "Source" };
  for (const field of ["lang", "topic", "source"]) {
    const counts = (facets || {})[field] || {};
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    if (!entries.length) continue;
    const ul = el("ul", { "data-facet": field });
    for (const [value, count] of entries) {
      ensureOption($(field), value);
      const b = el("button", { type: "button", "data-value": value,
        class: $(field).value === value ? "on" : "" },
        el("span", { text: value }), el("span", { class: "count", text: String(count) }));
      b.addEventListener("click", () => {
        $(field).value = $(field).value === value ? "" : value;
        runSearch();
      });
      ul.append(el("li", {}, b));
    }
    box.append(el("h3", { text: names[field] }), ul);
  }
}

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").className = kind || "";
}

async function runSearch() {
  const params = formParams();
  const q = $("q").value.trim();
  const address = new URLSearchParams(params);
  history.replaceState(null, "", q ? `?${address}` : window.location.pathname);
  if (!q) { chartOfQuery = ""; await refreshChart(); return; }
  setStatus("searching…");
  $("go").disabled = true;
  const mine = ++searchSeq;
  try {
    const body = await api("/api/search", params);
    if (mine !== searchSeq) return; // a newer search is under way: its answer counts
    const cut = body.cut ?? body.results.length;
    const shown = body.results.slice(0, cut).map(renderHit);
    const weaker = body.results.slice(cut).map(renderHit);
    if (weaker.length) {
      // the weaker matches are folded: a reader opens them when the good ones are not enough
      const fold = el("details", { class: "weaker" },
        el("summary", { text: `${weaker.length} weaker match${weaker.length === 1 ? "" : "es"}` }),
        el("ol", {}, ...weaker));
      shown.push(el("li", { class: "fold" }, fold));
    }
    $("results").replaceChildren(...shown);
    renderFacets(body.facets);
    // the chart follows the query and its filters: the good matches per day and topic
    lastCoverage = body.coverage || [];
    chartOfQuery = body.query;
    drawChart(lastCoverage);
    const n = body.results.length;
    let text = `${n} result${n === 1 ? "" : "s"} of ${body.total} (${body.mode}, ${body.took_ms} ms)`;
    if (!n) text = `No results for “${body.query}”.`;
    else if (!body.confident) text = `No confident answer; the closest ${text}`;
    setStatus(text, n && !body.confident ? "weak" : "");
  } catch (err) {
    if (mine !== searchSeq) return;
    $("results").replaceChildren();
    setStatus(err.message, "error");
  } finally {
    if (mine === searchSeq) $("go").disabled = false;
  }
  document.body.dataset.searched = String(Date.now());
}

// -- the coverage chart: stacked bars, one colour per topic ------------------------------------
function addDays(iso, n) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function bucketOf(iso, size) {
  if (size === "month") return iso.slice(0, 7);
  if (size === "week") {
    const d = new Date(`${iso}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7)); // back to Monday
    return d.toISOString().slice(0, 10);
  }
  return iso;
}

function drawChart(days) {
  const box = $("chart");
  const legend = $("legend");
  box.replaceChildren();
  legend.replaceChildren();
  box.dataset.query = chartOfQuery;
  if (!days.length) {
    $("chart-range").textContent = chartOfQuery ? `(matches of “${chartOfQuery}”)` : "";
    box.append(el("p", { class: "meta", text: chartOfQuery
      ? "No dated, topic-labelled good matches for this search."
      : "No dated, topic-labelled articles in this range." }));
    return;
  }
  const sorted = days.map((d) => d.day).sort();
  const first = sorted[0], last = sorted[sorted.length - 1];
  const span = Math.round((Date.parse(last) - Date.parse(first)) / 86400000) + 1;
  const size = span > 400 ? "month" : span > 120 ? "week" : "day";
  const buckets = [];
  for (let iso = first; iso <= last; iso = addDays(iso, 1)) {
    const b = bucketOf(iso, size);
    if (buckets[buckets.length - 1] !== b) buckets.push(b);
  }
  const topics = [...new Set(days.map((d) => d.topic))].sort();
  const counts = new Map(buckets.map((b) => [b, new Map()]));
  for (const d of days) {
    const m = counts.get(bucketOf(d.day, size));
    m.set(d.topic, (m.get(d.topic) || 0) + d.count);
  }
  const totals = buckets.map((b) => [...counts.get(b).values()].reduce((a, c) => a + c, 0));
  const max = Math.max(1, ...totals);
  const W = Math.max(320, box.clientWidth || 800), H = 180, left = 30, bottom = 22, top = 6;
  const plotW = W - left - 6, plotH = H - bottom - top;
  const step = plotW / buckets.length;
  const barW = Math.max(1, Math.min(28, step * 0.8));
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `articles per ${size} per topic`);
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  add("line", { x1: left, y1: top + plotH, x2: W - 6, y2: top + plotH, stroke: "#aab3bf" });
  // integer gridlines: 0, a round step, the top
  const stepY = Math.max(1, Math.ceil(max / 4));
  for (let v = stepY; v <= max; v += stepY) {
    const y = top + plotH - (v / max) * plotH;
    add("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, String(v));
    add("line", { x1: left, y1: y, x2: W - 6, y2: y, stroke: "#e7eaee" });
  }
  buckets.forEach((b, i) => {
    let y = top + plotH;
    const x = left + i * step + (step - barW) / 2;
    for (const t of topics) {
      const c = counts.get(b).get(t) || 0;
      if (!c) continue;
      const h = (c / max) * plotH;
      y -= h;
      const r = add("rect", { x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1),
        height: h.toFixed(1), fill: colourOf(t), "data-topic": t, "data-day": b });
      const tip = document.createElementNS(SVG_NS, "title");
      tip.textContent = `${b} · ${t}: ${c}`;
      r.append(tip);
    }
  });
  const labels = Math.min(buckets.length, Math.max(1, Math.floor(plotW / 110)));
  for (let k = 0; k < labels; k++) {
    const i = labels === 1 ? 0 : Math.round((k * (buckets.length - 1)) / (labels - 1));
    const x = Math.min(W - 36, Math.max(left + 30, left + i * step + step / 2));
    add("text", { x: x.toFixed(1), y: H - 6, "text-anchor": "middle" }, buckets[i]);
  }
  box.append(svg);
  const of = chartOfQuery ? `matches of “${chartOfQuery}”, ` : "";
  $("chart-range").textContent = `(${of}${first} – ${last}, per ${size})`;
  for (const t of topics) {
    const s = el("span", { text: t, "data-topic": t });
    s.style.setProperty("--swatch", colourOf(t));
    legend.append(s);
  }
}

async function refreshChart() {
  const params = [];
  for (const name of ["since", "until"]) if ($(name).value) params.push([name, $(name).value]);
  try {
    const body = await api("/api/coverage", params);
    lastCoverage = body.days;
    for (const d of body.days) ensureOption($("topic"), d.topic);
    drawChart(lastCoverage);
  } catch (err) {
    $("chart").replaceChildren(el("p", { class: "meta", text: `chart: ${err.message}` }));
  }
}

async function fillSources() {
  try {
    const stats = await api("/api/stats");
    const bySource = stats.by_source || stats.sources || {};
    for (const s of Object.keys(bySource).sort()) ensureOption($("source"), s);
    for (const t of Object.keys(stats.by_topic || stats.topics || {}).sort()) {
      ensureOption($("topic"), t);
    }
  } catch (err) { /* the search itself reports what is wrong */ }
}

async function init() {
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch(); });
  for (const name of ["mode", "lang", "topic", "source", "since", "until", "collapse"]) {
    $(name).addEventListener("change", () => runSearch());
  }
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("api-key").value);
    $("key-form").hidden = true;
    fillSources();
    runSearch();
  });
  let resize = null;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(() => drawChart(lastCoverage), 150);
  });
  const hasQuery = fromAddress();
  fillSources();
  // the chart first: it gives each topic its colour (sorted order), the same on every load
  await refreshChart();
  if (hasQuery) runSearch();
}

document.addEventListener("DOMContentLoaded", init);
