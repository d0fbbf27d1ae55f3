//! Headless Chromium under chromedriver, both started by the test on loopback and ended with it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use crate::support::request;

/// Chromium's flags: headless, and every background service off so it contacts only loopback.
const FLAGS: [&str; 11] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pings",
    "--dns-prefetch-disable",
    "--disable-domain-reliability",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

/// A browser session; chromedriver is killed when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    driver_url: String,
    session: String,
    _profile: tempfile::TempDir,
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .map(Path::to_path_buf)
}

impl Browser {
    /// Starts chromedriver and a Chromium session, or says why not and returns `None`.
    pub async fn start() -> Option<Self> {
        let chromium = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let driver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            eprintln!(
                "SKIPPED: the browser tests need headless Chromium and chromedriver \
                 (Debian packages `chromium` and `chromium-driver`; .ci/run installs them)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let listening = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            let ready = listening && {
                let (status, body) = request("GET", &format!("{driver_url}/status"), &[], "");
                status == 200 && body.contains("\"ready\":true")
            };
            if ready {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("chromedriver did not get ready within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push("--window-size=1400,900".into());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&driver_url),
        )
        .await
        .expect("a Chromium session within 60 s")
        .expect("a Chromium session");
        let session = client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        Some(Self {
            client,
            driver: child,
            driver_url,
            session,
            _profile: profile,
        })
    }

    /// Opens `url`, panicking with the URL when the browser cannot.
    pub async fn open(&self, url: &str) {
        if let Err(error) = self.client.goto(url).await {
            panic!("open {url}: {error}");
        }
    }

    /// Switches the page to one of its views by clicking the view's button.
    pub async fn show_view(&self, view: &str) {
        self.eval(&format!(
            "document.querySelector('button[data-view={view}]').click(); return true"
        ))
        .await;
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Polls `script` until it returns true; panics naming `what` after `within`.
    pub async fn wait_true(&self, what: &str, script: &str, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.eval(script).await == Value::Bool(true) {
                return started.elapsed();
            }
            if started.elapsed() > within {
                panic!("{what}: not true within {within:?} ({script})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes a PNG of what the browser shows.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// The browser console's error entries so far (chromedriver's log endpoint).
    pub fn console_errors(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.driver_url, self.session);
        let (status, body) = request("POST", &url, &[], r#"{"type":"browser"}"#);
        assert_eq!(status, 200, "console log: {body}");
        let log: Value = serde_json::from_str(&body).expect("log JSON");
        log["value"]
            .as_array()
            .expect("log entries")
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].to_string())
            .collect()
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(20), self.client.clone().close()).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
