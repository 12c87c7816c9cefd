// Kennel playground: plain JavaScript, no library, no request outside this origin.
// Runs go to POST /api/v1/runs?wait=true; the pool view polls GET /api/v1/pool.
"use strict";

const SAMPLES = {
  python: 'import sys\n\nname = sys.stdin.readline().strip() or "world"\nprint(f"Hello, {name}!")\n',
  c: '#include <stdio.h>\n\nint main(void) {\n    char name[64] = "world";\n    if (scanf("%63s", name) != 1) { }\n    printf("Hello, %s!\\n", name);\n    return 0;\n}\n',
  cpp: '#include <iostream>\n#include <string>\n\nint main() {\n    std::string name = "world";\n    std::cin >> name;\n    std::cout << "Hello, " << name << "!" << std::endl;\n}\n',
  java: 'import java.util.Scanner;\n\npublic class Main {\n    public static void main(String[] args) {\n        Scanner in = new Scanner(System.in);\n        String name = in.hasNext() ? in.next() : "world";\n        System.out.println("Hello, " + name + "!");\n    }\n}\n',
};

const $ = (id) => document.getElementById(id);
const edited = {};

function token() {
  return sessionStorage.getItem("kennel-token") || "";
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) $("token-box").classList.remove("hidden");
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  return { status: response.status, body };
}

function setText(id, text) {
  $(id).textContent = text;
}

function showVerdict(name, cls) {
  const v = $("verdict");
  v.textContent = name;
  v.className = "verdict " + cls;
}

function clearResult() {
  for (const id of ["stdout", "stderr", "compile-output", "message"]) setText(id, "");
  for (const id of ["cpu", "wall", "memory", "exit", "worker", "cached"]) setText(id, "–");
}

function showResult(r) {
  showVerdict(r.verdict, r.verdict === "accepted" ? "ok" : "bad");
  setText("message", r.message || "");
  setText("stdout", r.stdout + (r.stdout_truncated ? "\n[cut at the server's limit]" : ""));
  setText("stderr", r.stderr + (r.stderr_truncated ? "\n[cut at the server's limit]" : ""));
  setText("compile-output", r.compile_output);
  setText("cpu", r.cpu_ms + " ms");
  setText("wall", r.wall_ms + " ms");
  setText("memory", (r.memory_kib / 1024).toFixed(1) + " MiB");
  setText("exit", r.signal != null ? "signal " + r.signal : (r.exit_code != null ? String(r.exit_code) : "–"));
  setText("worker", r.worker ? "port " + r.worker : "–");
  setText("cached", r.cached_compile ? "cached" : (r.language === "python" ? "–" : "compiled"));
}

async function run() {
  const button = $("run");
  button.disabled = true;
  clearResult();
  showVerdict("running…", "running");
  const body = {
    language: $("language").value,
    source: $("source").value,
    stdin: $("stdin").value,
  };
  const cpu = parseInt($("time-limit").value, 10);
  if (cpu > 0) body.time_limit_ms = cpu;
  const mem = parseInt($("memory-limit").value, 10);
  if (mem > 0) body.memory_limit_kib = mem * 1024;
  try {
    const { status, body: doc } = await api("/api/v1/runs?wait=true", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (status === 200 && doc && doc.result) {
      showResult(doc.result);
    } else {
      const e = (doc && doc.error) || { code: "http_" + status, message: "" };
      showVerdict(e.code, "bad");
      setText("message", e.message);
    }
  } catch (err) {
    showVerdict("unreachable", "bad");
    setText("message", String(err));
  } finally {
    button.disabled = false;
  }
}

function chooseLanguage(lang) {
  const source = $("source");
  const previous = source.dataset.language;
  if (previous) edited[previous] = source.value;
  source.value = edited[lang] !== undefined ? edited[lang] : (SAMPLES[lang] || "");
  source.dataset.language = lang;
}

async function loadLanguages() {
  const { status, body } = await api("/api/v1/languages");
  const select = $("language");
  select.innerHTML = "";
  const langs = status === 200 && body ? body.languages : [];
  for (const l of langs) {
    const o = document.createElement("option");
    o.value = l.name;
    o.textContent = l.name + (l.available ? "" : " (unavailable)");
    o.disabled = !l.available;
    select.appendChild(o);
  }
  const first = langs.find((l) => l.available);
  if (first) select.value = first.name;
  chooseLanguage(select.value);
}

// A textarea that indents: Tab inserts four spaces, Shift+Tab removes up to four before the
// caret, Ctrl+Enter runs.
function editorKeys(e) {
  const t = e.target;
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    run();
    return;
  }
  if (e.key !== "Tab") return;
  e.preventDefault();
  const start = t.selectionStart;
  const end = t.selectionEnd;
  if (e.shiftKey) {
    const before = t.value.slice(0, start);
    const strip = (before.match(/ {1,4}$/) || [""])[0].length;
    t.value = before.slice(0, start - strip) + t.value.slice(start);
    t.selectionStart = t.selectionEnd = start - strip;
  } else {
    t.value = t.value.slice(0, start) + "    " + t.value.slice(end);
    t.selectionStart = t.selectionEnd = start + 4;
  }
}

function age(ms) {
  if (ms == null) return "–";
  return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
}

function row(name, r) {
  const tr = document.createElement("tr");
  tr.className = "state-" + (r.supervision || "").toLowerCase();
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
  const { status, body } = await api("/api/v1/pool");
  if (status !== 200 || !body) {
    setText("pool-summary", "pool unavailable (HTTP " + status + ")");
    return;
  }
  const tbody = $("pool-table").querySelector("tbody");
  const rows = [row("dispatcher", body.dispatcher)];
  for (const w of body.workers) rows.push(row("worker " + w.slot, w));
  if (body.gateway) rows.push(row("gateway", body.gateway));
  tbody.replaceChildren(...rows);
  const running = body.workers.filter((w) => w.supervision === "running").length;
  setText("pool-summary",
    "watchdog pid " + body.watchdog.pid + (body.watchdog.alive ? "" : " (GONE)") +
    " · " + running + " of " + body.workers.length + " worker slots running" +
    " · pool " + body.pool.min + "–" + body.pool.max +
    " · scaled up " + body.pool.scale_ups + ", down " + body.pool.scale_downs);
}

async function refreshHealth() {
  const { status, body } = await api("/api/v1/healthz");
  const h = $("health");
  h.textContent = status === 200 ? "ready · " + body.workers_ready + " workers" :
    "not ready" + (body && body.reason ? ": " + body.reason : "");
  h.className = "health " + (status === 200 ? "ok" : "bad");
}

function showView(id) {
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("hidden", v.id !== id);
  for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.dataset.view === id);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const t of document.querySelectorAll(".tab")) {
    t.addEventListener("click", () => showView(t.dataset.view));
  }
  $("run").addEventListener("click", run);
  $("source").addEventListener("keydown", editorKeys);
  $("language").addEventListener("change", (e) => chooseLanguage(e.target.value));
  $("token-save").addEventListener("click", () => {
    sessionStorage.setItem("kennel-token", $("token").value.trim());
    $("token-box").classList.add("hidden");
    loadLanguages();
  });
  loadLanguages();
  refreshPool();
  refreshHealth();
  setInterval(refreshPool, 1000);
  setInterval(refreshHealth, 3000);
});
