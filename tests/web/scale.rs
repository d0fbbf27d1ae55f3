//! The page under load: 500 devices and 20 radios (a generated sim world) at real-time speed.
//! Measures what the browser receives and how long it spends drawing, and checks it keeps up:
//! updates stay coalesced to a few a second and the page's clock stays with the fleet's.
//! The figures are printed and written to target/web-tests/scale.json.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::browser::Browser;
use crate::support::{artefacts, Served};

const RADIOS: usize = 20;
const DEVICES: usize = 500;
const KEPT: usize = 60;

/// A warehouse: radios on a 5 × 4 grid, devices scattered by a fixed LCG.
fn world() -> String {
    let mut toml = String::from("[rf]\npath_loss_exponent = 2.2\nnoise_sigma_db = 3.0\n");
    for i in 0..RADIOS {
        let (x, y) = ((i % 5) as f64 * 20.0 + 10.0, (i / 5) as f64 * 20.0 + 10.0);
        let kind = if i % 4 == 0 {
            "local-controller"
        } else {
            "esphome-proxy"
        };
        let slots = if i % 4 == 0 { 5 } else { 3 };
        let _ = write!(
            toml,
            "[[radios]]\nname = \"radio-{i:02}\"\nkind = \"{kind}\"\nslot_limit = {slots}\nposition = [{x}, {y}]\n"
        );
    }
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    for i in 0..DEVICES {
        let (x, y) = (next() * 100.0, next() * 80.0);
        let kept = i < KEPT;
        let profile = if kept || i % 10 == 0 {
            "env-sensor"
        } else {
            "beacon"
        };
        let _ = write!(
            toml,
            "[[devices]]\naddress = \"D0:00:00:00:{:02X}:{:02X}\"\nname = \"sensor {i}\"\nprofile = \"{profile}\"\nposition = [{x:.1}, {y:.1}]\nadvert_interval = \"{}s\"\n",
            i / 256,
            i % 256,
            if kept { 1 } else { 2 + i % 4 }
        );
        if kept {
            toml.push_str("keep_connected = true\nsubscribe = [\"2a6e\"]\n");
        }
    }
    toml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_devices_and_twenty_radios_without_falling_behind() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("warehouse.toml");
    std::fs::write(&path, world()).expect("world");
    let served = Served::start(&[
        "demo",
        "--world",
        path.to_str().expect("path"),
        "--web",
        "127.0.0.1:0",
        "--speed",
        "1",
        "--duration",
        "10m",
    ]);
    let started = Instant::now();
    browser
        .client
        .goto(&served.url)
        .await
        .expect("open the page");
    browser
        .eval("document.querySelector('button[data-view=devices]').click(); return true")
        .await;
    let all = format!("return document.querySelectorAll('#devices tbody tr').length === {DEVICES}");
    browser
        .wait_true("every device drawn", &all, Duration::from_secs(60))
        .await;
    let first_full_render = started.elapsed();

    let read = || async {
        browser
            .eval("const s = window.bluefleetStats; return [s.updates, s.bytes, s.renders, s.totalRenderMs, s.maxRenderMs]")
            .await
    };
    let before = read().await;
    browser
        .eval("window.bluefleetStats.maxRenderMs = 0; return true")
        .await;
    let window = Duration::from_secs(10);
    let began = Instant::now();
    tokio::time::sleep(window).await;
    let after = read().await;
    let seconds = began.elapsed().as_secs_f64();
    let delta = |i: usize| after[i].as_f64().expect("n") - before[i].as_f64().expect("n");
    let updates_per_s = delta(0) / seconds;
    let bytes_per_s = delta(1) / seconds;
    let renders = delta(2).max(1.0);
    let mean_render_ms = delta(3) / renders;
    let max_render_ms = after[4].as_f64().expect("max");
    // Keeping up: the fleet time the page shows against the fleet time the server has now.
    let page_now = browser
        .eval("return window.bluefleetStats && document.getElementById('clock').textContent")
        .await;
    let page_seq = browser
        .eval("return Number(document.body.dataset.seq)")
        .await
        .as_f64()
        .expect("seq");
    let server = served.get_json("api/snapshot");
    let server_seq = server["seq"].as_f64().expect("seq");
    let server_now = server["header"]["now_s"].as_f64().expect("now");
    let lag_s = browser
        .eval("const t = document.getElementById('clock').textContent.match(/(\\d+):(\\d+)/); return t ? Number(t[1]) * 60 + Number(t[2]) : -1")
        .await
        .as_f64()
        .map(|page| server_now - page)
        .expect("lag");
    let figures = serde_json::json!({
        "devices": DEVICES, "radios": RADIOS,
        "first_full_render_s": first_full_render.as_secs_f64(),
        "updates_per_s": updates_per_s, "sse_bytes_per_s": bytes_per_s,
        "mean_render_ms": mean_render_ms, "max_render_ms": max_render_ms,
        "page_clock": page_now, "server_now_s": server_now, "lag_s": lag_s,
        "page_seq": page_seq, "server_seq": server_seq,
    });
    eprintln!("scale: {figures}");
    std::fs::write(artefacts().join("scale.json"), figures.to_string()).expect("scale.json");
    browser
        .screenshot(&artefacts().join("scale-devices.png"))
        .await;
    browser
        .eval("document.querySelector('button[data-view=timeline]').click(); return true")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser
        .screenshot(&artefacts().join("scale-timeline.png"))
        .await;

    assert!(updates_per_s <= 4.5, "updates are not coalesced: {figures}");
    assert!(
        updates_per_s >= 1.0,
        "the page stopped getting updates: {figures}"
    );
    assert!(lag_s <= 3.0, "the page fell behind the fleet: {figures}");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await;
}
