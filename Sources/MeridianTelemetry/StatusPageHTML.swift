/// The admin listener's live status page (`/status`): one self-contained HTML document that renders `/status.json` and follows `/status/events` (SSE).
enum StatusPageHTML {
    static let document: String = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Meridian status</title>
<style>
:root{--bg:#f3f4f6;--card:#fff;--fg:#16202b;--mut:#5c6877;--line:#e1e4e9;--soft:#eceef2;--acc:#2563eb;--p99:#8b3fd9;--ok:#157a3a;--okb:#daf5e3;--warn:#a35200;--warnb:#fdf0cc;--bad:#c21c1c;--badb:#fde2e2;--c1:#94a3b8;--c2:#23a55a;--c3:#3b82f6;--c4:#f0a020;--c5:#e0243e}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--mut:#8e98a3;--line:#2a313a;--soft:#222831;--acc:#58a6ff;--p99:#c297ff;--ok:#4cc46a;--okb:#163a22;--warn:#e3a732;--warnb:#3b2c0c;--bad:#ff6b63;--badb:#451619;--c1:#6e7681;--c2:#2ea44f;--c3:#3d8bfd;--c4:#d89a22;--c5:#f5485b}}
*{box-sizing:border-box}
[hidden]{display:none!important}
html,body{margin:0}
body{background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-variant-numeric:tabular-nums;-webkit-font-smoothing:antialiased}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
.wrap{max-width:1240px;margin:0 auto;padding:16px 20px 24px;transition:opacity .3s}
.off .wrap>section{opacity:.72}
header{display:flex;flex-wrap:wrap;align-items:flex-start;justify-content:space-between;gap:8px 16px;margin-bottom:14px}
h1{font-size:21px;line-height:1.3;margin:0;font-weight:650;display:flex;align-items:center;flex-wrap:wrap;gap:4px 10px}
h1 .brand{color:var(--mut);font-weight:500}
.meta{color:var(--mut);font-size:13px;margin-top:4px;display:flex;flex-wrap:wrap;gap:2px 16px}
.meta b{color:var(--fg);font-weight:600}
.right{display:flex;flex-wrap:wrap;align-items:center;gap:6px 10px;font-size:13px;color:var(--mut);padding-top:3px}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap;background:var(--soft);color:var(--mut);line-height:1.6}
.badge.ok{background:var(--okb);color:var(--ok)}.badge.warn{background:var(--warnb);color:var(--warn)}.badge.bad{background:var(--badb);color:var(--bad)}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.mut{color:var(--mut)}
.dot::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:currentColor;margin-right:6px;vertical-align:1px}
.live.dot::before{animation:pulse 2s infinite}
@keyframes pulse{50%{opacity:.35}}
.alert{background:var(--badb);color:var(--bad);border-radius:8px;padding:8px 12px;margin-bottom:12px;font-weight:600}
.grid{display:grid;gap:12px;margin-bottom:12px}
.kpis{grid-template-columns:repeat(auto-fit,minmax(240px,1fr))}
.cards{grid-template-columns:repeat(auto-fit,minmax(250px,1fr))}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px;min-width:0;display:flex;flex-direction:column;container-type:inline-size}
.card h2,th,.lbl{font-size:11.5px;font-weight:650;text-transform:uppercase;letter-spacing:.05em;color:var(--mut)}
.card h2{font-size:12px;margin:0 0 6px;display:flex;justify-content:space-between;align-items:baseline;gap:8px}
.card h2 span{text-transform:none;letter-spacing:0;font-weight:500}
.row{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 22px}
.big{font-size:32px;font-weight:650;line-height:1.15;letter-spacing:-.01em}
.mid{font-size:24px;font-weight:650;line-height:1.15}
.u{font-size:13px;color:var(--mut);font-weight:500;margin-left:4px}
.lbl{display:block}
.sub{color:var(--mut);font-size:12.5px;margin-top:3px}
.sub b{color:var(--fg);font-weight:600}
.sp{margin-top:auto;padding-top:8px}
svg.spark{display:block;width:100%;height:42px}
.cap{display:flex;justify-content:space-between;color:var(--mut);font-size:11.5px;margin-top:2px}
.bar{display:flex;height:12px;border-radius:6px;overflow:hidden;background:var(--soft);margin:6px 0 2px}
.bar>div{min-width:3px}.bar>div+div{border-left:1px solid var(--card)}
.s1{background:var(--c1)}.s2{background:var(--c2)}.s3{background:var(--c3)}.s4{background:var(--c4)}.s5{background:var(--c5)}.sa{background:var(--acc)}.sp9{background:var(--p99)}
.lat{display:grid;grid-template-columns:repeat(3,auto);justify-content:space-between;gap:4px}
.lat .mid{font-size:clamp(18px,9cqi,28px)}.lat .u{margin-left:3px}
.legend{display:flex;flex-wrap:wrap;gap:2px 18px;margin-top:6px;font-size:13px}
.legend i,.mix i{display:inline-block;width:10px;height:10px;border-radius:3px;margin-right:7px}
.legend b{font-weight:600;margin-left:5px}
.mix{display:grid;grid-template-columns:auto 1fr auto;gap:3px 12px;margin-top:8px;font-size:13px;align-items:center}
.mix b{text-align:right;font-weight:600}.mix .u{text-align:right;min-width:52px}
.tw{overflow-x:auto;margin:0 -6px}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:6px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover td{background:var(--soft)}
th.n,td.n{text-align:right}
td.route{max-width:420px;overflow:hidden;text-overflow:ellipsis}
tr.down td{background:color-mix(in srgb,var(--badb) 55%,transparent)}
.empty{color:var(--mut);font-style:italic;margin:4px 0 0}td.empty{padding:8px}
dl.kv{display:grid;grid-template-columns:1fr auto;gap:3px 12px;margin:6px 0 0;font-size:13px}
dl.kv dt{color:var(--mut)}dl.kv dd{margin:0;text-align:right;font-weight:600}
.lvl+.lvl{margin-top:10px}
.sec+.sec{margin-top:10px;padding-top:8px;border-top:1px solid var(--line)}
.sec h3{margin:0;font-size:13px;font-weight:600;display:flex;justify-content:space-between;align-items:center}
.nar{display:none}.nar .badge{margin-top:3px}
@media (max-width:640px){.wrap{padding:12px 12px 20px}.opt,.wide{display:none}.nar{display:block;font-size:11.5px;color:var(--mut)}th,td{padding:5px}.tw{margin:0 -4px}td.route{max-width:190px}.big{font-size:28px}h1{font-size:19px}.right{width:100%}}
</style>
</head>
<body data-state="loading" data-stream="idle">
<div class="wrap">
<header>
<div>
<h1><span class="brand">Meridian</span><span data-testid="host">—</span><span class="badge" data-testid="readiness">—</span><span class="badge" data-testid="redis"></span></h1>
<div class="meta">
<span>id <b class="mono" data-testid="instance-id">—</b></span>
<span>version <b data-testid="version">—</b></span>
<span>up <b data-testid="uptime">—</b></span>
<span>config <b data-testid="config-generation">—</b> loaded <b data-testid="config-loaded">—</b></span>
</div>
</div>
<div class="right">
<span class="badge bad dot" data-testid="disconnected" hidden>disconnected — retrying</span>
<span class="badge ok dot live" data-testid="live" hidden>live</span>
<span data-testid="last-update">waiting for data&hellip;</span>
</div>
</header>
<div class="alert" data-testid="load-error" hidden></div>

<section class="grid kpis">
<div class="card">
<h2>Throughput <span data-testid="window"></span></h2>
<div class="row">
<div><span class="big" data-testid="rps">—</span><span class="u">req/s</span></div>
<div><span class="mid" data-testid="active">—</span><span class="u">active</span></div>
</div>
<div class="sub">total <b data-testid="total">—</b> requests</div>
<div class="sp"><svg class="spark" data-testid="spark-rps" viewBox="0 0 300 42" preserveAspectRatio="none" aria-label="requests per second"></svg>
<div class="cap"><span data-testid="spark-rps-span"></span><span data-testid="spark-rps-peak"></span></div></div>
</div>
<div class="card">
<h2>Latency</h2>
<div class="lat">
<div><span class="lbl">p50</span><span class="mid" data-testid="p50">—</span><span class="u" data-testid="p50-unit"></span></div>
<div><span class="lbl">p90</span><span class="mid" data-testid="p90">—</span><span class="u" data-testid="p90-unit"></span></div>
<div><span class="lbl" style="color:var(--p99)">p99</span><span class="mid" data-testid="p99">—</span><span class="u" data-testid="p99-unit"></span></div>
</div>
<div class="sp"><svg class="spark" data-testid="spark-p99" viewBox="0 0 300 42" preserveAspectRatio="none" aria-label="p99 latency"></svg>
<div class="cap"><span>p99</span><span data-testid="spark-p99-peak"></span></div></div>
</div>
<div class="card">
<h2>Error rate <span>5xx share</span></h2>
<div><span class="big" data-testid="error-rate">—</span></div>
<div class="sub" data-testid="error-detail"></div>
<div class="sp"><svg class="spark" data-testid="spark-errors" viewBox="0 0 300 42" preserveAspectRatio="none" aria-label="errors per second"></svg>
<div class="cap"><span>errors/s</span><span data-testid="spark-errors-peak"></span></div></div>
</div>
<div class="card">
<h2>Status mix <span data-testid="status-total"></span></h2>
<div class="bar" data-testid="status-bar"></div>
<div class="mix" data-testid="status-legend"></div>
</div>
</section>

<section class="grid">
<div class="card">
<h2>Routes <span data-testid="routes-count"></span></h2>
<div class="tw"><table data-testid="routes-table">
<thead><tr><th class="wide">Host</th><th>Route</th><th class="n">Req/s</th><th class="n opt">Requests</th><th class="n">Errors</th><th class="n opt">p50</th><th class="n">p99</th><th class="n opt">Bytes out</th></tr></thead>
<tbody data-testid="routes-body"></tbody>
</table></div>
</div>
<div class="card">
<h2>Upstreams <span data-testid="upstreams-count"></span></h2>
<div class="tw"><table data-testid="upstreams-table">
<thead><tr><th class="wide">Cluster</th><th>Endpoint</th><th>Health</th><th class="wide">Breaker</th><th class="n">Active</th><th class="n opt" title="pooled connections: idle / active">Conns</th><th class="n">Req/s</th><th class="n">Errors</th><th class="n opt">p50</th><th class="n">p99</th></tr></thead>
<tbody data-testid="upstreams-body"></tbody>
</table></div>
</div>
</section>

<section class="grid cards">
<div class="card"><h2>Cache</h2><div data-testid="cache"></div></div>
<div class="card"><h2>Cluster</h2><div data-testid="cluster"></div></div>
<div class="card"><h2>Connections</h2><div data-testid="connections"></div></div>
<div class="card"><h2>TLS</h2><div data-testid="tls"></div></div>
<div class="card"><h2>Tracing &amp; access log</h2><div data-testid="observability"></div></div>
</section>
</div>
<script type="module">
// Renders /status.json, then follows /status/events (SSE "status" events, same document); data
// reaches the DOM only as text. body[data-state]: loading, loaded (status.json), live (an SSE
// event), error. body[data-stream]: connecting, open, error, closed. ?events=N closes the stream
// after N events, for headless snapshots (chromium's virtual clock stops while a stream is open).
const D = "\u2014", B = document.body, NS = "http://www.w3.org/2000/svg", CL = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const maxEvents = parseInt(new URLSearchParams(location.search).get("events"), 10) || 0;
let last = 0, seen = 0, es = null;

const q = id => document.querySelector(`[data-testid="${id}"]`);
const isn = v => typeof v === "number" && isFinite(v);
const attrs = (e, a) => { for (const k in a || {}) e.setAttribute(k, a[k]); return e; };
function el(tag, cls, text, a) {
  const e = attrs(document.createElement(tag), a);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text);
  return e;
}
function set(id, text, title, cls) {
  const e = q(id);
  e.textContent = text;
  if (title !== undefined) e.title = title;
  if (cls !== undefined) e.className = cls;
  return e;
}
const exact = n => isn(n) ? n.toLocaleString("en-US") : "";
const ratio = (a, b) => isn(a) && isn(b) && b > 0 ? a / b : 0;
const level = (r, w, b) => r > b ? "bad" : r > w ? "warn" : "";

// Formatting: 1.2k / 3.4M counts, rates, ms, KiB, %, 1h 2m
function cnt(n) {
  if (!isn(n)) return D;
  const a = Math.abs(n), U = ["k", "M", "G", "T", "P"];
  if (a < 1000) return Number.isInteger(n) ? String(n) : n.toFixed(a < 10 ? 2 : 1);
  let i = 0, x = a / 1000;
  while (x >= 999.5 && i < U.length - 1) { x /= 1000; i++; }
  return (n < 0 ? "-" : "") + x.toFixed(x < 100 ? 1 : 0).replace(/\.0$/, "") + U[i];
}
function rate(n) {
  if (!isn(n)) return D;
  const a = Math.abs(n);
  return n === 0 ? "0" : a < 10 ? n.toFixed(2) : a < 100 ? n.toFixed(1) : a < 1000 ? n.toFixed(0) : cnt(n);
}
function msP(v) {
  if (!isn(v)) return [D, ""];
  if (v >= 1000) return [(v / 1000).toFixed(v < 10000 ? 2 : 1), "s"];
  return [v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0), "ms"];
}
const ms = v => msP(v).join(" ").trim();
function bytes(n) {
  if (!isn(n)) return D;
  const U = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0, x = n;
  while (x >= 1024 && i < U.length - 1) { x /= 1024; i++; }
  return i ? `${x.toFixed(x < 10 ? 2 : 1)} ${U[i]}` : `${x} B`;
}
function pct(r) {
  if (!isn(r)) return D;
  const p = r * 100;
  return p <= 0 ? "0%" : p < 0.01 ? "<0.01%" : p >= 100 ? "100%" : p.toFixed(p < 10 ? 2 : 1) + "%";
}
function dur(s) {
  if (!isn(s)) return D;
  s = Math.max(0, Math.floor(s));
  const m = Math.floor(s / 60), h = Math.floor(s / 3600);
  return s < 60 ? `${s}s` : s < 3600 ? `${m}m ${s % 60}s` : s < 86400 ? `${h}h ${m % 60}m` : `${Math.floor(s / 86400)}d ${h % 24}h`;
}
function clock(t) { // local time; with the date (yyyy-mm-dd) when not today
  const d = new Date(t);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString("sv-SE") : d.toLocaleString("sv-SE");
}

function header(d) {
  const i = d.instance || {};
  set("host", i.host || D);
  set("instance-id", i.id || D);
  set("version", i.version || D);
  set("uptime", dur(i.uptime_seconds), i.started_at ? "started " + i.started_at : "");
  set("config-generation", isn(i.config_generation) ? "#" + i.config_generation : D);
  const loaded = Date.parse(i.config_loaded_at || ""), started = Date.parse(i.started_at || "");
  // age against the server's clock (start + uptime), not this browser's
  const now = isn(started) && isn(i.uptime_seconds) ? started + i.uptime_seconds * 1000 : Date.now();
  set("config-loaded", isn(loaded) ? `${clock(loaded)} (${dur((now - loaded) / 1000)} ago)` : D, i.config_loaded_at || "");
  const r = i.draining ? ["draining", "warn"] : i.ready ? ["ready", "ok"] : ["not ready", "bad"];
  set("readiness", r[0], undefined, `badge dot ${r[1]}`);
  const rd = i.redis == null ? ["", ""] : i.redis === "connected" ? ["redis connected", "ok"] : ["redis degraded", "warn"];
  set("redis", rd[0], undefined, rd[0] ? `badge dot ${rd[1]}` : "");
  document.title = (i.host ? i.host + " \u00b7 " : "") + "Meridian status";
}

// Sparkline from 0 to the peak; missing points are skipped. Returns the peak, or null (no data).
function spark(id, vals, color) {
  const s = q(id), n = Math.max(vals.length - 1, 1), pts = [];
  vals.forEach((v, i) => { if (isn(v)) pts.push([i, v]); });
  const svg = (tag, a) => s.appendChild(attrs(document.createElementNS(NS, tag), a));
  s.replaceChildren();
  if (pts.length < 2) {
    svg("line", { x1: 0, x2: 300, y1: 41, y2: 41, stroke: color, "stroke-dasharray": "4 4", "stroke-opacity": 0.5, "vector-effect": "non-scaling-stroke" });
    return null;
  }
  const peak = Math.max(...pts.map(p => p[1])), top = peak > 0 ? peak * 1.08 : 1;
  const x = i => (i / n * 300).toFixed(1), line = pts.map(p => `${x(p[0])},${(41 - p[1] / top * 40).toFixed(1)}`).join(" ");
  svg("polygon", { points: `${x(pts[0][0])},42 ${line} ${x(pts[pts.length - 1][0])},42`, fill: color, "fill-opacity": 0.13 });
  svg("polyline", { points: line, fill: "none", stroke: color, "stroke-width": 1.6, "stroke-linejoin": "round", "vector-effect": "non-scaling-stroke" });
  return peak;
}

function kpis(d) {
  const r = d.requests || {}, l = r.latency_ms || {}, st = r.status || {}, win = isn(r.window_seconds) ? `last ${r.window_seconds} s` : "";
  set("rps", rate(r.per_second), isn(r.per_second) ? r.per_second + " req/s" : "");
  set("active", cnt(r.active), exact(r.active));
  set("total", cnt(r.total), exact(r.total));
  set("window", win);
  for (const k of ["p50", "p90", "p99"]) { const p = msP(l[k]); set(k, p[0]); set(k + "-unit", p[1]); }

  const h = Array.isArray(r.history) ? r.history : [], css = getComputedStyle(document.documentElement);
  const line = (id, key, color, fmt) => {
    const pk = spark("spark-" + id, h.map(p => p && p[key]), css.getPropertyValue(color).trim());
    set(`spark-${id}-peak`, pk == null ? "no history yet" : "peak " + fmt(pk));
  };
  line("rps", "per_second", "--acc", v => rate(v) + "/s");
  line("p99", "p99_ms", "--p99", ms);
  line("errors", "errors_per_second", "--c5", v => rate(v) + "/s");
  const span = h.length > 1 && isn(h[0].t) && isn(h[h.length - 1].t) ? h[h.length - 1].t - h[0].t : 0;
  set("spark-rps-span", span ? "last " + dur(span) : "");

  let tot = 0;
  for (const k of CL) if (isn(st[k])) tot += st[k];
  const e5 = isn(st["5xx"]) ? st["5xx"] : 0, er = tot > 0 ? e5 / tot : null;
  set("error-rate", er == null ? D : pct(er), "", "big " + (er == null ? "" : level(er, 0.01, 0.05)));
  set("error-detail", tot > 0 ? `${cnt(e5)} of ${cnt(tot)} responses` : "no responses yet");
  set("status-total", tot > 0 ? cnt(tot) + " responses" : "");
  const bar = q("status-bar"), lg = q("status-legend");
  bar.replaceChildren();
  lg.replaceChildren();
  for (const k of CL) {
    const v = isn(st[k]) ? st[k] : 0, c = "s" + k[0], share = tot > 0 ? pct(v / tot) : "";
    if (v > 0 && tot > 0) bar.append(el("div", c, null, { title: `${k}: ${exact(v)} (${share})`, style: `flex:${v} 1 0` }));
    const it = el("span", null, null, { title: exact(v) });
    it.append(el("i", c), k);
    lg.append(it, el("b", null, cnt(v), { "data-testid": "status-" + k, title: exact(v) }), el("span", "u", share));
  }
}

const td = (text, cls, title) => el("td", cls, text, title ? { title } : null);
const num = (v, cls) => td(cnt(v), "n " + (cls || ""), exact(v));
const errCell = (errors, requests) => {
  const r = ratio(errors, requests);
  const c = num(errors, level(r, 0.01, 0.05));
  if (r) c.title += ` (${pct(r)})`;
  return c;
};
function table(id, rows, empty, row) {
  const tb = q(id + "-body");
  tb.replaceChildren();
  if (!rows.length) {
    const tr = el("tr");
    tr.append(el("td", "empty", empty, { colspan: 10, "data-testid": id + "-empty" }));
    tb.append(tr);
  }
  for (const r of rows) tb.append(row(r));
}
function routes(d) {
  const rs = Array.isArray(d.routes) ? d.routes.slice() : [];
  rs.sort((a, b) => (b.per_second || 0) - (a.per_second || 0) || (b.requests || 0) - (a.requests || 0));
  set("routes-count", rs.length ? `${rs.length} route${rs.length === 1 ? "" : "s"} \u00b7 by req/s` : "");
  table("routes", rs, d.routes == null ? "routes not configured" : "no routes", r => {
    const l = r.latency_ms || {}, host = r.host == null || r.host === "" ? "*" : String(r.host), route = String(r.route ?? "");
    const tr = el("tr", null, null, { "data-route": route, "data-host": host }), rc = td(route, "mono route", host + " " + route);
    rc.append(el("div", "nar", host)); // narrow screens: host under the route
    tr.append(td(host, "mono wide", host), rc, td(rate(r.per_second), "n"), num(r.requests, "opt"),
      errCell(r.errors, r.requests), td(ms(l.p50), "n opt"), td(ms(l.p99), "n"), td(bytes(r.bytes_out), "n opt", exact(r.bytes_out) + " bytes"));
    return tr;
  });
}
function upstreams(d) {
  const us = Array.isArray(d.upstreams) ? d.upstreams.slice() : [];
  us.sort((a, b) => String(a.cluster).localeCompare(String(b.cluster)) || String(a.endpoint).localeCompare(String(b.endpoint)));
  const down = us.filter(u => u.healthy === false || u.ejected === true).length;
  set("upstreams-count", us.length ? `${us.length} endpoint${us.length === 1 ? "" : "s"} \u00b7 ${down ? down + " unhealthy or ejected" : "all healthy"}` : "", undefined, down ? "bad" : "");
  table("upstreams", us, "no upstreams configured", u => {
    const l = u.latency_ms || {}, br = String(u.breaker ?? ""), b = br.toLowerCase().replace(/[_ ]/g, "-"), cl = String(u.cluster ?? D);
    const bc = "badge " + ({ closed: "ok", open: "bad", "half-open": "warn" }[b] || "");
    const hc = u.healthy === true ? ["ok dot", "healthy"] : u.healthy === false ? ["bad dot", "unhealthy"] : ["", "unknown"];
    const out = u.healthy === false || u.ejected === true, cn = u.connections || {};
    const tr = el("tr", out ? "down" : null, null, { "data-endpoint": String(u.endpoint), "data-cluster": cl, "data-healthy": String(u.healthy), "data-ejected": String(u.ejected), "data-breaker": br });
    const ep = td(String(u.endpoint ?? D), "mono"), h = el("td"), bt = el("td", "wide"), nb = el("div", "nar");
    ep.append(el("div", "nar", cl)); // narrow screens: cluster under the endpoint, breaker under health
    nb.append(el("span", bc, "breaker " + (br || D)));
    h.append(el("span", "badge " + hc[0], hc[1]));
    if (u.ejected === true) h.append(" ", el("span", "badge bad", "ejected"));
    h.append(nb);
    bt.append(el("span", bc, br || D));
    if (u.breaker_shared != null) {
      const sb = String(u.breaker_shared), sc = "badge " + ({ closed: "ok", open: "bad", "half-open": "warn" }[sb.replace(/_/g, "-")] || "");
      bt.append(" ", el("span", sc, "cluster " + sb));
      tr.setAttribute("data-breaker-shared", sb);
    }
    const conns = td(`${isn(cn.idle) ? cnt(cn.idle) : D} / ${isn(cn.active) ? cnt(cn.active) : D}`, "n opt", "idle / active pooled connections");
    tr.append(td(cl, "mono wide"), ep, h, bt, num(u.active), conns, td(rate(u.per_second), "n", exact(u.requests) + " requests"),
      errCell(u.errors, u.requests), td(ms(l.p50), "n opt"), td(ms(l.p99), "n"));
    return tr;
  });
}

// Small cards; kv rows are [label, value (a number is shown as a count), class, testid]
function kv(parent, rows) {
  const dl = el("dl", "kv");
  for (const [label, v, cls, id] of rows) dl.append(el("dt", null, label), el("dd", cls || null, isn(v) ? cnt(v) : v, { "data-testid": id, title: exact(v) }));
  parent.append(dl);
}
function card(id, obj, empty, build) {
  const b = q(id);
  b.replaceChildren();
  if (obj == null || typeof obj !== "object") b.append(el("p", "empty", empty, { "data-testid": id + "-empty" }));
  else build(b, obj);
}
function split(parent, parts) {
  const bar = el("div", "bar"), tot = parts.reduce((t, p) => t + (isn(p[0]) ? p[0] : 0), 0);
  for (const [v, c] of parts) if (tot > 0 && v > 0) bar.append(el("div", c, null, { style: `flex:${v} 1 0` }));
  parent.append(bar);
}
const cache = d => card("cache", d.cache, "cache not configured", (b, c) => {
  for (const k of ["l1", "l2"]) {
    const v = c[k], box = el("div", "lvl"), name = k.toUpperCase();
    b.append(box);
    if (v == null) { box.append(el("div", "sub", name + " not configured")); continue; }
    const hits = isn(v.hits) ? v.hits : 0, miss = isn(v.misses) ? v.misses : 0;
    const r = isn(v.hit_ratio) ? v.hit_ratio : hits + miss > 0 ? hits / (hits + miss) : null;
    const hd = el("div", "row", null, { style: "justify-content:space-between" });
    hd.append(el("span", "lbl", name + " hit ratio"), el("span", "mid", r == null ? D : pct(r), { "data-testid": "cache-" + k }));
    box.append(hd);
    split(box, [[hits, "s2"], [miss, "s1"]]);
    let sub = `${cnt(hits)} hits \u00b7 ${cnt(miss)} misses`;
    if (isn(v.stale) && v.stale > 0) sub += ` \u00b7 ${cnt(v.stale)} stale`;
    if (isn(v.errors) && v.errors > 0) sub += ` \u00b7 ${cnt(v.errors)} errors`;
    if (isn(v.bytes) && isn(v.limit_bytes)) sub += ` \u00b7 ${bytes(v.bytes)} of ${bytes(v.limit_bytes)}`;
    box.append(el("div", "sub", sub));
  }
  const rs = Array.isArray(c.routes) ? c.routes : [];
  if (rs.length) {
    const t = el("table", null, null, { "data-testid": "cache-routes" }), head = el("tr");
    for (const h of ["route", "lookups", "L1 hits", "L2 hits", "hit ratio"]) head.append(el("th", null, h));
    t.append(head);
    for (const r of rs) {
      const tr = el("tr", null, null, { "data-cache-route": String(r.route) });
      tr.append(el("td", null, String(r.route)), el("td", "num", cnt(r.lookups)), el("td", "num", cnt(r.l1_hits)),
        el("td", "num", cnt(r.l2_hits)), el("td", "num", isn(r.hit_ratio) ? pct(r.hit_ratio) : D));
      t.append(tr);
    }
    b.append(t);
  }
  b.append(el("div", "sub", `${cnt(c.collapsed)} collapsed \u00b7 ${cnt(c.evictions)} evicted \u00b7 ${cnt(c.purges)} purges`));
});
// The instances sharing this one's Redis, each with a link to its own status page (admin address as it announced it).
const cluster = d => card("cluster", d.cluster, "no Redis: this instance alone", (b, c) => {
  const hd = el("div");
  hd.append(el("span", "big", cnt(c.live), { "data-testid": "cluster-live" }), el("span", "u", "live instances"));
  b.append(hd);
  const t = el("table", null, null, { "data-testid": "cluster-instances" }), head = el("tr");
  for (const h of ["instance", "host", "admin", "version", "started"]) head.append(el("th", null, h));
  t.append(head);
  for (const i of Array.isArray(c.instances) ? c.instances : []) {
    const me = i.id === c.instance, tr = el("tr", me ? "me" : null, null, { "data-instance": String(i.id) });
    const admin = el("td");
    if (i.admin && !me) admin.append(el("a", null, String(i.admin), { href: `http://${i.admin}/status` }));
    else admin.append(String(i.admin || D));
    tr.append(el("td", "mono", String(i.id) + (me ? " (this one)" : "")), el("td", null, String(i.host || D)), admin,
      el("td", null, String(i.version || D)), el("td", null, String(i.started_at || D)));
    t.append(tr);
  }
  b.append(t);
});
const connections = d => card("connections", d.connections, "not available", (b, c) => {
  const hd = el("div"), lg = el("div", "legend"), h1 = el("span"), h2 = el("span");
  hd.append(el("span", "big", cnt(c.open), { "data-testid": "conn-open" }), el("span", "u", "open"));
  h1.append(el("i", "sa"), "HTTP/1", el("b", null, cnt(c.http1), { "data-testid": "conn-http1" }));
  h2.append(el("i", "sp9"), "HTTP/2", el("b", null, cnt(c.http2), { "data-testid": "conn-http2" }));
  lg.append(h1, h2);
  b.append(hd);
  split(b, [[c.http1, "sa"], [c.http2, "sp9"]]);
  b.append(lg);
  kv(b, [["Accepted", c.accepted, "", "conn-accepted"], ["Refused", c.refused, c.refused > 0 ? "warn" : "", "conn-refused"]]);
});
const tls = d => card("tls", d.tls, "TLS not configured", (b, t) => {
  const fr = ratio(t.failures, (t.handshakes || 0) + (t.failures || 0));
  kv(b, [["Handshakes", t.handshakes, "", "tls-handshakes"],
    ["Handshake failures", cnt(t.failures) + (fr ? ` (${pct(fr)})` : ""), fr ? level(fr, 0, 0.05) : "", "tls-failures"],
    ["Certificate reloads", t.certificate_reloads, "", "tls-reloads"],
    ["Reload failures", t.certificate_reload_failures, t.certificate_reload_failures > 0 ? "bad" : "", "tls-reload-failures"]]);
});
function observability(d) {
  const b = q("observability"), t = d.tracing, a = d.access_log;
  const sec = (title, obj, id, empty, rows) => {
    const s = el("div", "sec"), h = el("h3", null, title);
    s.append(h);
    if (obj == null) s.append(el("p", "empty", empty, { "data-testid": id + "-empty" }));
    else { h.append(el("span", obj.enabled ? "badge ok" : "badge", obj.enabled ? "on" : "off", { "data-testid": id + "-enabled" })); kv(s, rows(obj)); }
    return s;
  };
  b.replaceChildren(
    sec("Tracing", t, "tracing", "tracing not configured", t => [["Sample ratio", pct(t.sample_ratio), "", "tracing-sample"],
      ["Spans dropped", t.spans_dropped, t.spans_dropped > 0 ? "warn" : "", "tracing-dropped"]]),
    sec("Access log", a, "log", "access log not configured", a => [["Lines", a.lines, "", "log-lines"],
      ["Dropped", a.dropped, a.dropped > 0 ? "warn" : "", "log-dropped"]]));
}

function render(d) {
  if (!d || typeof d !== "object") return false;
  for (const f of [header, kpis, routes, upstreams, cache, cluster, connections, tls, observability]) {
    try { f(d); } catch (e) { console.error("status page:", f.name, e); } // one odd section must not blank the rest
  }
  last = Date.now();
  q("load-error").hidden = true;
  tick();
  return true;
}
function tick() {
  if (!last) return;
  const s = Math.max(0, Math.round((Date.now() - last) / 1000));
  set("last-update", `last update ${s} s ago`, undefined, s > 5 ? "warn" : "");
}
function online(ok) {
  B.dataset.stream = ok ? "open" : "error";
  q("disconnected").hidden = ok;
  q("live").hidden = !ok;
  B.classList.toggle("off", !ok);
}
function onStatus(ev) {
  let d;
  try { d = JSON.parse(ev.data); } catch { return; }
  if (!render(d)) return;
  B.dataset.state = "live";
  online(true);
  if (maxEvents && ++seen >= maxEvents) { es.close(); B.dataset.stream = "closed"; }
}
function subscribe() {
  es = new EventSource("/status/events");
  B.dataset.stream = "connecting";
  es.addEventListener("status", onStatus);
  es.onerror = () => {
    online(false);
    // EventSource retries by itself, unless it gave up (a non-200 answer or a wrong content type)
    if (es.readyState === EventSource.CLOSED) setTimeout(subscribe, 3000);
  };
}

setInterval(tick, 1000);
fetch("/status.json", { cache: "no-store" })
  .then(r => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
  .then(d => { if (render(d) && B.dataset.state !== "live") B.dataset.state = "loaded"; })
  .catch(e => {
    if (B.dataset.state !== "loading") return;
    B.dataset.state = "error";
    const a = set("load-error", `Could not load /status.json (${e && e.message || e}); waiting for the live stream\u2026`);
    a.hidden = false;
  })
  .then(subscribe);
</script>
</body>
</html>
"""#
}
