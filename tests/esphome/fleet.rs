//! The ESPHome backend through the public `Fleet` API: the actors, slots, retries and
//! subscriptions on top of a real (fake) proxy over TCP.

use bluefleet::adverts::AdvertFilter;
use bluefleet::fleet::SubscriptionEvent;
use bluefleet::model::{parse_uuid, uuid_from_u16};
use bluefleet::{Device, Fleet, Subscription};

use super::*;

fn fleet_over(radios: Vec<EsphomeRadio>) -> Fleet {
    Fleet::builder()
        .radios(radios.into_iter().map(|r| Arc::new(r) as Arc<dyn Radio>))
        .connect_timeout(WAIT)
        .operation_timeout(WAIT)
        .build()
        .unwrap()
}

async fn device(fleet: &Fleet, n: u8) -> Device {
    let found = fleet
        .find_device(&AdvertFilter::new().address(sensor(n)), WAIT)
        .await
        .unwrap();
    assert_eq!(
        found.name.as_deref(),
        Some(format!("fake-sensor-{n}").as_str())
    );
    fleet.device(sensor(n)).await.unwrap()
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn next_value(subscription: &mut Subscription) -> (Vec<SubscriptionEvent>, Bytes) {
    let mut markers = Vec::new();
    loop {
        match timeout(WAIT, subscription.recv()).await.unwrap().unwrap() {
            SubscriptionEvent::Notification(value) => return (markers, value),
            other => markers.push(other),
        }
    }
}

#[tokio::test]
async fn a_fleet_connects_reads_writes_and_subscribes_through_a_proxy() {
    let fake = FakeProxy::start(json!({})).await;
    let fleet = fleet_over(vec![EsphomeRadio::new(fake.config())]);
    let device = device(&fleet, 1).await;
    let name = device.read(uuid_from_u16(0x2A00)).await.unwrap();
    assert_eq!(&name[..], b"fake-sensor-1");
    let rx = parse_uuid("6e400003-b5a3-f393-e0a9-e50e24dcca9e").unwrap();
    let tx = parse_uuid("6e400002-b5a3-f393-e0a9-e50e24dcca9e").unwrap();
    let mut echo = device.subscribe(rx).await.unwrap();
    // An intent: the echo is heard once the subscription says notify is on.
    assert_eq!(
        timeout(WAIT, echo.recv()).await.unwrap(),
        Some(SubscriptionEvent::Reconnected)
    );
    device
        .write(tx, &b"ping"[..], WriteMode::WithResponse)
        .await
        .unwrap();
    assert_eq!(&next_value(&mut echo).await.1[..], b"ping");
    let services = device.services().await.unwrap();
    assert_eq!(services.services.len(), 4);
    fleet.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_fleet_uses_noise_and_a_wrong_key_keeps_the_proxy_down_with_a_clear_error() {
    let fake = FakeProxy::start(json!({ "noise_psk": KEY })).await;
    let good = fleet_over(vec![EsphomeRadio::new(
        fake.config().with_key(KEY).unwrap(),
    )]);
    device(&good, 2).await;
    good.shutdown().await.unwrap();

    let wrong = fleet_over(vec![EsphomeRadio::new(
        fake.config().with_key(WRONG_KEY).unwrap(),
    )]);
    let device = wrong.device(sensor(2)).await.unwrap();
    let err = device
        .with_timeout(Duration::from_secs(2))
        .read(uuid_from_u16(0x2A00))
        .await
        .unwrap_err();
    assert!(matches!(err, bluefleet::Error::NoRadio { .. }), "{err}");
    let diagnostics = wrong.diagnostics().await.unwrap();
    assert!(
        !diagnostics.radios[0].up,
        "a proxy we cannot decrypt is not up"
    );
}

#[tokio::test]
async fn four_devices_on_a_three_slot_proxy_share_it_and_counts_match_the_proxy() {
    let fake = FakeProxy::start(json!({ "slots": 3 })).await;
    let fleet = fleet_over(vec![EsphomeRadio::new(fake.config())]);
    let mut devices = Vec::new();
    for n in 1..=4 {
        let d = device(&fleet, n).await;
        d.keep_connected(true).await.unwrap();
        devices.push(d);
    }
    eventually("three are connected", || {
        devices
            .iter()
            .filter(|d| d.status().state.is_connected())
            .count()
            == 3
    })
    .await;
    let usage = fleet.slot_usage();
    assert_eq!(usage[0].limit, 3);
    assert_eq!(usage[0].held_by.len(), 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        devices
            .iter()
            .filter(|d| d.status().state.is_connected())
            .count(),
        3,
        "never more than the proxy's slots"
    );
    // One lets go: the fourth gets the slot.
    let connected = devices
        .iter()
        .position(|d| d.status().state.is_connected())
        .unwrap();
    devices[connected].disconnect().await.unwrap();
    let waiting: Vec<_> = devices
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != connected)
        .map(|(_, d)| d.clone())
        .collect();
    eventually("the other three are connected", || {
        waiting.iter().all(|d| d.status().state.is_connected())
    })
    .await;
    assert_eq!(fleet.slot_usage()[0].held_by.len(), 3);
}

#[tokio::test]
async fn a_subscription_survives_a_link_drop_and_a_proxy_restart_and_reconnects_use_the_cache() {
    let mut fake = FakeProxy::start(json!({})).await;
    let fleet = fleet_over(vec![EsphomeRadio::new(fake.config())]);
    let device = device(&fleet, 1).await;
    let mut battery = device.subscribe(uuid_from_u16(0x2A19)).await.unwrap();
    next_value(&mut battery).await;
    assert_eq!(fake.count("BluetoothGATTGetServicesRequest").await, 1);

    assert_eq!(fake.command("drop A4:C1:38:00:00:01 0x08").await, "OK");
    let (markers, _) = next_value(&mut battery).await;
    assert!(
        matches!(
            markers.first(),
            Some(SubscriptionEvent::Disconnected { .. })
        ),
        "{markers:?}"
    );
    assert!(
        markers.contains(&SubscriptionEvent::Reconnected),
        "{markers:?}"
    );

    assert_eq!(fake.command("close").await, "OK");
    let (markers, _) = next_value(&mut battery).await;
    assert!(markers.iter().any(|m| matches!(m, SubscriptionEvent::Disconnected { reason } if reason.contains("radio down"))), "{markers:?}");
    assert!(
        markers.contains(&SubscriptionEvent::Reconnected),
        "{markers:?}"
    );
    assert_eq!(
        fake.count("BluetoothGATTGetServicesRequest").await,
        1,
        "reconnects used the cache"
    );
    assert_eq!(device.status().connections, 3);
}
