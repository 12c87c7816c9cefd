//! Debian's headless Chromium driven through chromedriver's W3C WebDriver protocol (plain
//! HTTP and JSON, spoken with `http.rs`): enough to load a page, click, type, read text and
//! take a screenshot. chromedriver listens on a port the kernel picks and is killed, with its
//! browser, when the `Browser` is dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::request;

/// The key WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether this machine has both.
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and one headless Chromium session with an empty profile, no
    /// background networking (the machine's network is closed), a fixed window size.
    pub fn start(profile: PathBuf) -> Browser {
        use std::os::unix::process::CommandExt;
        // A process group of its own: chromedriver and every browser process it starts are
        // killed together at the end, whatever state the session is in.
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut lines = BufReader::new(driver.stdout.take().expect("stdout"));
        let mut port = None;
        let mut line = String::new();
        while port.is_none() && lines.read_line(&mut line).unwrap_or(0) > 0 {
            port = line
                .split("started successfully on port ")
                .nth(1)
                .and_then(|p| p.trim().trim_end_matches('.').parse::<u16>().ok());
            line.clear();
        }
        let port = port.expect("chromedriver said its port");
        // Its later output is not read: keep the pipe drained so it never blocks.
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--no-first-run",
                    // No crash handler: it would leave its own process group behind.
                    "--disable-crash-reporter", "--disable-breakpad",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            profile,
        };
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        b
    }

    /// One WebDriver command; returns its `value`, panicking on a WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// One WebDriver command; its `value`, or the error it answered.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let b = body.map(|v| serde_json::to_vec(&v).expect("json"));
        let r = request(
            self.addr,
            method,
            path,
            b.as_deref(),
            &[("Content-Type", "application/json")],
        );
        let v = r.json();
        if r.status != 200 {
            return Err(format!("HTTP {}: {v}", r.status));
        }
        Ok(v["value"].clone())
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({"url": url})));
    }

    /// The elements `css` selects now.
    pub fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.call(
            "POST",
            &self.s("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element `css` selects, waiting up to `timeout` for it to exist.
    pub fn find(&self, css: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css, Duration::from_secs(10));
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/click")),
            Some(json!({})),
        );
    }

    /// Clears a field and types `text` into it, key by key.
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css, Duration::from_secs(10));
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/clear")),
            Some(json!({})),
        );
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/value")),
            Some(json!({"text": text})),
        );
    }

    /// The rendered text of the first element `css` selects. The page replaces some
    /// elements as it refreshes (the pool table, every second): one found just before its
    /// replacement is stale, and is looked up again.
    pub fn text(&self, css: &str) -> String {
        for _ in 0..20 {
            let e = self.find(css, Duration::from_secs(10));
            match self.try_call("GET", &self.s(&format!("/element/{e}/text")), None) {
                Ok(v) => return v.as_str().unwrap_or_default().to_string(),
                Err(why) if why.contains("stale element reference") => continue,
                Err(why) => panic!("WebDriver text of {css}: {why}"),
            }
        }
        panic!("{css} went stale twenty times in a row")
    }

    /// The value of a form field (what the user typed, as the page sees it).
    pub fn value(&self, css: &str) -> String {
        let e = self.find(css, Duration::from_secs(10));
        self.call(
            "GET",
            &self.s(&format!("/element/{e}/property/value")),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until `cond(text of css)` holds; returns that text.
    pub fn wait_text(&self, css: &str, timeout: Duration, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let t = self.text(css);
            if cond(&t) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{css} still says {t:?} after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `script` in the page (its `arguments` are `args`) and returns what it returns.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The window's size in CSS pixels (a phone is 390 wide).
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            &self.s("/window/rect"),
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Types `text` into the element `css` selects without clearing it first (a code
    /// editor, a file input taking paths).
    pub fn send_keys(&self, css: &str, text: &str) {
        let e = self.find(css, Duration::from_secs(10));
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/value")),
            Some(json!({"text": text})),
        );
    }

    /// Presses and releases each key of `text` in turn (W3C actions: real key events, as a
    /// person's keyboard makes them), into whatever has the focus.
    pub fn press_keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            let k = c.to_string();
            actions.push(json!({"type": "keyDown", "value": k}));
            actions.push(json!({"type": "keyUp", "value": k}));
        }
        self.call(
            "POST",
            &self.s("/actions"),
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// `modifier` held while `key` is pressed (WebDriver's key codes: `\u{E009}` Control).
    pub fn chord(&self, modifier: &str, key: &str) {
        let actions = json!([
            {"type": "keyDown", "value": modifier},
            {"type": "keyDown", "value": key},
            {"type": "keyUp", "value": key},
            {"type": "keyUp", "value": modifier},
        ]);
        self.call(
            "POST",
            &self.s("/actions"),
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// A PNG of the viewport, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let v = self.call("GET", &self.s("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 PNG"))
            .expect("valid base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = crate::http::raw(
                self.addr,
                format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    self.session
                )
                .as_bytes(),
                Duration::from_secs(10),
            );
        }
        let group = nix::unistd::Pid::from_raw(self.driver.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `target/` of this build (where the screenshots go, for people to look at).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test binary>
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("target dir")
}
