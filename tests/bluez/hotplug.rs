//! Adapters plugged in, removed and coming back.

use std::time::Duration;

use bluefleet::backend::bluez::{AdapterChange, BluezConfig, BluezRadio};
use bluefleet::backend::{DisconnectCause, LinkEvent, Radio, RadioEvent};
use futures::stream::BoxStream;

use crate::bed::{thermometer, within, MockBluez};
use crate::{radio, radios, request};

async fn up(events: &mut BoxStream<'static, RadioEvent>) {
    within(events, "Up", |e| (e == RadioEvent::Up).then_some(())).await;
}

async fn down(events: &mut BoxStream<'static, RadioEvent>) -> String {
    within(events, "Down", |e| match e {
        RadioEvent::Down { reason } => Some(reason),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn adapters_plugged_in_and_removed_are_reported() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    assert_eq!(radios(&bed, &BluezConfig::default()).await.len(), 1);
    let mut changes = BluezRadio::watch_adapters(bed.connection().await, BluezConfig::default())
        .await
        .unwrap();

    mock.add_adapter("hci1", "dongle").await.unwrap();
    let added = within(&mut changes, "hci1 added", |change| match change {
        AdapterChange::Added(radio) => Some(radio),
        AdapterChange::Removed(_) => None,
    })
    .await;
    assert_eq!(added.id().as_str(), "hci1");
    assert_eq!(added.info().slot_limit, 5);
    let mut events = added.events();
    up(&mut events).await;

    mock.remove_adapter_with_devices("hci1").await.unwrap();
    let removed = within(&mut changes, "hci1 removed", |change| match change {
        AdapterChange::Removed(id) => Some(id),
        AdapterChange::Added(_) => None,
    })
    .await;
    assert_eq!(removed.as_str(), "hci1");
    assert_eq!(down(&mut events).await, "adapter removed");
}

#[tokio::test]
async fn an_adapter_that_comes_back_is_up_again() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let radio = radio(&bed, "hci0").await;
    let mut events = radio.events();
    up(&mut events).await;
    mock.remove_adapter_with_devices("hci0").await.unwrap();
    down(&mut events).await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    up(&mut events).await;
}

#[tokio::test]
async fn removing_the_adapter_ends_its_links_with_radio_down() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    thermometer(&mock, "hci0", "D4:00:00:00:00:01").await;
    let radio = radio(&bed, "hci0").await;
    let mut events = radio.events();
    up(&mut events).await;
    let mut connection = radio
        .connect(request("D4:00:00:00:00:01", Duration::from_secs(5)))
        .await
        .unwrap();
    mock.remove_adapter_with_devices("hci0").await.unwrap();
    let cause = within(
        &mut connection.events,
        "Disconnected",
        |event| match event {
            LinkEvent::Disconnected { cause, .. } => Some(cause),
            _ => None,
        },
    )
    .await;
    assert_eq!(cause, DisconnectCause::RadioDown);
    assert_eq!(down(&mut events).await, "adapter removed");
}

#[tokio::test]
async fn a_radio_whose_adapter_is_gone_starts_with_down() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let radio = radio(&bed, "hci0").await;
    mock.remove_adapter_with_devices("hci0").await.unwrap();
    let mut events = radio.events();
    let first = within(&mut events, "the first event", Some).await;
    assert_eq!(
        first,
        RadioEvent::Down {
            reason: "adapter not present".into()
        }
    );
}
