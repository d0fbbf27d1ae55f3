//! Table-driven tests: every backend text from the research notes, with the class it must get.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::backend::{FailureSource, FailureStage};
use crate::error::ErrorKind::{self, Aborted, Generic, NotFound, OutOfSlots};

fn bluez(name: &str, text: &str) -> Failure {
    Failure::dbus(FailureStage::Connect, name, text)
}

fn text(source: FailureSource, text: &str) -> Failure {
    Failure::new(source, FailureStage::Connect, text)
}

fn timeout(source: FailureSource, message: &str) -> Failure {
    Failure {
        timed_out: true,
        ..text(source, message)
    }
}

fn esp(code: i64, name: &str) -> Failure {
    Failure::esp(
        FailureStage::Connect,
        code,
        name,
        format!("Error {name} while connecting"),
    )
}

#[test]
fn every_researched_text_gets_its_class() {
    use FailureSource::{Bluez, Btleplug, Esphome};
    let cases: Vec<(Failure, ErrorKind)> = vec![
        (bluez("org.bluez.Error.Failed", "le-connection-abort-by-local"), Aborted),
        (bluez("org.bluez.Error.Failed", "br-connection-canceled"), Aborted),
        (text(Bluez, "Device with address A4:CF:12:34:56:78 was not found. It may have been removed from BlueZ when scanning stopped."), NotFound),
        (bluez("org.freedesktop.DBus.Error.UnknownObject", "Method \"Connect\" with signature \"\" on interface \"org.bluez.Device1\" doesn't exist"), NotFound),
        (text(Btleplug, "[org.freedesktop.DBus.Error.UnknownObject] Method \"Connect\" doesn't exist"), NotFound),
        (bluez("org.bluez.Error.InProgress", "Operation already in progress"), Aborted),
        (bluez("org.bluez.Error.Failed", "le-connection-abort-by-remote"), Aborted),
        (bluez("org.bluez.Error.Failed", "le-connection-timeout"), NotFound),
        (bluez("org.bluez.Error.Failed", "le-connection-busy"), Aborted),
        (bluez("org.bluez.Error.Failed", "le-connection-concurrent-connection-limit"), OutOfSlots),
        (bluez("org.bluez.Error.Failed", "Software caused connection abort"), Aborted),
        (bluez("org.freedesktop.DBus.Error.NoReply", "Did not receive a reply."), Generic),
        (bluez("org.bluez.Error.NotReady", "Resource Not Ready"), Aborted),
        (bluez("org.bluez.Error.DoesNotExist", "Does Not Exist"), NotFound),
        (text(Esphome, "Error ESP_GATT_CONN_CONN_CANCEL while connecting: Connection cancelled"), OutOfSlots),
        (text(Esphome, "Error ESP_GATT_CONN_FAIL_ESTABLISH while connecting: Connection failed to establish"), Aborted),
        (text(Esphome, "Error ESP_GATT_CONN_TIMEOUT while connecting: Connection failed due to timeout"), Aborted),
        (text(Esphome, "Error ESP_GATT_ERROR while connecting: Connection failed due to GATT operation error"), Aborted),
        (text(Esphome, "Error ESP_GATT_CONN_TERMINATE_PEER_USER while connecting: Connection terminated by peer user"), Aborted),
        (text(Esphome, "Error ESP_GATT_CONN_TERMINATE_LOCAL_HOST while connecting: Connection terminated by local host"), Aborted),
        (text(Esphome, "Error ESP_GATT_CONN_LMP_TIMEOUT while connecting: Connection failed due to LMP response timeout"), Generic),
        (text(Esphome, "Error ESP_GATT_CONN_L2C_FAILURE while connecting: Connection failed due to L2CAP failure"), Generic),
        (text(Esphome, "Error ESP_GATT_CONN_UNKNOWN while connecting: Connection failed for unknown reason"), Generic),
        (text(Esphome, "Disconnected"), Generic),
        (timeout(Esphome, "proxy-1 [A4:CF:12:34:56:78]: No free BLE connection slot became available (limit=3, in use=3)"), OutOfSlots),
        (timeout(Esphome, "proxy-1 [A4:CF:12:34:56:78]: Proxy became unavailable while waiting for a free BLE connection slot"), OutOfSlots),
        (timeout(Esphome, "Timeout waiting for connect response while connecting to A4:CF:12:34:56:78 after 30s"), NotFound),
        (timeout(Bluez, ""), NotFound),
        (text(Esphome, "No backend with an available connection slot that can reach address A4:CF:12:34:56:78 was found"), OutOfSlots),
        (text(Esphome, "No backend with an available connection slot that can reach address A4:CF:12:34:56:78"), OutOfSlots),
        (text(Esphome, "out of connection slots"), OutOfSlots),
        (text(Bluez, "connection slot not found"), NotFound),
        (text(Bluez, "Connection Rejected due to Limited Resources (0x0D)"), OutOfSlots),
        (text(Bluez, "something nobody has seen before"), Generic),
        (text(Bluez, ""), Generic),
        (esp(0x100, "ESP_GATT_CONN_CONN_CANCEL"), OutOfSlots),
        (esp(0x3E, "ESP_GATT_CONN_FAIL_ESTABLISH"), Aborted),
        (esp(0x08, "ESP_GATT_CONN_TIMEOUT"), Aborted),
        (esp(0x85, "ESP_GATT_ERROR"), Aborted),
        (esp(0x13, "ESP_GATT_CONN_TERMINATE_PEER_USER"), Aborted),
        (esp(0x16, "ESP_GATT_CONN_TERMINATE_LOCAL_HOST"), Aborted),
        (esp(0x22, "ESP_GATT_CONN_LMP_TIMEOUT"), Generic),
        (Failure { code: Some(0), ..text(Esphome, "proxy answered connected=false") }, OutOfSlots),
        (Failure { code: Some(0x3E), ..text(Esphome, "reason code only") }, Aborted),
        (Failure { code: Some(0x100), ..text(Esphome, "reason code only") }, OutOfSlots),
    ];
    for (failure, expected) in cases {
        let got = classify(&failure);
        assert_eq!(got.kind, expected, "{failure}");
        assert!(!got.advice.is_empty());
    }
}

#[test]
fn matching_ignores_case() {
    let upper = text(FailureSource::Bluez, "LE-CONNECTION-ABORT-BY-LOCAL");
    assert_eq!(classify(&upper).kind, Aborted);
    let mixed = text(FailureSource::Esphome, "esp_gatt_conn_conn_cancel");
    assert_eq!(classify(&mixed).kind, OutOfSlots);
}

#[test]
fn conn_cancel_after_eight_seconds_means_the_device_gave_up() {
    let fast = esp(0x100, "ESP_GATT_CONN_CONN_CANCEL").with_elapsed(Duration::from_millis(300));
    assert_eq!(classify(&fast).kind, OutOfSlots);
    let slow = esp(0x100, "ESP_GATT_CONN_CONN_CANCEL").with_elapsed(Duration::from_secs(8));
    let verdict = classify(&slow);
    assert_eq!(verdict.kind, Aborted);
    assert!(verdict.advice.contains("gave up"));
    let code_only = Failure {
        code: Some(0x100),
        ..text(FailureSource::Esphome, "x")
    }
    .with_elapsed(Duration::from_secs(12));
    assert_eq!(classify(&code_only).kind, Aborted);
}

#[test]
fn codes_only_count_for_their_source_and_stage() {
    // An ATT status 0x08 (insufficient authorization) in a GATT op is not a connect timeout.
    let gatt = Failure::esp(
        FailureStage::Gatt,
        0x08,
        "ESP_GATT_INSUF_AUTHORIZATION",
        "Insufficient authorization",
    );
    assert_eq!(classify(&gatt).kind, Generic);
    let bluez_code = Failure {
        code: Some(0x3E),
        ..text(FailureSource::Bluez, "x")
    };
    assert_eq!(classify(&bluez_code).kind, Generic);
}

#[test]
fn matched_rules_name_their_source() {
    let verdict = classify(&bluez(
        "org.bluez.Error.Failed",
        "le-connection-abort-by-local",
    ));
    assert!(verdict.provenance.is_some_and(|p| p.contains("brc")));
    assert_eq!(
        classify(&text(FailureSource::Bluez, "zzz")).provenance,
        None
    );
}

proptest! {
    #[test]
    fn arbitrary_failures_never_panic(
        name in proptest::option::of(".{0,40}"),
        body in ".{0,80}",
        code in proptest::option::of(any::<i64>()),
        elapsed_ms in proptest::option::of(0u64..100_000),
        timed_out in any::<bool>(),
    ) {
        let failure = Failure {
            name,
            code,
            elapsed: elapsed_ms.map(Duration::from_millis),
            timed_out,
            ..text(FailureSource::Esphome, &body)
        };
        let _ = classify(&failure);
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let failure = text(FailureSource::Bluez, &String::from_utf8_lossy(&bytes));
        let _ = classify(&failure);
    }
}
