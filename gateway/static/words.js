// What a result says, in words: "Time limit exceeded — CPU 1000 ms of 1000 ms",
// "Runtime error — SIGSEGV (signal 11)". Pure functions over the API's result document.
"use strict";

const SIGNALS = {
  1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
  8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
  24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS",
};

const VERDICTS = {
  accepted: "Accepted",
  wrong_answer: "Wrong answer",
  time_limit: "Time limit exceeded",
  memory_limit: "Memory limit exceeded",
  output_limit: "Output limit exceeded",
  runtime_error: "Runtime error",
  compile_error: "Compile error",
  internal_error: "Internal error",
  skipped: "Skipped",
};

function mib(kib) {
  return (kib / 1024).toFixed(kib < 10240 ? 1 : 0) + " MiB";
}

function signalWords(n) {
  return (SIGNALS[n] || "signal") + " (signal " + n + ")";
}

// How the program ended: "exit code 0", "killed: SIGSEGV (signal 11)", "killed at the limit".
function endWords(r) {
  if (r.signal != null) {
    if (r.verdict === "time_limit" || r.verdict === "memory_limit" || r.verdict === "output_limit") {
      return "stopped at the limit";
    }
    return "killed: " + signalWords(r.signal);
  }
  if (r.exit_code != null) return "exit code " + r.exit_code;
  return "–";
}

// The verdict line and its detail.
function verdictWords(r) {
  const name = VERDICTS[r.verdict] || r.verdict;
  switch (r.verdict) {
    case "time_limit":
      return r.time_limit === "wall"
        ? name + " — wall time " + r.wall_ms + " ms of " + r.wall_limit_ms + " ms"
        : name + " — CPU " + r.cpu_ms + " ms of " + r.time_limit_ms + " ms";
    case "memory_limit":
      return name + " — " + mib(r.memory_limit_kib);
    case "runtime_error":
      return r.signal != null
        ? name + " — " + signalWords(r.signal)
        : name + " — exit code " + r.exit_code;
    case "output_limit":
      return name + " — " + (r.message || "an output past the server's limit");
    case "internal_error":
      return name + " — " + (r.message || "the sandbox could not run it (not the program's fault)");
    default:
      return name;
  }
}

// What was cut and why, for an output block.
function cutWords(truncated) {
  return truncated ? "\n[cut here: the server keeps at most --max-output of it]" : "";
}

// The compile's state in words.
function compileWords(r) {
  if (r.language === "python") return "not compiled (Python)";
  if (r.verdict === "compile_error") return "failed";
  return r.cached_compile ? "from the cache" : "compiled";
}

if (typeof module !== "undefined") {
  module.exports = { verdictWords, endWords, compileWords, cutWords, signalWords };
}
