// GET /: a live status page for a laptop screen. One self-contained HTML document (inline CSS
// and script, no build step, nothing fetched from elsewhere: it works offline) that reads
// /status every two seconds and draws pools, backends and the traffic share class -> pool.

export const STATUS_REFRESH_MS = 2000;

const CSS = `
:root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --mute: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #f6f8fa; }
header { display: flex; flex-wrap: wrap; gap: 6px 24px; align-items: baseline; padding: 12px 20px; background: #24292f; color: #fff; }
header h1 { font-size: 18px; margin: 0 12px 0 0; }
header span { color: #d0d7de; }
main { max-width: 1280px; margin: 0 auto; padding: 12px 20px 40px; }
h2 { font-size: 15px; margin: 20px 0 8px; }
section.pool { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 10px 0; }
section.pool h3 { font-size: 14px; margin: 0; padding: 8px 12px; border-bottom: 1px solid var(--line); display: flex; gap: 12px; flex-wrap: wrap; }
section.pool h3 small { color: var(--mute); font-weight: normal; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 12px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
th { font-weight: 600; color: var(--mute); font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.healthy { color: var(--ok); font-weight: 600; }
.unhealthy { color: var(--bad); font-weight: 600; }
.unknown { color: var(--warn); font-weight: 600; }
.bar { display: inline-block; height: 10px; background: #54aeff; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.mute { color: var(--mute); }
#error { color: var(--bad); font-weight: 600; }
`;

// Plain browser script (no modules, no libraries). It only builds text nodes from /status, so
// pool and backend names from the policy are never parsed as HTML.
const SCRIPT = `
"use strict";
const REFRESH_MS = ${STATUS_REFRESH_MS};
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "style") e.style.cssText = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return e;
}
const ms = (v) => (v == null ? "–" : Math.round(v) + " ms");
const pct = (v) => (v == null ? "–" : (100 * v).toFixed(1) + " %");
const ago = (iso) => (iso ? Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)) + " s ago" : "never");

function renderHeader(s) {
  $("version").textContent = "v" + s.version + ", up " + s.uptime_s + " s";
  $("policy").textContent = "policy " + s.policy.hash + " (" + s.policy.file + "), loaded " + ago(s.policy.loaded_at);
  const e = s.envoy_admin;
  $("envoy").textContent = e.error ? "Envoy admin: " + e.error : "Envoy admin: polled " + ago(e.last_ok);
}

function renderPools(s) {
  const breakers = s.pools.some((p) => p.backends.some((b) => b.breaker !== undefined));
  const out = [];
  for (const p of s.pools) {
    const head = el("tr", {}, ...["backend", "health", "in flight", "requests (5 min)", "error rate", "TTFT p50", "TTFT p95"]
      .concat(breakers ? ["breaker"] : [])
      .map((h, i) => el("th", { class: i >= 2 ? "num" : "" }, h)));
    const rows = p.backends.map((b) => {
      const health = b.ejected_in_clusters ? "ejected" : b.health;
      const cls = health === "healthy" ? "healthy" : health === "unknown" ? "unknown" : "unhealthy";
      const cells = [
        el("td", {}, b.name, b.name === b.address ? "" : el("span", { class: "mute" }, " " + b.address)),
        el("td", { class: cls, "data-health": health }, health),
        el("td", { class: "num" }, b.in_flight == null ? "–" : b.in_flight),
        el("td", { class: "num" }, b.recent.requests),
        el("td", { class: "num" }, pct(b.recent.error_rate)),
        el("td", { class: "num" }, ms(b.recent.ttft_p50_ms)),
        el("td", { class: "num" }, ms(b.recent.ttft_p95_ms)),
      ];
      if (breakers) cells.push(el("td", { class: "num" }, b.breaker == null ? "–" : b.breaker));
      return el("tr", { "data-backend": b.address }, ...cells);
    });
    const healthy = p.backends.filter((b) => b.health === "healthy" && !b.ejected_in_clusters).length;
    out.push(el("section", { class: "pool", "data-pool": p.name },
      el("h3", {}, p.name, el("small", {}, p.served_model), el("small", {}, p.reasoning_adapter),
        el("small", {}, healthy + "/" + p.backends.length + " healthy")),
      el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))));
  }
  $("pools").replaceChildren(...out);
}

function renderShare(s) {
  const t = s.traffic;
  $("share-title").textContent = "Traffic share, class → pool (last " + Math.round(t.window_s / 60) + " min, " + t.total + " requests)";
  const ladders = new Map(s.classes.map((c) => [c.name, c.ladder]));
  const cards = [];
  const seen = new Set(t.classes.map((c) => c.class));
  for (const c of s.classes) if (!seen.has(c.name)) t.classes.push({ class: c.name, total: 0, pools: {} });
  for (const c of t.classes) {
    const rows = Object.entries(c.pools).sort((a, b) => b[1] - a[1]).map(([pool, n]) => {
      const share = c.total ? n / c.total : 0;
      return el("tr", {}, el("td", {}, pool),
        el("td", { class: "num" }, el("span", { class: "bar", style: "width:" + Math.round(120 * share) + "px" }), pct(share)),
        el("td", { class: "num mute" }, n));
    });
    const ladder = (ladders.get(c.class) || []).map((step) => step.map((w) => w.pool + " " + w.weight).join(", ")).join(" → ");
    cards.push(el("div", { class: "card", "data-class": c.class },
      el("strong", {}, c.class), " ", el("span", { class: "mute" }, c.total + (c.total === 1 ? " request" : " requests")),
      el("div", { class: "mute" }, "ladder: " + (ladder || "–")),
      rows.length ? el("table", {}, el("tbody", {}, ...rows)) : el("div", { class: "mute" }, "no traffic")));
  }
  $("share").replaceChildren(...cards);
}

async function refresh() {
  try {
    const res = await fetch("status", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const s = await res.json();
    renderHeader(s); renderPools(s); renderShare(s);
    $("error").textContent = "";
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.updated = String(Date.now());
  } catch (err) {
    $("error").textContent = "cannot read /status: " + err.message;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}
refresh();
`;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>switchyard status</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<header><h1>switchyard</h1><span id="version"></span><span id="policy"></span><span id="envoy"></span><span id="updated"></span><span id="error"></span></header>
<main>
<h2>Pools and backends</h2>
<div id="pools"><p class="mute">loading…</p></div>
<h2 id="share-title">Traffic share</h2>
<div id="share" class="grid"></div>
<p class="mute">Health and in-flight come from Envoy's admin (polled every 2 s); requests, error rate and TTFT are this sidecar's last 5 minutes. Raw data: <a href="status">/status</a>, <a href="metrics">/metrics</a>.</p>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
