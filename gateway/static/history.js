// Kennel playground, a run's afterlife: a share link (`/#run=<id>`, answered by
// GET /api/v1/runs/{id} while the server keeps the result) and the last runs of this browser
// (localStorage: id, language, verdict, time), each of which reopens its result.
"use strict";

const KEEP = 20;

function pastRuns() {
  try { return JSON.parse(localStorage.getItem("kennel-history") || "[]") || []; } catch (_) { return []; }
}

function remember(id, r) {
  const h = pastRuns().filter((x) => x.id !== id);
  h.unshift({ id, language: r.language, verdict: verdictWords(r), at: new Date().toLocaleString() });
  localStorage.setItem("kennel-history", JSON.stringify(h.slice(0, KEEP)));
  showHistory();
}

function showHistory() {
  const items = pastRuns().map((x) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.textContent = x.at + " · " + x.language + " · " + x.verdict;
    b.addEventListener("click", () => openRun(x.id));
    li.appendChild(b);
    return li;
  });
  document.getElementById("history").replaceChildren(...items);
}

// The share link of run `id`, in the address bar too (a reload shows the run again).
function share(id) {
  const link = document.getElementById("share-link");
  link.href = "/#run=" + id;
  link.textContent = location.origin + "/#run=" + id;
  document.getElementById("share").classList.remove("hidden");
  window.history.replaceState(null, "", "#run=" + id);
}

async function openRun(id) {
  clearResult();
  showVerdict("loading…", "running");
  let r;
  try { r = await api("/api/v1/runs/" + encodeURIComponent(id)); } catch (e) {
    return showRequestError("The server cannot be reached", String(e));
  }
  if (r.status === 200 && r.body && r.body.result) {
    showResult(r.body.result);
    share(id);
  } else if (r.status === 200 && r.body) {
    showVerdict(r.body.status === "failed" ? "no result" : r.body.status + "…", "none");
  } else {
    showRequestError("This run is not kept any more",
      (r.body && r.body.error && r.body.error.message) || "HTTP " + r.status);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  showHistory();
  const m = location.hash.match(/^#run=([0-9a-f]{32})$/);
  if (m) openRun(m[1]);
});
