//! One test per behaviour a Home Assistant client relies on.

use super::bed::{driver, fake_proxy, hub, proxy, start_driver, KEY, WRONG_KEY};

/// Slots in the test world: two radios with two each.
const POOL: &str = "4";

fn passes(lines: &[String], check: &str) {
    assert!(
        lines.iter().any(|l| l == &format!("PASS {check}")),
        "no PASS {check} in {lines:?}"
    );
}

#[test]
fn hello_device_info_and_honest_feature_flags() {
    let bed = proxy(&[], 1);
    let lines = driver("info", &bed.ports, &[]);
    passes(&lines, "no flag PAIRING");
    passes(&lines, "device capabilities: the same flags");
}

#[test]
fn raw_adverts_of_every_world_device() {
    let bed = proxy(&[], 1);
    driver("adverts", &bed.ports, &[]);
}

#[test]
fn connect_services_read_write_notify_indicate_disconnect_with_bleak_esphome() {
    let bed = proxy(&[], 1);
    let lines = driver("gatt", &bed.ports, &[]);
    passes(&lines, "indicate (CCCD 02 00 written by the client)");
    passes(&lines, "write without response");
}

#[test]
fn notifications_start_with_the_clients_cccd_write() {
    let bed = proxy(&[], 1);
    driver("cccd", &bed.ports, &[]);
}

#[test]
fn reconnect_with_cache_sends_no_services_request() {
    let bed = proxy(&[], 1);
    driver("cache", &bed.ports, &[]);
}

#[test]
fn out_of_slots_is_out_of_slots_for_bleak_retry_connector() {
    let bed = proxy(&[], 1);
    driver("slots", &bed.ports, &["--free", POOL]);
}

#[test]
fn noise_right_key_wrong_key_and_plaintext_client() {
    let mut bed = proxy(&["--psk", KEY], 1);
    driver(
        "noise",
        &bed.ports,
        &["--psk", KEY, "--wrong-psk", WRONG_KEY],
    );
    bed.process.kill();
    let log = bed.process.log();
    assert!(
        log.lines().any(|l| l.contains("refused the client")
            && l.contains("127.0.0.1:")
            && l.contains("invalid encryption key")),
        "the wrong key is not logged with the client's address:\n{log}"
    );
}

#[test]
fn a_plaintext_proxy_tells_a_noise_client() {
    let bed = proxy(&[], 1);
    driver("plaintext-refuses-noise", &bed.ports, &["--psk", KEY]);
}

#[test]
fn two_clients_share_the_pool_and_keep_to_their_own_connections() {
    let bed = proxy(&[], 1);
    driver("two-clients", &bed.ports, &[]);
}

#[test]
fn per_radio_mode_serves_one_proxy_per_radio() {
    let bed = proxy(&["--mode", "per-radio"], 2);
    assert_ne!(bed.ports[0], bed.ports[1]);
    driver("per-radio", &bed.ports, &[]);
}

#[test]
fn a_killed_client_frees_its_slot() {
    let bed = proxy(&[], 1);
    let mut holder = start_driver("hold", &bed.ports, &[]);
    holder.wait_line("HOLDING");
    driver("free", &bed.ports, &["--free", "3"]);
    holder.kill();
    driver("free", &bed.ports, &["--free", POOL]);
}

#[test]
fn a_silent_client_is_pinged_then_dropped_and_its_slot_freed() {
    // Keepalive 1 s: ping after 1 s of silence, gone after 3 s.
    let bed = proxy(&["--keepalive", "1s"], 1);
    driver("silent", &bed.ports, &["--free", "3"]);
    driver("free", &bed.ports, &["--free", POOL]);
}

#[test]
fn a_chain_of_two_proxies_bluefleet_over_the_fake() {
    let (_fake, fake_port) = fake_proxy();
    let upstream = format!("127.0.0.1:{fake_port}");
    let bed = proxy(&["--backend", "esphome", "--proxy", &upstream], 1);
    // The fake has three slots.
    driver("chain", &bed.ports, &["--free", "3"]);
}

#[test]
fn bluefleet_run_serves_the_proxy_of_its_hub_file() {
    let (bed, _file) = hub(&format!(
        "listen = \"127.0.0.1:0\"\nmdns = false\npsk = \"{KEY}\"\nname = \"hub-from-toml\""
    ));
    driver(
        "noise",
        &bed.ports,
        &["--psk", KEY, "--wrong-psk", WRONG_KEY],
    );
}
