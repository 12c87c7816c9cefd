//! The playground in a real browser: Debian's headless Chromium, driven through chromedriver,
//! loads the page the gateway serves and is used the way a student would: types in the code
//! editor, runs, reloads and finds the source again, adds two files, runs a table of test
//! cases and reads each verdict in words, switches to dark mode, narrows to a phone's 390 px,
//! and watches the pool view refresh itself. Screenshots of each state go to
//! target/screenshots/ for people to look at.
//!
//! Named `sandbox_browser_*`: scripts/test.sh installs chromium and chromium-driver as root,
//! and skips and counts these tests when it could not (or when the sandbox is missing).

use std::time::Duration;

use kennel_tests::browser::{self, Browser};
use kennel_tests::{fresh_dir, Instance};

/// The editor's host (CodeMirror lives in its shadow root; a click there focuses it).
const EDITOR: &str = "#editor";

/// The editor's text, read from inside its shadow root.
const READ_EDITOR: &str =
    "return document.querySelector('#editor').shadowRoot.querySelector('.cm-content').innerText;";

/// Waits for the run to end and returns the verdict's words.
fn verdict(b: &Browser) -> String {
    b.wait_text("#verdict", Duration::from_secs(90), |t| {
        !t.contains("running") && t != "not run yet"
    })
}

/// Replaces the editor's text by typing `text` (select all, then the keys).
fn type_source(b: &Browser, text: &str) {
    b.click(EDITOR);
    // Ctrl+A, then Delete: an empty editor; then the program, key by key. The editor
    // indents after `{` and closes brackets, so the programs typed here are written flat.
    b.chord("\u{E009}", "a");
    b.press_keys("\u{E017}");
    b.press_keys(text);
}

fn source(b: &Browser) -> String {
    b.execute(READ_EDITOR, serde_json::json!([]))
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn sandbox_browser_playground_edits_runs_grades_and_shows_the_pool() {
    assert!(
        browser::available(),
        "chromium and chromedriver are needed (scripts/test.sh installs them)"
    );
    let (inst, http) = Instance::start_http("browser", &[]);
    let url = format!("http://{http}/");
    let shots = browser::target_dir().join("screenshots");
    let b = Browser::start(fresh_dir("browser-profile"));
    b.resize(1280, 900);
    b.goto(&url);
    b.find("#language option[value=python]", Duration::from_secs(15));
    b.find(EDITOR, Duration::from_secs(15));

    // Python, typed in the editor, with standard input.
    b.click("#language option[value=python]");
    type_source(
        &b,
        "import sys\nprint('Hello from', sys.stdin.read().strip())\n",
    );
    b.type_into("#stdin", "Chromium");
    b.click("#run");
    assert_eq!(
        verdict(&b),
        "Accepted",
        "{} {} source: {:?}",
        b.text("#detail"),
        b.text("#stderr"),
        source(&b)
    );
    assert_eq!(b.text("#stdout"), "Hello from Chromium");
    assert!(b.text("#cpu").contains(" ms of "), "{}", b.text("#cpu"));
    b.screenshot(&shots.join("playground-run.png"));

    // A reload finds the source and the input again (localStorage, per language).
    b.goto(&url);
    b.find(EDITOR, Duration::from_secs(15));
    b.wait_text("#language", Duration::from_secs(10), |t| {
        t.contains("python")
    });
    let kept = b.execute(READ_EDITOR, serde_json::json!([]));
    assert!(
        kept.as_str().unwrap_or_default().contains("Hello from"),
        "{kept}"
    );
    assert_eq!(b.value("#stdin"), "Chromium");

    // A CPU limit in words.
    type_source(&b, "while True:\npass\n");
    b.type_into("#time-limit", "200");
    b.click("#run");
    let v = verdict(&b);
    assert!(
        v.starts_with("Time limit exceeded — CPU ") && v.ends_with(" of 200 ms"),
        "{v}"
    );
    b.type_into("#time-limit", "");

    // C with two files added: a header and its source, beside the editor's main.c.
    let dir = fresh_dir("browser-files");
    std::fs::create_dir_all(&dir).unwrap();
    let header = dir.join("twice.h");
    let body = dir.join("twice.c");
    std::fs::write(&header, "int twice(int x);\n").unwrap();
    std::fs::write(
        &body,
        "#include \"twice.h\"\nint twice(int x) { return 2 * x; }\n",
    )
    .unwrap();
    b.click("#language option[value=c]");
    type_source(
        &b,
        "#include <stdio.h>\n#include \"twice.h\"\nint main(void) { int n; if (scanf(\"%d\", &n) != 1) return 1; printf(\"%d\\n\", twice(n)); return 0; }\n",
    );
    b.send_keys(
        "#upload",
        &format!("{}\n{}", header.display(), body.display()),
    );
    b.wait_text("#file-list", Duration::from_secs(10), |t| {
        t.contains("twice.h") && t.contains("twice.c")
    });

    // A table of test cases: one right, one wrong; each verdict in words.
    b.click("#more summary");
    b.click("#add-test");
    b.click("#add-test");
    b.type_into(
        "#tests tbody tr:nth-child(1) td:nth-child(2) textarea",
        "21",
    );
    b.type_into(
        "#tests tbody tr:nth-child(1) td:nth-child(3) textarea",
        "42",
    );
    b.type_into("#tests tbody tr:nth-child(2) td:nth-child(2) textarea", "5");
    b.type_into(
        "#tests tbody tr:nth-child(2) td:nth-child(3) textarea",
        "11",
    );
    b.click("#run");
    let v = verdict(&b);
    assert_eq!(v, "Wrong answer", "{}", b.text("#detail"));
    assert_eq!(
        b.text("#tests tbody tr:nth-child(1) .test-verdict"),
        "Accepted"
    );
    assert_eq!(
        b.text("#tests tbody tr:nth-child(2) .test-verdict"),
        "Wrong answer"
    );
    assert!(b.text("#detail").starts_with("1 of 2 tests accepted."));
    b.screenshot(&shots.join("playground-tests.png"));
    // The run's share link opens it again (while the server keeps it); the history lists it.
    let link = b.text("#share-link");
    assert!(link.contains("/#run="), "{link}");
    b.goto("about:blank");
    b.goto(&link);
    b.wait_text("#verdict", Duration::from_secs(10), |t| t == "Wrong answer");
    assert!(b.text("#detail").starts_with("1 of 2 tests accepted."));
    b.click("#history-box summary");
    let past = b.text("#history");
    assert!(
        past.contains("c · Wrong answer") && past.contains("python · Accepted"),
        "{past}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Dark mode, kept across a reload; then a phone's width.
    b.click("#theme");
    let theme = b.execute(
        "return document.documentElement.dataset.theme;",
        serde_json::json!([]),
    );
    assert_eq!(theme, "dark");
    b.screenshot(&shots.join("playground-dark.png"));
    b.resize(390, 844);
    b.goto(&url);
    b.find(EDITOR, Duration::from_secs(15));
    let theme = b.execute(
        "return document.documentElement.dataset.theme;",
        serde_json::json!([]),
    );
    assert_eq!(theme, "dark", "the choice is kept");
    let wide = b.execute(
        "return document.documentElement.scrollWidth;",
        serde_json::json!([]),
    );
    assert!(
        wide.as_u64().unwrap_or(9999) <= 400,
        "no sideways scrolling at 390 px: {wide}"
    );
    assert!(source(&b).contains("twice"), "the C source kept");
    b.screenshot(&shots.join("playground-phone.png"));
    b.resize(1280, 900);

    // The pool view: one row per process, refreshed by the page.
    b.click("#tab-pool");
    b.wait_text("#pool-summary", Duration::from_secs(10), |t| {
        t.contains("2 of 2 worker slots running")
    });
    let rows = b.find_all("#pool-table tbody tr");
    assert_eq!(rows.len(), 4, "dispatcher, two workers, gateway");
    let cell = "#pool-table tbody tr:nth-child(4) td:nth-child(5)";
    let before = b.text(cell);
    let r = kennel_tests::http::post_json(
        inst.http_addr(),
        "/api/v1/runs?wait=true",
        &serde_json::json!({"language": "python", "source": "print(1)"}),
    );
    assert_eq!(r.status, 200);
    b.wait_text(cell, Duration::from_secs(10), |t| t != before);
    b.screenshot(&shots.join("playground-pool.png"));

    // The console on a gateway without a token: off, and the page says why.
    b.click("#tab-console");
    b.wait_text("#console-locked", Duration::from_secs(10), |t| {
        t.contains("operator routes need a token")
    });
    eprintln!("screenshots in {}", shots.display());
}

/// The operator's console, behind the token: refused without it; with it, a worker restarted
/// and the pool scaled, each asked for confirmation, seen in the table and the events.
#[test]
fn sandbox_browser_console_restarts_a_worker_and_scales_with_the_token() {
    assert!(
        browser::available(),
        "chromium and chromedriver are needed (scripts/test.sh installs them)"
    );
    let token = "browser-console-token-0123456789";
    let token_file = kennel_tests::token_file("browser-console-token", token);
    let dir = token_file.parent().unwrap().to_path_buf();
    let inst = Instance::start_flags(
        "browser-console",
        &[
            "--min-workers",
            "1",
            "--max-workers",
            "3",
            "--http",
            "127.0.0.1:0",
            "--http-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let url = format!("http://{}/", inst.http_addr());
    let shots = browser::target_dir().join("screenshots");
    let b = Browser::start(fresh_dir("browser-console-profile"));
    b.resize(1280, 900);
    b.goto(&url);
    b.click("#tab-console");
    b.wait_text("#console-locked", Duration::from_secs(10), |t| {
        t.contains("Authorization: Bearer")
    });
    b.type_into("#token", token);
    b.click("#token-save");
    b.wait_text("#console-settings", Duration::from_secs(10), |t| {
        t.contains("bounds 1–3")
    });
    // Restart worker 0: asked first, refused with No, done with Yes.
    b.click("#console-table tbody tr:nth-child(2) button");
    b.wait_text("#console-confirm-text", Duration::from_secs(5), |t| {
        t == "Restart worker 0?"
    });
    b.click("#console-no");
    b.wait_text("#console-answer", Duration::from_secs(5), |t| {
        t == "cancelled"
    });
    assert_eq!(inst.status()["workers"][0]["restarts"], 0);
    b.click("#console-table tbody tr:nth-child(2) button");
    b.click("#console-yes");
    b.wait_text("#console-answer", Duration::from_secs(10), |t| {
        t.starts_with("restart worker 0: ")
    });
    inst.wait_status("worker 0 restarted", Duration::from_secs(10), |s| {
        s["workers"][0]["restarts"] == 1
    });
    b.wait_text("#console-events", Duration::from_secs(10), |t| {
        t.contains("worker 0 restarted")
    });
    // Scale to 2.
    b.type_into("#console-scale", "2");
    b.click("#console-scale-apply");
    b.wait_text("#console-confirm-text", Duration::from_secs(5), |t| {
        t == "Scale the pool to 2 workers?"
    });
    b.click("#console-yes");
    inst.wait_status("the pool at 2", Duration::from_secs(10), |s| {
        kennel_tests::running_workers(s) == 2
    });
    b.wait_text("#console-settings", Duration::from_secs(10), |t| {
        t.contains("2 workers, bounds 1–3")
    });
    // The charts: one line per worker for CPU and memory, their latest values in the caption.
    b.wait_text("#chart-memory-now", Duration::from_secs(10), |t| {
        t.contains("worker 0 ") && t.contains("worker 1 ") && t.contains(" MiB")
    });
    assert_eq!(
        b.find_all("#chart-cpu polyline").len(),
        2,
        "a line per worker"
    );
    b.screenshot(&shots.join("console.png"));
    let _ = std::fs::remove_dir_all(&dir);
}
