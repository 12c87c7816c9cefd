// Kennel playground, the pool view and the health pill: GET /api/v1/pool every second while
// the view is shown, GET /api/v1/healthz every three seconds. A state's colour means
// something: frozen, backoff and fatal warn; a gateway that stops answering says so.
"use strict";

function age(ms) {
  if (ms == null) return "–";
  return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
}

// The class of a row: its supervision, or `frozen` (alive but silent) over it.
function rowClass(r) {
  if (r.state === "frozen") return "state-frozen";
  return "state-" + (r.supervision || "").toLowerCase();
}

function poolRow(name, r) {
  const tr = document.createElement("tr");
  tr.className = rowClass(r);
  const tasks = r.capacity != null ? r.tasks + "/" + r.capacity : "–";
  const cells = [
    name, r.pid != null ? r.pid : "–", r.state, tasks, r.served, r.failed, r.restarts,
    age(r.heartbeat_age_ms), (r.languages || []).join(" ") || "–", r.last_exit || "–",
  ];
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = String(c);
    tr.appendChild(td);
  }
  return tr;
}

async function refreshPool() {
  if (document.getElementById("view-pool").classList.contains("hidden")) return;
  let status = 0;
  let body = null;
  try { ({ status, body } = await api("/api/v1/pool")); } catch (_) { status = 0; }
  if (status !== 200 || !body) {
    setText("pool-summary", status ? "pool unavailable (HTTP " + status + ")" : "the gateway cannot be reached");
    return;
  }
  const tbody = document.getElementById("pool-table").querySelector("tbody");
  const rows = [poolRow("dispatcher", body.dispatcher)];
  for (const w of body.workers) rows.push(poolRow("worker " + w.slot, w));
  if (body.gateway) rows.push(poolRow("gateway", body.gateway));
  tbody.replaceChildren(...rows);
  const running = body.workers.filter((w) => w.supervision === "running").length;
  setText("pool-summary",
    "watchdog pid " + body.watchdog.pid + (body.watchdog.alive ? "" : " (GONE)") +
    " · " + running + " of " + body.workers.length + " worker slots running" +
    " · pool " + body.pool.min + "–" + body.pool.max +
    " · scaled up " + body.pool.scale_ups + ", down " + body.pool.scale_downs);
}

async function refreshHealth() {
  const h = document.getElementById("health");
  try {
    const { status, body } = await api("/api/v1/healthz");
    h.textContent = status === 200 ? "ready · " + body.workers_ready + " workers" :
      "not ready" + (body && body.reason ? ": " + body.reason : "");
    h.className = "health " + (status === 200 ? "ok" : "bad");
  } catch (_) {
    h.textContent = "gateway unreachable";
    h.className = "health bad";
  }
}

function showView(id) {
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("hidden", v.id !== id);
  for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.dataset.view === id);
  refreshPool();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const t of document.querySelectorAll(".tab")) {
    t.addEventListener("click", () => showView(t.dataset.view));
  }
  refreshHealth();
  setInterval(refreshPool, 1000);
  setInterval(refreshHealth, 3000);
});
