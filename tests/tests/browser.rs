//! The playground in a real browser: Debian's headless Chromium, driven through chromedriver,
//! loads the page the gateway serves, runs a Python and a C program the way a student would
//! (choose the language, type the source, click Run) and reads the verdict and the output
//! from the page; then the pool view, refreshed by the page itself. Screenshots go to
//! target/screenshots/ for people to look at.
//!
//! Named `sandbox_browser_*`: scripts/test.sh installs chromium and chromium-driver as root,
//! and skips and counts these tests when it could not (or when the sandbox is missing).

use std::time::Duration;

use kennel_tests::browser::{self, Browser};
use kennel_tests::{fresh_dir, Instance};

#[test]
fn sandbox_browser_playground_runs_python_and_c_and_shows_the_pool() {
    assert!(
        browser::available(),
        "chromium and chromedriver are needed (scripts/test.sh installs them)"
    );
    let (inst, http) = Instance::start_http("browser", &[]);
    let url = format!("http://{http}/");
    let b = Browser::start(fresh_dir("browser-profile"));
    b.goto(&url);
    b.find("#language option[value=python]", Duration::from_secs(15));

    // Python, with standard input.
    b.click("#language option[value=python]");
    b.type_into(
        "#source",
        "import sys\nprint('Hello from', sys.stdin.read().strip())\n",
    );
    b.type_into("#stdin", "Chromium");
    assert_eq!(b.value("#stdin"), "Chromium");
    b.click("#run");
    let verdict = b.wait_text("#verdict", Duration::from_secs(60), |t| {
        !t.contains("running") && t != "not run yet"
    });
    assert_eq!(verdict, "accepted", "message: {}", b.text("#message"));
    assert_eq!(b.text("#stdout"), "Hello from Chromium");
    assert!(b.text("#cpu").ends_with(" ms"), "{}", b.text("#cpu"));
    assert!(b.text("#memory").ends_with(" MiB"));

    // C: the page's sample for the language is replaced by our program.
    b.click("#language option[value=c]");
    b.type_into(
        "#source",
        "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 6 * 7); return 0; }\n",
    );
    b.click("#run");
    let verdict = b.wait_text("#verdict", Duration::from_secs(60), |t| {
        !t.contains("running") && t != "not run yet"
    });
    assert_eq!(verdict, "accepted", "message: {}", b.text("#message"));
    assert_eq!(b.text("#stdout"), "42");
    assert_eq!(b.text("#cached"), "compiled");
    let shots = browser::target_dir().join("screenshots");
    b.screenshot(&shots.join("playground-run.png"));

    // A compile error is shown as such, with the compiler's words.
    b.type_into("#source", "int main( {\n");
    b.click("#run");
    let verdict = b.wait_text("#verdict", Duration::from_secs(60), |t| {
        !t.contains("running") && t != "not run yet" && t != "accepted"
    });
    assert_eq!(verdict, "compile_error");
    assert!(b.text("#compile-output").contains("error"));

    // The pool view: one row per process, refreshed by the page.
    b.click("#tab-pool");
    b.wait_text("#pool-summary", Duration::from_secs(10), |t| {
        t.contains("2 of 2 worker slots running")
    });
    let rows = b.find_all("#pool-table tbody tr");
    assert_eq!(rows.len(), 4, "dispatcher, two workers, gateway");
    // The gateway's served count moves without a reload once another run lands.
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
    eprintln!("screenshots in {}", shots.display());
}
