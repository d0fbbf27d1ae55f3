//! Each failure class bluefleet sees on a connect, through Home Assistant's stack: a proxy on a
//! one-radio world whose radio fails every connect in that class (the sim's `faults`), and
//! `failures.py` checking what bleak-retry-connector makes of the answer (design §9's table,
//! the truth being what the real client does).

use super::bed::{proxy, run_script};

/// A one-radio world (`kind`, its `extra` settings) with the sensor the script connects.
fn world(kind: &str, extra: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let text = format!(
        "[[radios]]\nname = \"radio\"\nkind = \"{kind}\"\nslot_limit = 2\nposition = [0.0, 0.0]\n\
         connect_latency = {{ min = \"20ms\", max = \"40ms\" }}\n{extra}\n\n\
         [[devices]]\naddress = \"A4:C1:38:00:00:01\"\nname = \"Living room climate\"\n\
         profile = \"env-sensor\"\nposition = [1.0, 1.0]\nadvert_interval = \"100ms\"\n"
    );
    std::fs::write(file.path(), text).unwrap();
    file
}

/// Runs the classification against a proxy over `world`; the script's extra arguments say
/// what to expect.
fn classified(world: &tempfile::NamedTempFile, expect: &[&str]) -> Vec<String> {
    let path = world.path().to_str().unwrap();
    let bed = proxy(&["--backend", "sim", "--world", path], 1);
    run_script("failures.py", None, &bed.ports, expect)
}

#[test]
fn aborted_is_aborted_with_a_half_second_backoff() {
    let world = world("esphome-proxy", "faults = { aborted = 1.0 }");
    classified(
        &world,
        &[
            "--expect",
            "BleakAbortedError",
            "--advice",
            "ESP_GATT_CONN_FAIL_ESTABLISH",
            "--backoff",
            "0.5",
        ],
    );
}

#[test]
fn generic_is_a_plain_connection_error() {
    let world = world("esphome-proxy", "faults = { generic = 1.0 }");
    classified(
        &world,
        &[
            "--expect",
            "BleakConnectionError",
            "--advice",
            "Internal error",
            "--backoff",
            "0.1",
        ],
    );
}

#[test]
fn a_quick_not_found_still_reads_as_the_device_not_answering() {
    // A local controller that dropped the device refuses in 20 ms; answered that fast, the
    // client would blame its controller's firmware.
    let world = world("local-controller", "faults = { not_found = 1.0 }");
    classified(
        &world,
        &[
            "--expect",
            "BleakAbortedError",
            "--advice",
            "gave up waiting for the device to respond",
            "--backoff",
            "4.0",
            "--min-s",
            "8.0",
        ],
    );
}

#[test]
fn a_connect_the_radio_keeps_trying_is_answered_within_the_clients_budget() {
    // The radio tries 20 s (its default), as long as bleak-retry-connector waits: bluefleet
    // answers at its own 17 s budget, in words, before the client gives up.
    let world = world("esphome-proxy", "faults = { not_found = 1.0 }");
    classified(
        &world,
        &[
            "--expect",
            "BleakAbortedError",
            "--advice",
            "gave up waiting for the device to respond",
            "--backoff",
            "4.0",
            "--min-s",
            "8.0",
            "--max-s",
            "19.9",
        ],
    );
}
