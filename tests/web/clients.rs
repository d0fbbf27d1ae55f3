//! The *Proxy clients* view in a real browser: `bluefleet proxy --web` with two real
//! aioesphomeapi clients holding a device each (tests/proxy/clients.py), the view listing both
//! with what they hold, the radios view counting the clients each radio serves, and a
//! screenshot of each under target/web-tests/.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::browser::Browser;
use crate::support::{artefacts, root, Served};

fn python() -> PathBuf {
    std::env::var_os("BLUEFLEET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/bluefleet-venv/bin/python"))
}

/// A free loopback port (closed again at once: the proxy takes it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_clients_view_lists_two_real_clients() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let port = free_port().to_string();
    let world = root().join("tests/proxy/world.toml");
    let listen = format!("127.0.0.1:{port}");
    let served = Served::start(&[
        "proxy",
        "--backend",
        "sim",
        "--world",
        world.to_str().expect("path"),
        "--listen",
        &listen,
        "--no-mdns",
        "--web",
        "127.0.0.1:0",
    ]);
    let mut clients = Command::new(python())
        .arg(root().join("tests/proxy/clients.py"))
        .args(["--port", &port])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tests/proxy/clients.py (Python with tests/testbeds/requirements.txt)");
    let (holding, ready) = mpsc::channel();
    let stdout = clients.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line == "HOLDING" {
                let _ = holding.send(());
            }
        }
    });
    let held = ready.recv_timeout(Duration::from_secs(60));
    if held.is_err() {
        let _ = clients.kill();
        panic!("the two clients did not connect their devices within 60 s");
    }

    browser.open(&served.url).await;
    browser.show_view("clients").await;
    browser
        .wait_true(
            "both clients listed with a device each",
            "const rows = [...document.querySelectorAll('#clients tbody tr[data-client]')]; \
             return rows.length === 2 && rows.every((r) => /climate|Counter/.test(r.textContent))",
            Duration::from_secs(20),
        )
        .await;
    browser.screenshot(&artefacts().join("clients.png")).await;
    browser.show_view("radios").await;
    browser
        .wait_true(
            "every radio serves both clients",
            "const rows = [...document.querySelectorAll('#radios tbody tr')]; \
             return rows.length === 2 && rows.every((r) => r.children[10].textContent.trim() === '2')",
            Duration::from_secs(10),
        )
        .await;
    browser
        .screenshot(&artefacts().join("radios-proxy.png"))
        .await;
    let errors = browser.console_errors();
    let _ = clients.kill();
    let _ = clients.wait();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await;
}
