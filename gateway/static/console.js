// Kennel playground, the operator's console (the assignment's server window): the settings in
// force, the pool with an action per process, scale, rolling restart, reload — each through
// the operator routes (POST /api/v1/operator/…, behind the gateway's token; refused without
// one), each asked for confirmation first; charts of the last minutes drawn as SVG; the
// events (deaths, restarts, starts and stops, scaling) seen between refreshes.
"use strict";

const HISTORY = 120; // samples: two minutes at one a second
const consoleState = {
  pending: null, last: null, lastUsage: null, runs: [], queue: [],
  cpu: new Map(), memory: new Map(), // per worker: "worker K" -> samples
};

function consoleOpen() {
  return !document.getElementById("view-console").classList.contains("hidden");
}

function locked(message) {
  const box = document.getElementById("console-locked");
  box.textContent = message;
  box.classList.toggle("hidden", !message);
}

// An operator call; a refusal of the route itself (no token configured, a wrong one) locks
// the console with its words.
async function operator(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const r = await api("/api/v1/operator/" + path, options);
  if (r.status === 403 || r.status === 401) {
    locked((r.body && r.body.error && r.body.error.message) || "operator routes refused (HTTP " + r.status + ")");
  } else {
    locked("");
  }
  return r;
}

function showSettings(s) {
  const rows = [
    ["max tasks per worker", s.max_tasks],
    ["CPU cap per run", s.cpu_max_percent + " %"],
    ["CPU time", s.time_limit_ms.default + " ms (at most " + s.time_limit_ms.max + ")"],
    ["wall time", s.wall_limit_ms.default + " ms (at most " + s.wall_limit_ms.max + ")"],
    ["memory", (s.memory_limit_kib.default / 1024) + " MiB (at most " + (s.memory_limit_kib.max / 1024) + ")"],
    ["pool", s.pool.active + " workers, bounds " + s.pool.min + "–" + s.pool.max + " (" + s.pool.slots + " slots)"],
    ["sandboxes made in advance", s.sandbox_pool + " per worker"],
    ["warm toolchains", s.warm_toolchains],
    ["limits held by", s.enforcement && s.enforcement.mode],
  ];
  const dl = document.getElementById("console-settings");
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = String(v);
    return [dt, dd];
  }));
  const scale = document.getElementById("console-scale");
  if (document.activeElement !== scale) scale.value = s.pool.active;
}

// Asks before acting: `what` in words, then the verb.
function ask(what, path, body) {
  consoleState.pending = { path, body };
  document.getElementById("console-confirm-text").textContent = what.charAt(0).toUpperCase() + what.slice(1) + "?";
  document.getElementById("console-confirm").classList.remove("hidden");
  document.getElementById("console-yes").focus();
}

async function confirmed(yes) {
  document.getElementById("console-confirm").classList.add("hidden");
  const p = consoleState.pending;
  consoleState.pending = null;
  if (!p || !yes) {
    setText("console-answer", "cancelled");
    return;
  }
  setText("console-answer", "…");
  const r = await operator("POST", p.path, p.body);
  const doc = r.body || {};
  setText("console-answer", doc.message ? doc.verb + ": " + doc.message
    : (doc.error ? "refused: " + doc.error.message : "HTTP " + r.status));
  refreshConsole();
}

function actionButtons(name, r) {
  const td = document.createElement("td");
  td.className = "actions";
  if (!name.startsWith("worker ")) return td;
  const slot = name.slice(7);
  const down = r.supervision === "stopped" || r.supervision === "vacant";
  for (const action of down ? ["start"] : ["restart", "stop"]) {
    const b = document.createElement("button");
    b.textContent = action;
    b.setAttribute("aria-label", action + " " + name);
    b.addEventListener("click", () => ask(action + " " + name, "workers/" + slot + "/" + action));
    td.appendChild(b);
  }
  return td;
}

function consoleRow(name, r, use) {
  const tr = document.createElement("tr");
  tr.className = rowClass(r);
  const tasks = r.capacity != null ? r.tasks + "/" + r.capacity : "–";
  const cpu = use && use.cpu != null ? use.cpu.toFixed(0) : "–";
  const mem = use ? (use.rss_kib / 1024).toFixed(1) + " MiB" : "–";
  for (const c of [name, r.pid != null ? r.pid : "–", r.state, tasks, cpu, mem, r.restarts]) {
    const td = document.createElement("td");
    td.textContent = String(c);
    tr.appendChild(td);
  }
  tr.appendChild(actionButtons(name, r));
  return tr;
}

function event(text) {
  const li = document.createElement("li");
  li.textContent = new Date().toLocaleTimeString() + " " + text;
  const list = document.getElementById("console-events");
  list.prepend(li);
  while (list.children.length > 100) list.lastChild.remove();
}

// What changed between two pool documents, in words (as `kennelctl top` says it).
function differences(before, now) {
  const named = (doc) => {
    const m = new Map([["dispatcher", doc.dispatcher]]);
    for (const w of doc.workers) m.set("worker " + w.slot, w);
    if (doc.gateway) m.set("gateway", doc.gateway);
    return m;
  };
  const a = named(before);
  for (const [name, r] of named(now)) {
    const o = a.get(name);
    if (!o) continue;
    if (r.restarts > o.restarts) event(name + " restarted (pid " + o.pid + " → " + r.pid + "; the last one ended: " + (r.last_exit || "?") + ")");
    if (r.supervision !== o.supervision && !["starting", "running"].includes(r.supervision)) event(name + " now " + r.supervision);
    if (r.supervision === "running" && ["stopped", "vacant"].includes(o.supervision)) event(name + " started");
    if (r.state === "frozen" && o.state !== "frozen") event(name + " frozen (alive, silent)");
  }
  if (now.pool.scale_ups > before.pool.scale_ups) event("pool grew");
  if (now.pool.scale_downs > before.pool.scale_downs) event("pool shrank");
}

function sample(series, value) {
  series.push(value);
  if (series.length > HISTORY) series.shift();
}

// One line per series (`lines`: name -> samples), on one scale; the caption says the latest
// value of each and the scale's top.
function draw(id, lines, unit) {
  const svg = document.getElementById(id);
  const all = [...lines.values()].flat();
  const max = Math.max(1, ...all);
  const step = 300 / (HISTORY - 1);
  const ns = "http://www.w3.org/2000/svg";
  const polys = [...lines.entries()].map(([name, series], k) => {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", series.map((v, i) =>
      ((HISTORY - series.length + i) * step).toFixed(1) + "," + (58 - (v / max) * 50).toFixed(1)).join(" "));
    line.setAttribute("vector-effect", "non-scaling-stroke");
    line.setAttribute("class", "series-" + (k % 4));
    const title = document.createElementNS(ns, "title");
    title.textContent = name;
    line.appendChild(title);
    return line;
  });
  svg.replaceChildren(...polys);
  const digits = unit === "/s" ? 1 : 0;
  const now = [...lines.entries()].map(([name, series]) =>
    (lines.size > 1 ? name + " " : "") + (series.length ? series[series.length - 1] : 0).toFixed(digits) + unit);
  document.getElementById(id + "-now").textContent = " — now " + now.join(" · ") + "; top " + max.toFixed(digits) + unit;
}

function sampleEach(map, values) {
  for (const name of map.keys()) if (!values.has(name)) map.delete(name);
  for (const [name, v] of values) {
    if (!map.has(name)) map.set(name, []);
    sample(map.get(name), v);
  }
}

// CPU % per process from two usage readings.
function cpuPercents(usage) {
  const out = new Map();
  const before = consoleState.lastUsage;
  for (const p of usage.processes) {
    const o = before && before.doc.processes.find((q) => q.pid === p.pid);
    const secs = before ? (usage.at - before.at) / 1000 : 0;
    out.set(p.process, {
      rss_kib: p.rss_kib,
      cpu: o && secs > 0 ? ((p.cpu_ticks - o.cpu_ticks) / usage.ticks_per_second / secs) * 100 : null,
    });
  }
  return out;
}

async function refreshConsole() {
  if (!consoleOpen()) return;
  const settings = await operator("GET", "settings");
  if (settings.status !== 200) return;
  showSettings(settings.body);
  const [pool, usageReply] = await Promise.all([api("/api/v1/pool"), operator("GET", "usage")]);
  if (pool.status !== 200 || usageReply.status !== 200) return;
  const usage = Object.assign({ at: Date.now() }, usageReply.body);
  const cpu = cpuPercents(usage);
  const doc = pool.body;
  const now = Date.now();
  if (consoleState.last) {
    differences(consoleState.last.doc, doc);
    const secs = (now - consoleState.last.at) / 1000;
    sample(consoleState.runs, secs > 0 ? Math.max(0, doc.dispatcher.served - consoleState.last.doc.dispatcher.served) / secs : 0);
  }
  consoleState.last = { doc, at: now };
  consoleState.lastUsage = { doc: usageReply.body, at: usage.at };
  sample(consoleState.queue, doc.dispatcher.waiting || 0);
  const running = doc.workers.filter((w) => w.pid != null).map((w) => "worker " + w.slot);
  sampleEach(consoleState.cpu, new Map(running.map((n) => [n, (cpu.get(n) || {}).cpu || 0])));
  sampleEach(consoleState.memory, new Map(running.map((n) => [n, ((cpu.get(n) || {}).rss_kib || 0) / 1024])));
  const rows = [consoleRow("dispatcher", doc.dispatcher, cpu.get("dispatcher"))];
  for (const w of doc.workers) rows.push(consoleRow("worker " + w.slot, w, cpu.get("worker " + w.slot)));
  if (doc.gateway) rows.push(consoleRow("gateway", doc.gateway, cpu.get("gateway")));
  document.getElementById("console-table").querySelector("tbody").replaceChildren(...rows);
  draw("chart-runs", new Map([["runs", consoleState.runs]]), "/s");
  draw("chart-queue", new Map([["waiting", consoleState.queue]]), "");
  draw("chart-cpu", consoleState.cpu, "%");
  draw("chart-memory", consoleState.memory, " MiB");
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("#view-console button[data-verb]")) {
    b.addEventListener("click", () => {
      if (b.dataset.verb === "scale") {
        const n = parseInt(document.getElementById("console-scale").value, 10);
        if (!(n >= 0)) return setText("console-answer", "a number of workers, please");
        return ask("scale the pool to " + n + " workers", "scale", { workers: n });
      }
      ask(b.dataset.what, b.dataset.verb);
    });
  }
  document.getElementById("console-yes").addEventListener("click", () => confirmed(true));
  document.getElementById("console-no").addEventListener("click", () => confirmed(false));
  document.getElementById("tab-console").addEventListener("click", refreshConsole);
  setInterval(refreshConsole, 1000);
});
