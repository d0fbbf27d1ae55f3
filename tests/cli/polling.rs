//! `poll = "60s"` in a hub file: a characteristic that cannot notify is read on a timer, and
//! each read is printed like a notification (virtual time: the run takes well under a second).

use crate::json_lines;

#[test]
fn a_polled_battery_level_is_read_once_a_minute_and_printed_like_a_value() {
    let lines = json_lines(&[
        "run",
        "--config",
        "examples/hub.toml",
        "--duration",
        "200s",
        "--json",
    ]);
    let battery: Vec<(f64, f64)> = lines
        .iter()
        .filter(|l| l["characteristic"] == "0x2a19" && l["device"] == "Living room")
        .map(|l| (l["t_s"].as_f64().unwrap(), l["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        battery.len(),
        4,
        "at once, then at 60, 120 and 180 s: {battery:?}"
    );
    // Read k is due at k minutes; the first waits a moment for the device to connect.
    let late: Vec<f64> = battery
        .iter()
        .enumerate()
        .map(|(k, (t, _))| t - 60.0 * k as f64)
        .collect();
    assert!(
        late.iter().all(|late| (0.0..5.0).contains(late)),
        "one read a minute: {battery:?}"
    );
    assert!(
        battery
            .iter()
            .all(|(_, level)| (0.0..=100.0).contains(level)),
        "{battery:?}"
    );
    let line = lines
        .iter()
        .find(|l| l["characteristic"] == "0x2a19")
        .unwrap();
    assert_eq!(line["unit"], "%");
    assert_eq!(
        line["raw"].as_str().map(str::len),
        Some(2),
        "one byte: {line}"
    );
}

#[test]
fn a_failing_read_is_said_and_the_timer_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub.toml");
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/worlds/flat.toml");
    std::fs::write(
        &hub,
        format!(
            "[[radio]]\nbackend = \"sim\"\nworld = {world:?}\n[[device]]\naddress = \"A4:C1:38:00:00:01\"\nsubscribe = [{{ characteristic = \"2aff\", poll = \"10s\" }}]\n"
        ),
    )
    .unwrap();
    let lines = json_lines(&[
        "run",
        "--config",
        hub.to_str().unwrap(),
        "--duration",
        "35s",
        "--json",
    ]);
    let failed: Vec<_> = lines
        .iter()
        .filter(|l| l["event"] == "read failed")
        .collect();
    assert!(failed.len() >= 3, "{lines:?}");
    assert!(
        failed[0]["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{:?}",
        failed[0]
    );
}

/// A SIG format at a byte offset: the strap's Heart Rate Measurement is flags, then a uint8.
#[test]
fn a_format_at_an_offset_decodes_the_heart_rate() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub.toml");
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/worlds/flat.toml");
    let device = "[[device]]\naddress = \"F0:0D:00:00:00:07\"\nsubscribe = [{ characteristic = \"2a37\", decode = \"uint8\", offset = 1, unit = \"bpm\" }]\n";
    std::fs::write(
        &hub,
        format!("[[radio]]\nbackend = \"sim\"\nworld = {world:?}\n{device}"),
    )
    .unwrap();
    let hub_arg = hub.to_str().unwrap();
    let lines = json_lines(&["run", "--config", hub_arg, "--duration", "20s", "--json"]);
    let rates: Vec<f64> = lines.iter().filter_map(|l| l["value"].as_f64()).collect();
    assert!(rates.len() >= 10, "{lines:?}");
    assert!(rates.iter().all(|r| (60.0..=90.0).contains(r)), "{rates:?}");
    let bad = device.replace("\"uint8\"", "\"uint9\"");
    std::fs::write(
        &hub,
        format!("[[radio]]\nbackend = \"sim\"\nworld = {world:?}\n{bad}"),
    )
    .unwrap();
    crate::fails_clearly(
        &["run", "--config", hub_arg],
        "hub.toml line 6, device[0].subscribe[0].decode: 'uint9' is not a format; known: hex",
    );
}
