//! `bluefleet decode`: published sample adverts decode to their published values, unclaimed
//! adverts say so and succeed, and bad input or a wrong key is one line and a failure.
//! Payloads: bthome-ble `tests/test_parser_v2.py` (test_bthome_temperature_humidity,
//! test_bindkey_correct), ruuvi-sensor-protocols `dataformat_05.md` (valid data).

use super::{bluefleet, json};

/// `bindkey_correct`'s frame as AD structures: length 0x12, type 0x16, UUID d2fc, payload.
const SEALED: &str = "12 16 D2FC 41a47266c95f730011223378237214";
const SHELLY: &str = "54:48:E6:8F:80:A5";

#[test]
fn a_bthome_advert_prints_format_model_and_readings_with_units() {
    let run = bluefleet(&["decode", "020106 0A16D2FC4002CA0903BF13"]);
    assert!(run.ok, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "format  bthome");
    assert_eq!(lines[1], "model   BTHome sensor");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["temperature", "25.06", "°C"]
    );
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["humidity", "50.55", "%"]
    );
}

#[test]
fn json_output_has_format_model_and_typed_readings() {
    let value = json(&[
        "decode",
        "1BFF9904 0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F",
        "--json",
    ]);
    assert_eq!(value["format"], "ruuvi");
    assert_eq!(value["model"], "RuuviTag (RAWv2)");
    let readings = value["readings"].as_array().unwrap();
    let temperature = &readings[0];
    assert_eq!(temperature["kind"], "temperature");
    assert_eq!(temperature["unit"], "°C");
    assert!((temperature["value"].as_f64().unwrap() - 24.3).abs() < 1e-9);
    let pressure = readings.iter().find(|r| r["kind"] == "pressure").unwrap();
    assert_eq!(pressure["value"], 1000.44);
    assert_eq!(pressure["unit"], "hPa");
}

#[test]
fn an_encrypted_advert_needs_its_address_and_key() {
    let value = json(&[
        "decode",
        SEALED,
        "--address",
        SHELLY,
        "--key",
        "231d39c1d7cc1ab1aee224cd096db932",
        "--json",
    ]);
    assert_eq!(value["readings"][0]["value"], 25.06);
    assert_eq!(value["readings"][1]["value"], 50.55);
    let wrong = bluefleet(&[
        "decode",
        SEALED,
        "--address",
        SHELLY,
        "--key",
        "814aac74c4f17b6c1581e1ab87816b99",
    ]);
    assert!(!wrong.ok);
    assert!(
        wrong.stdout.is_empty(),
        "no value is printed: {}",
        wrong.stdout
    );
    assert_eq!(
        wrong.stderr.trim(),
        "error: bthome advert from 54:48:E6:8F:80:A5: decryption failed: wrong bindkey or tampered frame"
    );
    let keyless = bluefleet(&["decode", SEALED, "--address", SHELLY]);
    assert!(!keyless.ok);
    assert!(keyless.stderr.contains("no bindkey"), "{}", keyless.stderr);
}

#[test]
fn unclaimed_adverts_succeed_and_say_so() {
    let run = bluefleet(&["decode", "05FF341201020709 53656e736f72"]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "no decoder claims this advert (manufacturer 0x1234, name 'Sensor')"
    );
    let value = json(&["decode", "020106", "--json"]);
    assert_eq!(value["format"], serde_json::Value::Null);
    assert_eq!(value["readings"].as_array().unwrap().len(), 0);
}

#[test]
fn malformed_input_is_one_line_and_a_failure() {
    for (args, needle) in [
        (vec!["decode", "zz"], "'z' at digit 0 is not hex"),
        (vec!["decode", "0A1"], "odd count"),
        (
            vec!["decode", "0AFF"],
            "malformed advertising data at byte 0",
        ),
        (vec!["decode", ""], "decode needs the advert as hex"),
        (vec!["decode", "020106", "--address", "nope"], "--address"),
        (
            vec!["decode", "020106", "--key", "12"],
            "--key: a bindkey is 32 hex digits",
        ),
    ] {
        let run = bluefleet(&args);
        assert!(!run.ok, "{args:?} should fail");
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn scan_shows_the_readings_of_the_flats_advert_only_thermometers() {
    let run = bluefleet(&["scan", "--duration", "5"]);
    assert!(run.ok, "{}", run.stderr);
    let mut lines = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("A4:C1:38:8D:18:B2"));
    lines.next().expect("the BTHome thermometer is listed");
    let readings = lines.next().unwrap().trim();
    assert_eq!(readings, "readings (bthome): 87 %🔋 21.4 °C 48 %");
    let heard = json(&["scan", "--duration", "5", "--json"]);
    let pvvx = heard["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["address"] == "A4:C1:38:CF:01:56")
        .expect("the pvvx thermometer is listed");
    assert_eq!(pvvx["readings"]["format"], "pvvx");
    assert_eq!(pvvx["readings"]["readings"][0]["kind"], "temperature");
    assert_eq!(pvvx["readings"]["readings"][0]["value"], 19.25);
}

#[test]
fn run_prints_advert_readings_for_decode_auto_devices() {
    let lines = super::json_lines(&[
        "run",
        "--config",
        "examples/hub.toml",
        "--duration",
        "10s",
        "--json",
    ]);
    let atc: Vec<_> = lines
        .iter()
        .filter(|l| l["device"] == "ATC thermometer")
        .collect();
    assert_eq!(atc.len(), 1, "a steady sensor prints once: {atc:?}");
    assert_eq!(atc[0]["format"], "bthome");
    assert_eq!(atc[0]["readings"][1]["kind"], "temperature");
    assert_eq!(atc[0]["readings"][1]["value"], 21.4);
    assert_eq!(atc[0]["readings"][1]["unit"], "°C");
}
