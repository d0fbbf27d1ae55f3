//! Failures: BlueZ's error names and texts arrive as `Failure`s the classifier understands.

use std::time::{Duration, Instant};

use bluefleet::backend::{FailureStage, Radio, WriteMode};
use bluefleet::classify::classify;
use bluefleet::ErrorKind::{self, Aborted, Generic, NotFound, OutOfSlots};
use bytes::Bytes;

use crate::bed::MockBluez;
use crate::{connected, radio, request, thermometer_bed, THERMO};

const ADAPTER: &str = "/org/bluez/hci0";

#[tokio::test]
async fn injected_connect_errors_arrive_classified() {
    let (_bed, mock, thermo, radio) = thermometer_bed().await;
    let cases: [(&str, &str, ErrorKind); 8] = [
        (
            "org.bluez.Error.Failed",
            "le-connection-abort-by-local",
            Aborted,
        ),
        ("org.bluez.Error.Failed", "br-connection-canceled", Aborted),
        (
            "org.bluez.Error.InProgress",
            "Operation already in progress",
            Aborted,
        ),
        ("org.bluez.Error.NotReady", "Resource Not Ready", Aborted),
        (
            "org.bluez.Error.Failed",
            "le-connection-concurrent-connection-limit",
            OutOfSlots,
        ),
        ("org.bluez.Error.Failed", "le-connection-timeout", NotFound),
        ("org.bluez.Error.Failed", "Input/output error", Generic),
        (
            "org.freedesktop.DBus.Error.NoReply",
            "Did not receive a reply.",
            Generic,
        ),
    ];
    for (name, text, kind) in cases {
        mock.inject_error(&thermo.device, "Connect", name, text, false)
            .await
            .unwrap();
        let failure = radio
            .connect(request(THERMO, Duration::from_secs(5)))
            .await
            .expect_err(name);
        assert_eq!(failure.name.as_deref(), Some(name));
        assert_eq!(failure.text, text);
        assert_eq!(failure.stage, FailureStage::Connect);
        assert!(failure.elapsed.is_some());
        assert_eq!(classify(&failure).kind, kind, "{failure}");
    }
    // Nothing left half-open: the next attempt connects.
    let connection = radio
        .connect(request(THERMO, Duration::from_secs(5)))
        .await
        .unwrap();
    connection.link.disconnect().await.unwrap();
    assert_eq!(mock.get_max_connects_in_flight(ADAPTER).await.unwrap(), 1);
}

#[tokio::test]
async fn a_device_bluez_does_not_know_is_not_found() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let radio = radio(&bed, "hci0").await;
    let failure = radio
        .connect(request("D4:00:00:00:00:09", Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(
        failure.name.as_deref(),
        Some("org.freedesktop.DBus.Error.UnknownObject"),
        "{failure}"
    );
    assert_eq!(classify(&failure).kind, NotFound);
}

#[tokio::test]
async fn a_slow_connect_times_out_cleanly() {
    let (_bed, mock, thermo, radio) = thermometer_bed().await;
    mock.set_connect_delay(&thermo.device, 30_000)
        .await
        .unwrap();
    let deadline = Duration::from_millis(300);
    let started = Instant::now();
    let failure = radio.connect(request(THERMO, deadline)).await.unwrap_err();
    let took = started.elapsed();
    assert!(failure.timed_out, "{failure}");
    assert_eq!(failure.elapsed, Some(deadline));
    assert_eq!(failure.stage, FailureStage::Connect);
    assert_eq!(classify(&failure).kind, NotFound);
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(3),
        "took {took:?}"
    );
    // The pending Connect was cancelled before `connect` returned: nothing in flight.
    assert_eq!(mock.get_connects_in_flight(ADAPTER).await.unwrap(), 0);
    mock.set_connect_delay(&thermo.device, 0).await.unwrap();
    radio
        .connect(request(THERMO, Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(mock.get_max_connects_in_flight(ADAPTER).await.unwrap(), 1);
}

#[tokio::test]
async fn gatt_errors_keep_bluez_words_and_the_att_status() {
    let (_bed, mock, thermo, connection) = connected().await;
    let link = &connection.link;

    let not_permitted = "org.bluez.Error.NotPermitted";
    mock.inject_error(
        &thermo.temperature,
        "ReadValue",
        not_permitted,
        "Read not permitted",
        false,
    )
    .await
    .unwrap();
    let failure = link.read(0x11).await.unwrap_err();
    assert_eq!(
        (failure.stage, failure.att_status),
        (FailureStage::Gatt, Some(0x02))
    );
    assert_eq!(failure.name.as_deref(), Some(not_permitted));

    let failed = "org.bluez.Error.Failed";
    let unlikely = "Operation failed with ATT error: 0x0e";
    mock.inject_error(&thermo.temperature, "WriteValue", failed, unlikely, false)
        .await
        .unwrap();
    let failure = link
        .write(0x11, Bytes::from_static(&[1]), WriteMode::WithResponse)
        .await
        .unwrap_err();
    assert_eq!(failure.att_status, Some(0x0E));
    assert_eq!(failure.text, unlikely);

    let not_authorized = "org.bluez.Error.NotAuthorized";
    mock.inject_error(
        &thermo.temperature,
        "StartNotify",
        not_authorized,
        "Not Authorized",
        false,
    )
    .await
    .unwrap();
    let failure = link.set_notify(0x11, true).await.unwrap_err();
    assert_eq!(failure.att_status, Some(0x08));
    // Each fault was one-shot: the same operations now work.
    link.read(0x11).await.unwrap();
    link.set_notify(0x11, true).await.unwrap();
}
