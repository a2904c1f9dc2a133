// The Alerts view: each rule's latest alerts (the history of `newsmon alerts`), each linking to
// its story, and the rule's Atom feed. Plain DOM, nothing loaded from elsewhere.
"use strict";

const KEY_STORE = "newsmon-api-key";
const $ = (id) => document.getElementById(id);

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
    throw new Error((body && body.message) || `${resp.status} ${resp.statusText}`);
  }
  return body;
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined,
    { dateStyle: "medium", timeStyle: "short" });
}

function ensureRule(value) {
  const select = $("rule");
  if (!value || [...select.options].some((o) => o.value === value)) return;
  select.append(el("option", { value, text: value }));
}

function delivery(d) {
  const what = d.state === "sent" ? `sent ${when(d.sent_at)}`
    : `${d.state}${d.attempts ? `, ${d.attempts} failed run(s)` : ""}`;
  return el("li", { class: `delivery ${d.state}`, "data-state": d.state,
    title: d.last_error || "" }, el("code", { text: d.channel }), ` ${what}`);
}

async function showStory(li, story, button) {
  button.disabled = true;
  try {
    const body = await api(`/api/stories/${encodeURIComponent(story)}`);
    const items = body.articles.map((a) => el("li", {},
      el("span", { class: `badge lang-${a.lang || "unknown"}`, text: a.lang || "?" }), " ",
      el("a", { href: a.url, lang: a.lang || undefined, rel: "noreferrer", text: a.title || a.url }),
      el("span", { class: "meta-inline", text: ` — ${a.source}` })));
    button.replaceWith(el("div", { class: "also story" },
      el("span", { text: `Story: ${body.articles.length} article(s)` }), el("ul", {}, ...items)));
  } catch (err) {
    button.textContent = `story unavailable: ${err.message}`;
  }
}

function renderAlert(a) {
  const title = a.url
    ? el("a", { href: a.url, rel: "noreferrer", text: a.title })
    : el("span", { text: a.title });
  const li = el("li", { class: "hit alert", "data-key": a.key, "data-rule": a.rule,
    "data-kind": a.kind, "data-lang": a.lang || "" },
  el("h3", { lang: a.lang || undefined }, title),
  el("div", { class: "meta" },
    el("span", { class: "badge", text: a.rule }),
    a.lang ? el("span", { class: `badge lang-${a.lang}`, text: a.lang }) : null,
    el("span", { text: [a.kind, a.source, `alerted ${when(a.created_at)}`]
      .filter(Boolean).join(" · ") })),
  el("ul", { class: "deliveries" }, ...a.deliveries.map(delivery)));
  if (!a.deliveries.length) {
    li.append(el("p", { class: "meta", text: "sent in the rule's digest" }));
  }
  if (a.story) {
    const more = el("button", { class: "story-link", type: "button", text: "whole story ›" });
    more.addEventListener("click", () => showStory(li, a.story, more));
    li.append(more);
  }
  return li;
}

async function load() {
  const rule = $("rule").value;
  history.replaceState(null, "", rule ? `?rule=${encodeURIComponent(rule)}` : window.location.pathname);
  $("status").textContent = "loading…";
  try {
    const body = await api("/api/alerts", rule ? [["rule", rule]] : []);
    for (const r of body.rules) ensureRule(r);
    $("feed-link").href = body.feed;
    $("feed-link").textContent = rule ? `Atom feed of ${rule}` : "Atom feed (every rule)";
    $("alerts-title").textContent = rule ? `Latest alerts of ${rule}` : "Latest alerts";
    $("alerts").replaceChildren(...body.alerts.map(renderAlert));
    const n = body.alerts.length;
    $("status").textContent = n ? `${n} alert${n === 1 ? "" : "s"}, newest first`
      : "No alerts sent yet (a rule's first run records a silent baseline).";
    $("status").className = "";
  } catch (err) {
    $("alerts").replaceChildren();
    $("status").textContent = err.message;
    $("status").className = "error";
  }
  document.body.dataset.loaded = String(Date.now());
}

function init() {
  const rule = new URLSearchParams(window.location.search).get("rule");
  if (rule) { ensureRule(rule); $("rule").value = rule; }
  $("rule").addEventListener("change", load);
  $("rule-form").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("api-key").value);
    $("key-form").hidden = true;
    load();
  });
  load();
}

document.addEventListener("DOMContentLoaded", init);
