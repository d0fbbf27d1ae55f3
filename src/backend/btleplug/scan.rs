//! The radio event stream of a btleplug adapter: state, then advertisements, in batches.
//!
//! A task on the backend's runtime watches the adapter's `CentralEvent`s and keeps a scan
//! running while the stream is held. The first event says whether the adapter is powered
//! (`Up`/`Down`), later power changes follow. Every advertisement-bearing event (discovered,
//! updated, RSSI, manufacturer or service data, services) becomes one [`Advertisement`] from
//! the peripheral's merged properties, and the peripheral's id is remembered so `connect` can
//! find it by address. Whatever has piled up when the adapter actor reads is delivered as one
//! `Adverts` batch ([`coalesce`]), so a busy radio costs one message per read, not per advert.
//! Dropping the stream stops the task, and the scan once no other stream of the radio needs it
//! ([`ScanUsers`]: BlueZ counts discovery per D-Bus client, so an old stream stopping after a
//! new one started would otherwise end the new one's scan).

use std::hash::Hash;
use std::sync::Arc;

use btleplug::api::{Central, CentralEvent, CentralState, Peripheral as _, ScanFilter};
use btleplug::platform::{Adapter, PeripheralId};
use dashmap::DashMap;
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::advert::advertisement;
use super::driver::Driver;
use crate::backend::{RadioEvent, RadioEventSender};
use crate::model::{Address, RadioId};

/// At most this many queued events are merged into one read.
const MAX_BATCH: usize = 64;

/// Which btleplug peripheral answers to which address, filled by scanning.
pub(crate) type KnownPeripherals = Arc<DashMap<Address, PeripheralId>>;

/// Addresses remembered per radio before the map starts over. Phones rotate random addresses
/// every few minutes, so an unbounded map would grow for as long as the hub runs; a miss only
/// costs `connect` one listing of the adapter's peripherals.
const KNOWN_LIMIT: usize = 4096;

/// How many event streams of one radio are scanning; starting and stopping the platform's scan
/// happen under this lock, on the first user's arrival and the last one's departure.
pub(crate) type ScanUsers = Arc<Mutex<usize>>;

/// Starts scanning on `adapter` and returns its event stream.
pub(crate) fn radio_events(
    driver: &Driver,
    adapter: Adapter,
    radio: RadioId,
    known: KnownPeripherals,
    users: ScanUsers,
) -> BoxStream<'static, RadioEvent> {
    // Bounded with the other backends' policy: a slow reader loses the oldest adverts (said
    // with `AdvertsDropped`, counted per radio), never an up/down; the scan task never waits,
    // so btleplug's own event broadcast does not lag behind it.
    let (sender, receiver) = crate::backend::radio_events();
    driver.spawn(async move {
        start_scanning(&adapter, &radio, &users).await;
        watch(&adapter, &radio, &known, sender).await;
        stop_scanning(&adapter, &radio, &users).await;
    });
    receiver
        .ready_chunks(MAX_BATCH)
        .flat_map(|chunk| stream::iter(coalesce(chunk)))
        .boxed()
}

async fn start_scanning(adapter: &Adapter, radio: &RadioId, users: &ScanUsers) {
    let mut count = users.lock().await;
    if *count == 0 {
        if let Err(error) = adapter.start_scan(ScanFilter::default()).await {
            tracing::warn!(%radio, %error, "btleplug could not start a scan; listening anyway");
        }
    }
    *count += 1;
}

async fn stop_scanning(adapter: &Adapter, radio: &RadioId, users: &ScanUsers) {
    let mut count = users.lock().await;
    *count = count.saturating_sub(1);
    if *count == 0 {
        if let Err(error) = adapter.stop_scan().await {
            tracing::debug!(%radio, %error, "btleplug could not stop its scan");
        }
    }
}

/// Runs one stream until its reader goes or btleplug's stream ends.
async fn watch(
    adapter: &Adapter,
    radio: &RadioId,
    known: &KnownPeripherals,
    sender: RadioEventSender,
) {
    let first = match adapter.adapter_state().await {
        Ok(CentralState::PoweredOn) => RadioEvent::Up,
        Ok(state) => RadioEvent::Down {
            reason: format!("adapter state is {state:?}"),
        },
        Err(error) => RadioEvent::Down {
            reason: format!("cannot read the adapter state: {error}"),
        },
    };
    if !sender.send(first) {
        return;
    }
    let mut events = match adapter.events().await {
        Ok(events) => events,
        Err(error) => {
            let reason = format!("cannot watch the adapter: {error}");
            sender.send(RadioEvent::Down { reason });
            return;
        }
    };
    loop {
        let event = tokio::select! {
            _ = sender.closed() => break,
            event = events.next() => event,
        };
        let Some(event) = event else {
            let reason = "btleplug's adapter event stream ended".to_string();
            sender.send(RadioEvent::Down { reason });
            break;
        };
        if let Some(radio_event) = translate(adapter, radio, known, event).await {
            if !sender.send(radio_event) {
                break;
            }
        }
    }
}

/// One btleplug event as a radio event, when it is one.
async fn translate(
    adapter: &Adapter,
    radio: &RadioId,
    known: &KnownPeripherals,
    event: CentralEvent,
) -> Option<RadioEvent> {
    let id = match event {
        CentralEvent::StateUpdate(CentralState::PoweredOn) => return Some(RadioEvent::Up),
        CentralEvent::StateUpdate(state) => {
            return Some(RadioEvent::Down {
                reason: format!("adapter state is {state:?}"),
            })
        }
        CentralEvent::DeviceDiscovered(id)
        | CentralEvent::DeviceUpdated(id)
        | CentralEvent::RssiUpdate { id, .. }
        | CentralEvent::ManufacturerDataAdvertisement { id, .. }
        | CentralEvent::ServiceDataAdvertisement { id, .. }
        | CentralEvent::ServicesAdvertisement { id, .. } => id,
        CentralEvent::DeviceConnected(_)
        | CentralEvent::DeviceDisconnected(_)
        | CentralEvent::DeviceServicesModified(_) => return None,
    };
    let peripheral = adapter.peripheral(&id).await.ok()?;
    let properties = peripheral.properties().await.ok()??;
    let advert = advertisement(radio, &id, properties, Instant::now())?;
    remember(known, advert.address, id, KNOWN_LIMIT);
    Some(RadioEvent::Adverts(vec![advert]))
}

/// Adds `key` to a map that starts over when a new key would take it past `limit`.
fn remember<K: Eq + Hash, V>(map: &DashMap<K, V>, key: K, value: V, limit: usize) {
    if map.len() >= limit && !map.contains_key(&key) {
        map.clear();
    }
    map.insert(key, value);
}

/// Merges consecutive `Adverts` into one batch, keeping every event's order.
fn coalesce(events: Vec<RadioEvent>) -> Vec<RadioEvent> {
    let mut merged: Vec<RadioEvent> = Vec::with_capacity(events.len());
    for event in events {
        match (merged.last_mut(), event) {
            (Some(RadioEvent::Adverts(batch)), RadioEvent::Adverts(more)) => batch.extend(more),
            (_, event) => merged.push(event),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AdvertData, Advertisement};

    fn advert(last_byte: u64) -> RadioEvent {
        RadioEvent::Adverts(vec![Advertisement::from_data(
            Address::from_u64(last_byte),
            RadioId::new("hci0"),
            -60,
            Instant::now(),
            AdvertData::default(),
        )])
    }

    #[test]
    fn remembered_addresses_stay_bounded() {
        let map = DashMap::new();
        for key in 0..10u64 {
            remember(&map, key, (), 4);
            assert!(map.len() <= 4);
        }
        assert!(map.contains_key(&9));
        remember(&map, 9, (), 1);
        assert!(map.contains_key(&9), "a known key never empties the map");
    }

    #[tokio::test(start_paused = true)]
    async fn adverts_in_a_row_become_one_batch_and_state_changes_keep_their_place() {
        let down = RadioEvent::Down {
            reason: "off".into(),
        };
        let merged = coalesce(vec![
            RadioEvent::Up,
            advert(1),
            advert(2),
            down.clone(),
            advert(3),
        ]);
        assert_eq!(merged.len(), 4);
        assert_eq!(merged[0], RadioEvent::Up);
        let RadioEvent::Adverts(batch) = &merged[1] else {
            panic!("expected a batch, got {:?}", merged[1]);
        };
        let addresses: Vec<u64> = batch.iter().map(|a| a.address.to_u64()).collect();
        assert_eq!(addresses, vec![1, 2]);
        assert_eq!(merged[2], down);
        assert!(matches!(&merged[3], RadioEvent::Adverts(b) if b.len() == 1));
    }
}
