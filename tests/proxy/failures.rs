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

/// What failures.py must see: the client's exception, words of its advice, its backoff, and
/// optionally the window (seconds) the answer must arrive in.
struct Expected {
    error: &'static str,
    advice: &'static str,
    backoff_s: f64,
    answered_within_s: (Option<f64>, Option<f64>),
}

/// Runs the classification against a proxy over a one-radio world whose radio (`kind`) fails
/// every connect with `fault`, and checks the client's reading.
fn classified(kind: &str, fault: &str, expected: Expected) {
    let world = world(kind, &format!("faults = {{ {fault} = 1.0 }}"));
    let path = world.path().to_str().unwrap();
    let bed = proxy(&["--backend", "sim", "--world", path], 1);
    let mut args = vec![
        "--expect".to_string(),
        expected.error.to_string(),
        "--advice".to_string(),
        expected.advice.to_string(),
        "--backoff".to_string(),
        format!("{:.1}", expected.backoff_s),
    ];
    let (min_s, max_s) = expected.answered_within_s;
    for (flag, bound) in [("--min-s", min_s), ("--max-s", max_s)] {
        if let Some(bound) = bound {
            args.extend([flag.to_string(), format!("{bound:.1}")]);
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_script("failures.py", None, &bed.ports, &args);
}

#[test]
fn aborted_is_aborted_with_a_half_second_backoff() {
    classified(
        "esphome-proxy",
        "aborted",
        Expected {
            error: "BleakAbortedError",
            advice: "ESP_GATT_CONN_FAIL_ESTABLISH",
            backoff_s: 0.5,
            answered_within_s: (None, None),
        },
    );
}

#[test]
fn generic_is_a_plain_connection_error() {
    classified(
        "esphome-proxy",
        "generic",
        Expected {
            error: "BleakConnectionError",
            advice: "Internal error",
            backoff_s: 0.1,
            answered_within_s: (None, None),
        },
    );
}

#[test]
fn a_quick_not_found_still_reads_as_the_device_not_answering() {
    // A local controller that dropped the device refuses in 20 ms; answered that fast, the
    // client would blame its controller's firmware.
    classified(
        "local-controller",
        "not_found",
        Expected {
            error: "BleakAbortedError",
            advice: "gave up waiting for the device to respond",
            backoff_s: 4.0,
            answered_within_s: (Some(8.0), None),
        },
    );
}

#[test]
fn a_connect_the_radio_keeps_trying_is_answered_within_the_clients_budget() {
    // The radio tries 20 s (its default), as long as bleak-retry-connector waits: bluefleet
    // answers at its own 17 s budget, in words, before the client gives up.
    classified(
        "esphome-proxy",
        "not_found",
        Expected {
            error: "BleakAbortedError",
            advice: "gave up waiting for the device to respond",
            backoff_s: 4.0,
            answered_within_s: (Some(8.0), Some(19.9)),
        },
    );
}
