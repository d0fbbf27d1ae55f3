//! The ESPHome backend against the fake proxy, through the `Radio` and `Link` traits.
//!
//! Each test starts its own fake on 127.0.0.1 (port 0). A real TCP peer in another process
//! forces real time here; every wait is bounded by a short timeout so a broken behaviour fails
//! the test instead of hanging it.
#![cfg(feature = "esphome")]
// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake;

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::esphome::EsphomeRadio;
use bluefleet::backend::{
    ConnectRequest, Connection, DisconnectCause, LinkEvent, Radio, RadioEvent, RadioKind,
    SlotReport, WriteMode,
};
use bluefleet::classify::classify;
use bluefleet::{Address, AddressKind, ErrorKind, GattTable};
use bytes::Bytes;
use fake::{FakeProxy, KEY, WRONG_KEY};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::json;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

fn sensor(n: u8) -> Address {
    Address::new([0xA4, 0xC1, 0x38, 0, 0, n])
}

fn request(address: Address, cached: Option<GattTable>) -> ConnectRequest {
    ConnectRequest {
        address,
        address_kind: AddressKind::Public,
        cached_services: cached.map(Arc::new),
        timeout: WAIT,
    }
}

/// The next event that `wanted` accepts, within `WAIT`.
async fn next_event<T>(
    events: &mut BoxStream<'static, T>,
    what: &str,
    wanted: impl Fn(&T) -> bool,
) -> T {
    timeout(WAIT, async {
        loop {
            let event = events
                .next()
                .await
                .unwrap_or_else(|| panic!("stream ended waiting for {what}"));
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn up(radio: &EsphomeRadio) -> BoxStream<'static, RadioEvent> {
    let mut events = radio.events();
    next_event(&mut events, "Up", |e| matches!(e, RadioEvent::Up)).await;
    events
}

async fn slot_report(events: &mut BoxStream<'static, RadioEvent>, free: usize) -> SlotReport {
    match next_event(
        events,
        "a slot report",
        |e| matches!(e, RadioEvent::SlotsReported(r) if r.free == free),
    )
    .await
    {
        RadioEvent::SlotsReported(report) => report,
        _ => unreachable!(),
    }
}

async fn notification(events: &mut BoxStream<'static, LinkEvent>, handle: u16) -> Bytes {
    match next_event(
        events,
        "a notification",
        |e| matches!(e, LinkEvent::Notification { handle: h, .. } if *h == handle),
    )
    .await
    {
        LinkEvent::Notification { value, .. } => value,
        _ => unreachable!(),
    }
}

async fn disconnected(events: &mut BoxStream<'static, LinkEvent>) -> DisconnectCause {
    let event = next_event(events, "Disconnected", |e| {
        matches!(e, LinkEvent::Disconnected { .. })
    })
    .await;
    let LinkEvent::Disconnected { cause, .. } = event else {
        unreachable!()
    };
    // `Disconnected` is final: the stream ends right after it.
    assert_eq!(timeout(WAIT, events.next()).await.unwrap(), None);
    cause
}

#[tokio::test]
async fn a_plaintext_proxy_comes_up_reports_slots_and_streams_adverts() {
    let fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    assert_eq!(radio.info().kind, RadioKind::EsphomeProxy);
    assert_eq!(radio.info().slot_limit, 3);
    let mut events = radio.events();
    assert!(
        matches!(events.next().await, Some(RadioEvent::Down { .. })),
        "streams start with the current state"
    );
    next_event(&mut events, "Up", |e| matches!(e, RadioEvent::Up)).await;
    let report = slot_report(&mut events, 3).await;
    assert_eq!((report.limit, report.allocated.len()), (3, 0));
    let event = next_event(&mut events, "adverts", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;
    let RadioEvent::Adverts(batch) = event else {
        unreachable!()
    };
    let advert = batch
        .iter()
        .find(|a| a.address == sensor(1))
        .expect("sensor 1 advertises");
    assert_eq!(advert.local_name(), Some("fake-sensor-1"));
    assert_eq!(advert.radio, radio.id());
    assert!(
        (-70..=-50).contains(&advert.rssi_dbm),
        "{}",
        advert.rssi_dbm
    );
    let beacon = batch
        .iter()
        .find(|a| a.address == Address::new([0xA4, 0xC1, 0x38, 0, 0, 0x0F]))
        .unwrap();
    assert_eq!(beacon.address_kind, AddressKind::Random);
    assert!(beacon.data.manufacturer_data.contains_key(&0x004C));
}

#[tokio::test]
async fn a_noise_proxy_works_with_its_key_and_a_wrong_key_is_a_clear_error() {
    let fake = FakeProxy::start(json!({ "noise_psk": KEY })).await;
    let radio = EsphomeRadio::new(fake.config().with_key(KEY).unwrap());
    let mut events = up(&radio).await;
    next_event(&mut events, "adverts", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;

    let wrong = EsphomeRadio::new(fake.config().with_key(WRONG_KEY).unwrap());
    let mut events = wrong.events();
    let event = next_event(
        &mut events,
        "Down with the reason",
        |e| matches!(e, RadioEvent::Down { reason } if reason.contains("encryption key")),
    )
    .await;
    assert!(
        format!("{event:?}").contains("invalid encryption key"),
        "{event:?}"
    );
    let plaintext = EsphomeRadio::new(fake.config());
    let mut events = plaintext.events();
    next_event(
        &mut events,
        "Down: needs a key",
        |e| matches!(e, RadioEvent::Down { reason } if reason.contains("requires encryption")),
    )
    .await;
    // The right-key radio is untouched by the others' failures.
    assert!(radio.connect(request(sensor(1), None)).await.is_ok());
}

#[tokio::test]
async fn a_noise_client_against_a_plaintext_proxy_is_told_to_remove_the_key() {
    let fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config().with_key(KEY).unwrap());
    let mut events = radio.events();
    next_event(
        &mut events,
        "Down: plaintext",
        |e| matches!(e, RadioEvent::Down { reason } if reason.contains("speaks plaintext")),
    )
    .await;
}

#[tokio::test]
async fn connect_discover_read_write_and_notify_through_the_proxy() {
    let fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let _events = up(&radio).await;
    let Connection { link, mut events } = radio.connect(request(sensor(1), None)).await.unwrap();
    assert_eq!((link.address(), link.mtu()), (sensor(1), 247));
    let table = link.services().await.unwrap();
    assert_eq!(table.services.len(), 4);
    let battery = table.characteristic_by_handle(0x12).unwrap();
    assert_eq!(battery.descriptors[0].handle, 0x13);
    assert_eq!(&link.read(0x03).await.unwrap()[..], b"fake-sensor-1");

    link.set_notify(0x22, true).await.unwrap();
    assert_eq!(
        &link.read_descriptor(0x23).await.unwrap()[..],
        &[1, 0],
        "the CCCD was written"
    );
    link.write(0x25, Bytes::from_static(b"hello"), WriteMode::WithResponse)
        .await
        .unwrap();
    assert_eq!(&notification(&mut events, 0x22).await[..], b"hello");
    link.write(
        0x25,
        Bytes::from_static(b"quiet"),
        WriteMode::WithoutResponse,
    )
    .await
    .unwrap();
    assert_eq!(&notification(&mut events, 0x22).await[..], b"quiet");

    link.set_notify(0x32, true).await.unwrap();
    assert_eq!(
        &link.read_descriptor(0x33).await.unwrap()[..],
        &[2, 0],
        "indicate-only gets 02 00"
    );
    let first = notification(&mut events, 0x32).await;
    let second = notification(&mut events, 0x32).await;
    assert_ne!(first, second, "the temperature keeps changing");

    link.disconnect().await.unwrap();
    assert_eq!(disconnected(&mut events).await, DisconnectCause::Requested);
}

#[tokio::test]
async fn the_fourth_device_on_a_three_slot_proxy_is_out_of_slots() {
    let fake = FakeProxy::start(json!({ "slots": 3 })).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut events = up(&radio).await;
    let mut links = Vec::new();
    for n in 1..=3 {
        links.push(radio.connect(request(sensor(n), None)).await.unwrap());
    }
    let report = slot_report(&mut events, 0).await;
    assert_eq!(report.limit, 3);
    let failure = radio.connect(request(sensor(4), None)).await.unwrap_err();
    assert_eq!(failure.code, Some(0), "{failure}");
    assert_eq!(classify(&failure).kind, ErrorKind::OutOfSlots, "{failure}");
    drop(links.pop());
    let report = slot_report(&mut events, 1).await;
    assert_eq!(
        report.allocated.len(),
        2,
        "a dropped link gives its slot back"
    );
    assert!(radio.connect(request(sensor(4), None)).await.is_ok());
}

#[tokio::test]
async fn a_dropped_link_ends_once_frees_its_slot_and_can_be_resubscribed() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut radio_events = up(&radio).await;
    let Connection { link, mut events } = radio.connect(request(sensor(1), None)).await.unwrap();
    link.set_notify(0x12, true).await.unwrap();
    notification(&mut events, 0x12).await;
    slot_report(&mut radio_events, 2).await;

    assert_eq!(fake.command("drop A4:C1:38:00:00:01 0x08").await, "OK");
    assert_eq!(disconnected(&mut events).await, DisconnectCause::LinkLost);
    slot_report(&mut radio_events, 3).await;
    let err = link.read(0x12).await.unwrap_err();
    assert!(err.text.contains("already ended"), "{err}");

    let Connection { link, mut events } = radio.connect(request(sensor(1), None)).await.unwrap();
    link.set_notify(0x12, true).await.unwrap();
    notification(&mut events, 0x12).await;
}

#[tokio::test]
async fn a_proxy_restart_ends_every_link_then_the_radio_comes_back_up() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut radio_events = up(&radio).await;
    let mut first = radio.connect(request(sensor(1), None)).await.unwrap();
    let mut second = radio.connect(request(sensor(2), None)).await.unwrap();
    slot_report(&mut radio_events, 1).await;

    assert_eq!(fake.command("close").await, "OK");
    assert_eq!(
        disconnected(&mut first.events).await,
        DisconnectCause::RadioDown
    );
    assert_eq!(
        disconnected(&mut second.events).await,
        DisconnectCause::RadioDown
    );
    next_event(&mut radio_events, "Down", |e| {
        matches!(e, RadioEvent::Down { .. })
    })
    .await;
    next_event(&mut radio_events, "Up again", |e| {
        matches!(e, RadioEvent::Up)
    })
    .await;
    let report = slot_report(&mut radio_events, 3).await;
    assert!(
        report.allocated.is_empty(),
        "the proxy freed every slot when the session ended"
    );
    assert!(first.link.read(0x03).await.is_err(), "old links stay ended");
    let again = radio.connect(request(sensor(1), None)).await.unwrap();
    assert_eq!(&again.link.read(0x03).await.unwrap()[..], b"fake-sensor-1");
}

#[tokio::test]
async fn slot_reports_always_match_the_proxys_own_accounting() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut events = up(&radio).await;
    slot_report(&mut events, 3).await;
    let a = radio.connect(request(sensor(1), None)).await.unwrap();
    let report = slot_report(&mut events, 2).await;
    assert_eq!(report.allocated, vec![sensor(1)]);
    let b = radio.connect(request(sensor(2), None)).await.unwrap();
    let report = slot_report(&mut events, 1).await;
    assert_eq!(report.allocated.len() + report.free, report.limit);
    a.link.disconnect().await.unwrap();
    let report = slot_report(&mut events, 2).await;
    assert_eq!(
        report.allocated,
        vec![sensor(2)],
        "one disconnect, counted once"
    );

    assert_eq!(fake.command("slots 5").await, "OK");
    let report = next_event(
        &mut events,
        "limit 5",
        |e| matches!(e, RadioEvent::SlotsReported(r) if r.limit == 5),
    )
    .await;
    assert_eq!(
        report,
        RadioEvent::SlotsReported(SlotReport {
            free: 4,
            limit: 5,
            allocated: vec![sensor(2)]
        })
    );
    assert_eq!(radio.info().slot_limit, 5);
    drop(b);
}

#[tokio::test]
async fn a_cached_reconnect_skips_discovery_and_still_enables_notifications() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let _events = up(&radio).await;
    let first = radio.connect(request(sensor(1), None)).await.unwrap();
    let table = first.link.services().await.unwrap();
    first.link.disconnect().await.unwrap();

    let Connection { link, mut events } = radio
        .connect(request(sensor(1), Some(table.clone())))
        .await
        .unwrap();
    assert_eq!(link.services().await.unwrap(), table);
    link.set_notify(0x22, true).await.unwrap();
    link.write(0x25, Bytes::from_static(b"cached"), WriteMode::WithResponse)
        .await
        .unwrap();
    assert_eq!(&notification(&mut events, 0x22).await[..], b"cached");
    assert_eq!(
        fake.count("BluetoothGATTGetServicesRequest").await,
        1,
        "only the first connection discovered"
    );
    assert_eq!(
        fake.count("BluetoothDeviceRequest/4").await,
        1,
        "the second used v3 with cache"
    );
    assert_eq!(fake.count("BluetoothDeviceRequest/5").await, 1);
}

#[tokio::test]
async fn esp_idf_errors_keep_their_names_and_classes() {
    let scenario = json!({ "devices": [
        { "address": "A4:C1:38:00:00:02", "address_type": 0, "name": "refuses", "connect_error": 62 },
        { "address": "A4:C1:38:00:00:05", "address_type": 0, "name": "grumpy", "gatt_errors": { "0x0012": 5 } },
    ]});
    let fake = FakeProxy::start(scenario).await;
    let radio = EsphomeRadio::new(fake.config());
    let _events = up(&radio).await;
    let failure = radio.connect(request(sensor(2), None)).await.unwrap_err();
    assert_eq!(
        failure.name.as_deref(),
        Some("ESP_GATT_CONN_FAIL_ESTABLISH")
    );
    assert_eq!(classify(&failure).kind, ErrorKind::Aborted);
    let grumpy = radio.connect(request(sensor(5), None)).await.unwrap();
    let failure = grumpy.link.read(0x12).await.unwrap_err();
    assert_eq!((failure.code, failure.att_status), (Some(5), Some(5)));
    assert_eq!(
        failure.name.as_deref(),
        Some("ESP_GATT_INSUF_AUTHENTICATION")
    );
}

#[tokio::test]
async fn hostile_bytes_close_only_that_proxys_connection() {
    let mut hostile = FakeProxy::start(json!({})).await;
    let healthy = FakeProxy::start(json!({})).await;
    let bad_radio = EsphomeRadio::new(hostile.config());
    let good_radio = EsphomeRadio::new(healthy.config());
    let mut bad_events = up(&bad_radio).await;
    let mut good_events = up(&good_radio).await;
    let good_link = good_radio.connect(request(sensor(1), None)).await.unwrap();

    for (bytes, words) in [
        ("02ff00", "preamble"),
        ("00808004", "limit"),
        ("00ffffffff01", "varint"),
        ("0003450a0501", "does not decode"),
    ] {
        assert_eq!(hostile.command(&format!("raw {bytes}")).await, "OK");
        let event = next_event(&mut bad_events, "Down", |e| {
            matches!(e, RadioEvent::Down { .. })
        })
        .await;
        assert!(format!("{event:?}").contains(words), "{bytes}: {event:?}");
        next_event(&mut bad_events, "Up after reconnecting", |e| {
            matches!(e, RadioEvent::Up)
        })
        .await;
    }
    assert_eq!(hostile.command("raw 000d4508 close").await, "OK");
    let event = next_event(&mut bad_events, "Down", |e| {
        matches!(e, RadioEvent::Down { .. })
    })
    .await;
    assert!(format!("{event:?}").contains("truncated"), "{event:?}");

    next_event(&mut good_events, "adverts", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;
    assert_eq!(
        &good_link.link.read(0x03).await.unwrap()[..],
        b"fake-sensor-1"
    );
    let mut quiet =
        good_events.filter(|e| futures::future::ready(matches!(e, RadioEvent::Down { .. })));
    assert!(
        timeout(Duration::from_millis(200), quiet.next())
            .await
            .is_err(),
        "the healthy proxy never went down"
    );
}
