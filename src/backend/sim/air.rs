//! The world's clockwork: devices advertising, proxies flushing advert batches, radios going
//! down and up on schedule, devices changing their GATT tables on schedule.
//!
//! Owns the background tasks [`spawn`] starts for a simulation. Each device advertises every
//! `advert_interval` plus a random 0–10 ms `advDelay`; each radio that is up, not blinded by a
//! connection attempt (proxies stop scanning while connecting) and above the hearing
//! threshold for that device's noisy RSSI hears it. Controllers pass adverts on one by one;
//! proxies collect them and send a batch when it is full or when its timer fires.
//!
//! Determinism: a device's task draws its delays and one RSSI sample per radio per advert from
//! its own stream, whether or not anyone hears it, so a radio going down changes no later draw.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};

use super::rf;
use super::state::{domain, stream, Shared};
use super::stats::Traced;
use crate::backend::{RadioEvent, RadioKind};
use crate::model::Advertisement;

/// The random advDelay the spec adds to every advertising event.
const MAX_ADV_DELAY: Duration = Duration::from_millis(10);

/// Starts every background task of the world.
pub(crate) fn spawn(shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (device, spec) in shared.world.devices.iter().enumerate() {
        tasks.push(tokio::spawn(advertise(shared.clone(), device)));
        if !spec.services_changes.is_empty() {
            tasks.push(tokio::spawn(services_changes(shared.clone(), device)));
        }
    }
    for (radio, spec) in shared.world.radios.iter().enumerate() {
        if let Some(batch) = spec.advert_batch {
            tasks.push(tokio::spawn(flush_batches(
                shared.clone(),
                radio,
                batch.every,
            )));
        }
        if !spec.outages.is_empty() {
            tasks.push(tokio::spawn(outages(shared.clone(), radio)));
        }
    }
    tasks
}

async fn advertise(shared: Arc<Shared>, device: usize) {
    let Some(spec) = shared.world.devices.get(device) else {
        return;
    };
    let mut rng = stream(shared.seed, domain::ADVERTS, device as u64);
    let raw = Bytes::from(spec.advert.to_bytes());
    let interval = spec.advert_interval;
    // Devices were switched on at different moments: start at a random phase.
    sleep(rng.gen_range(Duration::ZERO..interval)).await;
    loop {
        advertising_event(&shared, device, &raw, &mut rng);
        sleep(interval + rng.gen_range(Duration::ZERO..=MAX_ADV_DELAY)).await;
    }
}

/// One advertising event: every radio draws its RSSI sample; those that can hear it do.
fn advertising_event(shared: &Shared, device: usize, raw: &Bytes, rng: &mut ChaCha8Rng) {
    let Some(spec) = shared.world.devices.get(device) else {
        return;
    };
    let at = shared.elapsed();
    let mut state = shared.lock();
    let awake = state.awake(shared, device, at);
    if let Some(d) = state.devices.get_mut(device) {
        d.stats.adverts_sent += u64::from(awake);
    }
    for (radio, radio_spec) in shared.world.radios.iter().enumerate() {
        let mean = state.mean_rssi(shared, device, radio, at);
        let rssi = rf::sample_rssi(&shared.world.rf, mean.unwrap_or(-200.0), rng);
        let Some(r) = state.radios.get_mut(radio) else {
            continue;
        };
        let blinded = radio_spec.kind == RadioKind::EsphomeProxy && r.in_flight > 0;
        let heard = mean.is_some() && rssi >= shared.world.rf.hearing_threshold_dbm;
        if !(awake && r.up && heard) || blinded {
            continue;
        }
        r.stats.adverts_heard += 1;
        let Some(radio_id) = shared.radio_ids.get(radio) else {
            continue;
        };
        state.record(
            shared,
            Traced::AdvertHeard {
                radio: radio_id.clone(),
                device: spec.address,
                rssi_dbm: rssi,
            },
        );
        if !state.has_listeners(radio) || state.radios.get(radio).is_some_and(|r| r.stuck.is_some())
        {
            continue;
        }
        let advert = Advertisement {
            address: spec.address,
            address_kind: spec.address_kind,
            rssi_dbm: rssi,
            radio: radio_id.clone(),
            seen_at: Instant::now(),
            connectable: Some(spec.connectable),
            data: spec.advert.clone(),
            raw: Some(raw.clone()),
        };
        match radio_spec.advert_batch {
            None => state.emit(radio, RadioEvent::Adverts(vec![advert])),
            Some(batching) => {
                let Some(r) = state.radios.get_mut(radio) else {
                    continue;
                };
                r.batch.push(advert);
                if r.batch.len() >= batching.max_adverts {
                    let full = std::mem::take(&mut r.batch);
                    state.emit(radio, RadioEvent::Adverts(full));
                }
            }
        }
    }
}

async fn flush_batches(shared: Arc<Shared>, radio: usize, every: Duration) {
    let mut next = Instant::now() + every;
    loop {
        sleep_until(next).await;
        next += every;
        let mut state = shared.lock();
        let Some(r) = state.radios.get_mut(radio) else {
            return;
        };
        if !r.batch.is_empty() {
            let batch = std::mem::take(&mut r.batch);
            state.emit(radio, RadioEvent::Adverts(batch));
        }
    }
}

async fn outages(shared: Arc<Shared>, radio: usize) {
    let Some(spec) = shared.world.radios.get(radio) else {
        return;
    };
    let mut windows = spec.outages.clone();
    windows.sort_by_key(|w| w.from);
    for window in windows {
        sleep_until(shared.started + window.from).await;
        shared.lock().radio_down(&shared, radio, "scheduled outage");
        sleep_until(shared.started + window.until).await;
        shared.lock().radio_up(&shared, radio);
    }
}

/// A device's scheduled GATT table changes, in time order.
async fn services_changes(shared: Arc<Shared>, device: usize) {
    let Some(spec) = shared.world.devices.get(device) else {
        return;
    };
    let mut changes: Vec<_> = spec.services_changes.iter().collect();
    changes.sort_by_key(|change| change.at);
    for change in changes {
        sleep_until(shared.started + change.at).await;
        shared.lock().change_services(&shared, device, &change.gatt);
    }
}
