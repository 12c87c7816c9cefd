// Kennel playground, the run view: a CodeMirror editor (vendor/editor.js, built by
// scripts/build-editor.sh), the source and settings kept in localStorage per language, files,
// arguments, limits, an expected output and test cases, and the result in words. Runs go to
// POST /api/v1/runs?wait=true; nothing is fetched from outside this origin.
"use strict";

const SAMPLES = {
  python: 'import sys\n\nname = sys.stdin.readline().strip() or "world"\nprint(f"Hello, {name}!")\n',
  c: '#include <stdio.h>\n\nint main(void) {\n    char name[64] = "world";\n    if (scanf("%63s", name) != 1) { }\n    printf("Hello, %s!\\n", name);\n    return 0;\n}\n',
  cpp: '#include <iostream>\n#include <string>\n\nint main() {\n    std::string name = "world";\n    std::cin >> name;\n    std::cout << "Hello, " << name << "!" << std::endl;\n}\n',
  java: 'import java.util.Scanner;\n\npublic class Main {\n    public static void main(String[] args) {\n        Scanner in = new Scanner(System.in);\n        String name = in.hasNext() ? in.next() : "world";\n        System.out.println("Hello, " + name + "!");\n    }\n}\n',
};
const MAIN_FILE = { python: "main.py", c: "main.c", cpp: "main.cpp", java: "Main.java" };
const SETTINGS = ["stdin", "args", "expected", "time-limit", "wall-limit", "memory-limit"];

const $ = (id) => document.getElementById(id);
const state = { editor: null, language: null, files: [], running: null, restoring: false };

function token() {
  return sessionStorage.getItem("kennel-token") || "";
}

// One API call: { status, body } or, when the server cannot be reached, a thrown error.
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

// --- what is kept across reloads ---------------------------------------------------------

function save() {
  if (!state.language || state.restoring) return;
  localStorage.setItem("kennel-source-" + state.language, state.editor.get());
  const s = {};
  for (const id of SETTINGS) s[id] = $(id).value;
  s.tests = readTests();
  localStorage.setItem("kennel-settings-" + state.language, JSON.stringify(s));
  localStorage.setItem("kennel-language", state.language);
}

function restore(lang) {
  // Setting the editor's text fires its change handler: nothing is saved until all is back.
  state.restoring = true;
  const source = localStorage.getItem("kennel-source-" + lang);
  state.editor.set(source !== null ? source : (SAMPLES[lang] || ""));
  let s = {};
  try { s = JSON.parse(localStorage.getItem("kennel-settings-" + lang) || "{}") || {}; } catch (_) { s = {}; }
  for (const id of SETTINGS) $(id).value = s[id] || "";
  $("tests").querySelector("tbody").replaceChildren();
  for (const t of s.tests || []) addTest(t.stdin, t.expected_output);
  state.restoring = false;
}

function chooseLanguage(lang) {
  if (state.language) save();
  state.language = lang;
  state.editor.setLanguage(lang);
  restore(lang);
}

// --- test cases ------------------------------------------------------------------------

function addTest(stdin = "", expected = "") {
  const tbody = $("tests").querySelector("tbody");
  const tr = document.createElement("tr");
  const n = tbody.children.length + 1;
  const cell = (child) => { const td = document.createElement("td"); td.append(child); return td; };
  const area = (value, label) => {
    const t = document.createElement("textarea");
    t.value = value; t.rows = 2; t.spellcheck = false; t.setAttribute("aria-label", label);
    t.addEventListener("input", save);
    return t;
  };
  const remove = document.createElement("button");
  remove.textContent = "✕";
  remove.setAttribute("aria-label", "Remove test " + n);
  remove.addEventListener("click", () => { tr.remove(); save(); });
  const verdict = document.createElement("span");
  verdict.className = "test-verdict";
  tr.append(cell(String(n)), cell(area(stdin, "stdin of test " + n)),
    cell(area(expected, "expected output of test " + n)), cell(verdict), cell(remove));
  tbody.appendChild(tr);
}

function readTests() {
  return [...$("tests").querySelectorAll("tbody tr")].map((tr) => {
    const [stdin, expected] = tr.querySelectorAll("textarea");
    return { stdin: stdin.value, expected_output: expected.value };
  });
}

// --- files -------------------------------------------------------------------------------

async function addFiles(list) {
  for (const f of list) {
    const content = await f.text();
    state.files = state.files.filter((x) => x.name !== f.name).concat([{ name: f.name, content }]);
  }
  showFiles();
}

function showFiles() {
  const items = state.files.map((f) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.textContent = "✕";
    b.setAttribute("aria-label", "Remove " + f.name);
    b.addEventListener("click", () => { state.files = state.files.filter((x) => x !== f); showFiles(); });
    li.append(f.name + " (" + f.content.length + " bytes) ", b);
    return li;
  });
  $("file-list").replaceChildren(...items);
}

function download() {
  const blob = new Blob([state.editor.get()], { type: "text/plain" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = MAIN_FILE[state.language] || "source.txt";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// --- a run -------------------------------------------------------------------------------

function request() {
  const lang = state.language;
  const body = { language: lang };
  if (state.files.length) {
    body.files = [{ name: MAIN_FILE[lang], content: state.editor.get() }].concat(state.files);
  } else {
    body.source = state.editor.get();
  }
  const num = (id) => parseInt($(id).value, 10);
  if (num("time-limit") > 0) body.time_limit_ms = num("time-limit");
  if (num("wall-limit") > 0) body.wall_limit_ms = num("wall-limit");
  if (num("memory-limit") > 0) body.memory_limit_kib = num("memory-limit") * 1024;
  const args = $("args").value.split("\n").filter((a) => a !== "");
  if (args.length) body.args = args;
  const tests = readTests();
  if (tests.length) {
    body.tests = tests.map((t) => (t.expected_output === "" ? { stdin: t.stdin } : t));
  } else {
    body.stdin = $("stdin").value;
    if ($("expected").value !== "") body.expected_output = $("expected").value;
  }
  return body;
}

function clearResult() {
  for (const id of ["stdout", "stderr", "compile-output", "detail"]) setText(id, "");
  for (const id of ["cpu", "wall", "memory", "exit", "worker", "cached"]) setText(id, "–");
  $("request-error").classList.add("hidden");
  $("share").classList.add("hidden");
  for (const v of document.querySelectorAll(".test-verdict")) v.textContent = "";
}

function showVerdict(text, cls) {
  const v = $("verdict");
  v.textContent = text;
  v.className = "verdict " + cls;
}

function showResult(r) {
  showVerdict(verdictWords(r), r.verdict === "accepted" ? "ok" : "bad");
  setText("detail", r.verdict === "accepted" ? "" : (r.message || ""));
  setText("stdout", r.stdout + cutWords(r.stdout_truncated));
  setText("stderr", r.stderr + cutWords(r.stderr_truncated));
  setText("compile-output", r.compile_output);
  const killed = r.verdict === "time_limit" && r.time_limit === "wall";
  setText("cpu", r.cpu_ms + " ms of " + r.time_limit_ms + " ms" + (killed ? " (killed at the wall limit)" : ""));
  setText("wall", r.wall_ms + " ms of " + r.wall_limit_ms + " ms");
  setText("memory", r.memory_kib ? (r.memory_kib / 1024).toFixed(1) + " MiB" : "– (not measured)");
  setText("exit", endWords(r));
  setText("worker", r.worker ? "port " + r.worker : "–");
  setText("cached", compileWords(r));
  const cells = document.querySelectorAll(".test-verdict");
  (r.tests || []).forEach((t, k) => {
    if (cells[k]) {
      cells[k].textContent = verdictWords(Object.assign({}, r, t));
      cells[k].className = "test-verdict " + (t.verdict === "accepted" ? "ok" : "bad");
    }
  });
  if (r.total) setText("detail", r.passed + " of " + r.total + " tests accepted. " + $("detail").textContent);
}

// A request that did not give a result (refused, unreachable, cancelled): apart from verdicts.
function showRequestError(title, message) {
  showVerdict("no result", "none");
  const box = $("request-error");
  box.textContent = title + (message ? ": " + message : "");
  box.classList.remove("hidden");
}

async function run() {
  if (state.running) return;
  save();
  clearResult();
  showVerdict("running…", "running");
  const controller = new AbortController();
  const wall = parseInt($("wall-limit").value, 10) || 30000;
  const timer = setTimeout(() => controller.abort("timeout"), wall * Math.max(1, readTests().length) + 30000);
  state.running = controller;
  $("run").disabled = true;
  $("cancel").classList.remove("hidden");
  try {
    const { status, body: doc } = await api("/api/v1/runs?wait=true", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request()),
      signal: controller.signal,
    });
    if (status === 200 && doc && doc.result) {
      showResult(doc.result);
      share(doc.id);
      remember(doc.id, doc.result);
    } else {
      const e = (doc && doc.error) || { code: "HTTP " + status, message: "" };
      showRequestError("The request was refused (" + e.code + ")", e.message);
    }
  } catch (err) {
    if (controller.signal.aborted) {
      showRequestError(controller.signal.reason === "timeout" ? "No answer in time" : "Cancelled",
        "the run may still finish on the server");
    } else {
      showRequestError("The server cannot be reached", String(err));
    }
  } finally {
    clearTimeout(timer);
    state.running = null;
    $("run").disabled = false;
    $("cancel").classList.add("hidden");
  }
}

// --- start -------------------------------------------------------------------------------

async function loadLanguages() {
  let langs = [];
  try {
    const { status, body } = await api("/api/v1/languages");
    langs = status === 200 && body ? body.languages : [];
  } catch (_) { langs = []; }
  const select = $("language");
  select.replaceChildren(...langs.map((l) => {
    const o = document.createElement("option");
    o.value = l.name;
    o.textContent = l.name + (l.available ? "" : " (unavailable)");
    o.disabled = !l.available;
    return o;
  }));
  const kept = localStorage.getItem("kennel-language");
  const first = langs.find((l) => l.available && l.name === kept) || langs.find((l) => l.available);
  if (first) select.value = first.name;
  if (select.value) chooseLanguage(select.value);
}

function dark() {
  const kept = localStorage.getItem("kennel-theme");
  if (kept) return kept === "dark";
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
}

function applyTheme(isDark) {
  document.documentElement.dataset.theme = isDark ? "dark" : "light";
  if (state.editor) state.editor.setDark(isDark);
}

document.addEventListener("DOMContentLoaded", () => {
  applyTheme(dark());
  state.editor = KennelEditor.create($("editor"), {
    dark: dark(), label: "Source code", onChange: save, onRun: run,
  });
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", () => state.running && state.running.abort("cancel"));
  $("language").addEventListener("change", (e) => chooseLanguage(e.target.value));
  $("upload").addEventListener("change", (e) => {
    const chosen = [...e.target.files]; // the list empties when the input is reset
    e.target.value = "";
    addFiles(chosen);
  });
  $("download").addEventListener("click", download);
  $("add-test").addEventListener("click", () => { addTest(); save(); });
  for (const id of SETTINGS) $(id).addEventListener("input", save);
  $("theme").addEventListener("click", () => {
    const next = document.documentElement.dataset.theme !== "dark";
    localStorage.setItem("kennel-theme", next ? "dark" : "light");
    applyTheme(next);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
  });
  $("token-save").addEventListener("click", () => {
    sessionStorage.setItem("kennel-token", $("token").value.trim());
    $("token-box").classList.add("hidden");
    loadLanguages();
  });
  loadLanguages();
});
