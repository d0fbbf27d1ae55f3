//! Adapters plugged in, removed and coming back.

use std::time::Duration;

use bluefleet::backend::bluez::{AdapterChange, BluezConfig, BluezRadio};
use bluefleet::backend::{DisconnectCause, LinkEvent, Radio, RadioEvent};
use bluefleet::fleet::{block_on_real_time, DeviceState, Diagnostics};
use bluefleet::model::{Address, RadioId};
use futures::stream::BoxStream;

use crate::bed::{thermometer, within, MockBluez, PATIENCE};
use crate::fleet::fleet_over;
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

/// Polls `check` every 50 ms until it gives a value, within [`PATIENCE`].
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let poll = async {
        loop {
            if let Some(found) = check().await {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, poll)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn listed(diagnostics: &Diagnostics, radio: &RadioId) -> bool {
    diagnostics.radios.iter().any(|r| &r.radio == radio)
}

#[test]
fn a_fleet_following_adapters_removes_an_unplugged_one_and_adds_it_back() {
    block_on_real_time(async {
        let bed = MockBluez::start().await;
        let mock = bed.control().await;
        mock.add_adapter("hci0", "hub").await.unwrap();
        mock.add_adapter("hci1", "dongle").await.unwrap();
        thermometer(&mock, "hci0", "D4:00:00:00:00:01").await;
        thermometer(&mock, "hci1", "D4:00:00:00:00:01").await;
        let fleet = fleet_over(&bed).await;
        let changes = BluezRadio::watch_adapters(bed.connection().await, BluezConfig::default())
            .await
            .unwrap();
        fleet.follow_bluez_adapters(changes).await.unwrap();
        let device = fleet
            .device(Address::parse("D4:00:00:00:00:01").unwrap())
            .await
            .unwrap();
        device.keep_connected(true).await.unwrap();
        let first = eventually("the first connection", || async {
            match device.status().state {
                DeviceState::Connected { radio } => Some(radio),
                _ => None,
            }
        })
        .await;
        let other = RadioId::new(if first.as_str() == "hci0" {
            "hci1"
        } else {
            "hci0"
        });

        mock.remove_adapter_with_devices(first.as_str())
            .await
            .unwrap();
        eventually("the unplugged adapter removed from the fleet", || async {
            let diagnostics = fleet.diagnostics().await.unwrap();
            (!listed(&diagnostics, &first)).then_some(())
        })
        .await;
        eventually("a reconnection through the other adapter", || async {
            (device.status().state
                == DeviceState::Connected {
                    radio: other.clone(),
                })
            .then_some(())
        })
        .await;
        // The ledger keeps a removed radio's row, down, until its leases drain: none is held.
        let usage = fleet.slot_usage();
        let gone = usage.iter().find(|usage| usage.radio == first);
        assert!(
            gone.is_none_or(|usage| !usage.up && usage.held_by.is_empty()),
            "the removed radio holds no lease: {gone:?}"
        );

        mock.add_adapter(first.as_str(), "back").await.unwrap();
        eventually("the adapter added back, up", || async {
            let diagnostics = fleet.diagnostics().await.unwrap();
            diagnostics
                .radios
                .iter()
                .any(|r| r.radio == first && r.up)
                .then_some(())
        })
        .await;
        fleet.shutdown().await.unwrap();
    });
}
