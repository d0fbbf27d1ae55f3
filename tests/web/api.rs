//! The JSON API over plain HTTP: the token, read-only by default, and clear refusals.

use crate::support::{request, Served};

#[test]
fn read_only_unless_commands_are_allowed_and_bad_requests_are_named() {
    let served = Served::start(&[
        "demo",
        "--web",
        "127.0.0.1:0",
        "--speed",
        "0",
        "--duration",
        "2m",
    ]);
    served.wait_finished(std::time::Duration::from_secs(60));
    let radios = served.get_json("api/radios");
    assert_eq!(
        radios["radios"].as_array().map(Vec::len),
        Some(3),
        "{radios}"
    );
    let url = |path: &str| format!("{}{path}", served.url);
    let (status, body) = request("POST", &url("api/commands/radio/hci0/down"), &[], "");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("allow_commands"), "{body}");
    let (status, body) = request("GET", &url("api/timeline?window=5"), &[], "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("window must be between"), "{body}");
    for path in [
        "api/snapshot",
        "api/devices",
        "api/attempts",
        "api/adverts?filter=climate",
    ] {
        served.get_json(path);
    }
    let (status, page) = request("GET", &url(""), &[], "");
    assert_eq!(status, 200);
    assert!(page.contains("Slot timeline"), "{page}");
}

#[test]
fn a_token_guards_every_path() {
    let (served, _hub_dir) = run_hub("[web]\nlisten = \"127.0.0.1:0\"\ntoken = \"s3cret\"\n");
    let url = format!("{}api/radios", served.url);
    let (status, body) = request("GET", &url, &[], "");
    assert_eq!(status, 401, "{body}");
    let (status, _) = request("GET", &url, &[("Authorization", "Bearer wrong")], "");
    assert_eq!(status, 401);
    let (status, body) = request("GET", &url, &[("Authorization", "Bearer s3cret")], "");
    assert_eq!(status, 200, "{body}");
    let (status, _) = request("GET", &format!("{url}?token=s3cret"), &[], "");
    assert_eq!(status, 200);
}

/// The page shows each managed device's latest value, a periodic read (`poll`) like a
/// notification.
#[test]
fn a_polled_value_reaches_the_page() {
    let (served, _hub_dir) = run_hub(
        "[web]\nlisten = \"127.0.0.1:0\"\n[[device]]\naddress = \"A4:C1:38:00:00:01\"\n\
         subscribe = [{ characteristic = \"2a19\", decode = \"uint8\", unit = \"%\", poll = \"1s\" }]\n",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let devices = served.get_json("api/devices");
        let value = devices.as_array().and_then(|rows| {
            rows.iter()
                .find(|d| d["address"] == "A4:C1:38:00:00:01")
                .and_then(|d| d["last_value"].as_str().map(str::to_string))
        });
        if let Some(value) = value {
            let level = value
                .strip_prefix("0x2a19: ")
                .and_then(|v| v.strip_suffix(" %"))
                .and_then(|v| v.parse::<f64>().ok());
            assert!(level.is_some_and(|l| (0.0..=100.0).contains(&l)), "{value}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no value on the page within 30 s: {devices}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `bluefleet run` on a hub file of one sim radio over the flat world (seed 3), plus `rest`;
/// the hub file's directory lives as long as the returned guard.
fn run_hub(rest: &str) -> (Served, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let hub = dir.path().join("hub.toml");
    let world = crate::support::root().join("examples/worlds/flat.toml");
    std::fs::write(
        &hub,
        format!("seed = 3\n[[radio]]\nbackend = \"sim\"\nworld = {world:?}\n{rest}"),
    )
    .expect("hub.toml");
    let served = Served::start(&["run", "--config", hub.to_str().expect("path")]);
    (served, dir)
}
