//! Advert routing: each batch from an adapter actor goes through the pipeline, then to the
//! watchers it matches, the fleet-wide feed (while anyone listens) and managed devices' actors.
//! A radio that went down is forgotten here too, in its place among its batches.
//!
//! The advert a consumer receives is built once per advert and shared (`Arc`): a hundred
//! watchers of one device cost a hundred reference counts, not a hundred copies. An advert
//! whose raw payload repeated is not decoded at all unless a consumer wants every copy (a
//! watcher with `every_copy`, the feed, a managed device); then it is decoded for them.
//! Both locks (pipeline, then watchers) are held for the whole batch (while advert callbacks
//! are registered: for each round of a few adverts, after which the callbacks are called
//! with both released, `advert_callbacks`), so `Fleet::watch` sees each advert entirely before
//! or entirely after it registers: its first adverts and the later ones neither overlap nor
//! leave a gap.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, MutexGuard};

use actix::prelude::*;

use super::{ManagedDevice, Supervisor};
use crate::adapter::AdvertBatch;
use crate::adverts::watch::Watchers;
use crate::adverts::{AdvertEvent, AdvertPipeline, Ingested};
use crate::device::messages::AdvertSeen;
use crate::model::{Address, AdvertData, Advertisement, RadioId, RawAdvert};
use crate::shared::Shared;

/// Adverts ingested between two rounds of advert callbacks, while any are registered. Their
/// deliveries wait (and keep their adverts allocated) until the round; in rounds of a whole
/// coalesced batch (up to ~1,000 adverts) dozens of adverts were freed at once, more than
/// glibc's per-size cache holds, and every later allocation took its slow path (callgrind,
/// spec v1 with 1,000 per-address callbacks: ~600 instructions per `malloc`). A few adverts a
/// round keep those frees in the cache. The locks are released only after a round that left
/// deliveries waiting.
const ADVERTS_PER_CALLBACK_ROUND: usize = 8;

impl Handler<AdvertBatch> for Supervisor {
    type Result = ();

    fn handle(&mut self, batch: AdvertBatch, _: &mut Self::Context) {
        let mut events = std::mem::take(&mut self.event_buffer);
        match &batch {
            AdvertBatch::Raw { radio, adverts } => {
                self.ingest_in_rounds(adverts, &mut events, |pipeline, router, adverts, events| {
                    pipeline.ingest_raw(radio, adverts, events, |index, ingested| {
                        if let Some(raw) = adverts.get(index) {
                            router.route(ingested, |data| build_raw(raw, radio, data));
                        }
                    });
                });
            }
            AdvertBatch::Decoded(adverts) => {
                self.ingest_in_rounds(adverts, &mut events, |pipeline, router, adverts, events| {
                    pipeline.ingest_decoded(adverts, events, |index, ingested| {
                        if let Some(advert) = adverts.get(index) {
                            router.route(ingested, |_| advert.clone());
                        }
                    });
                });
            }
            // A radio removed and added again has a new entry: the old one's forget is
            // not the new one's.
            AdvertBatch::Forget(entry) => {
                let registered = self.shared.radio(&entry.id);
                if registered.is_some_and(|r| Arc::ptr_eq(&r, entry)) {
                    self.shared.pipeline().forget_radio(&entry.id, &mut events);
                }
            }
        }
        self.publish_events(&mut events);
        self.event_buffer = events;
    }
}

impl Supervisor {
    /// Ingests `adverts` with both locks held: the whole batch at once, or, while advert
    /// callbacks are registered, a few adverts at a time, releasing the locks to call the
    /// callbacks whenever some have deliveries waiting.
    fn ingest_in_rounds<T>(
        &mut self,
        adverts: &[T],
        events: &mut Vec<AdvertEvent>,
        mut ingest: impl FnMut(&mut AdvertPipeline, &mut Router<'_>, &[T], &mut Vec<AdvertEvent>),
    ) {
        let shared = Arc::clone(&self.shared);
        let round = if shared.watchers().has_callbacks() {
            ADVERTS_PER_CALLBACK_ROUND
        } else {
            adverts.len().max(1)
        };
        let mut rounds = adverts.chunks(round).peekable();
        while rounds.peek().is_some() {
            {
                let mut pipeline = shared.pipeline();
                let mut router = Router::new(&shared, &self.devices);
                for adverts in rounds.by_ref() {
                    ingest(&mut pipeline, &mut router, adverts, events);
                    if router.watchers.has_callback_deliveries() {
                        break;
                    }
                }
            }
            self.call_advert_callbacks();
        }
    }
}

/// Hands ingested adverts to the watchers they match, the feed and their device's actor,
/// holding the watchers' lock (taken after the pipeline's).
struct Router<'a> {
    watchers: MutexGuard<'a, Watchers>,
    feed: &'a tokio::sync::broadcast::Sender<Arc<Advertisement>>,
    feed_listening: bool,
    every_copy: bool,
    devices: &'a BTreeMap<Address, ManagedDevice>,
    device_adverts_dropped: &'a AtomicU64,
}

impl<'a> Router<'a> {
    fn new(shared: &'a Shared, devices: &'a BTreeMap<Address, ManagedDevice>) -> Self {
        let watchers = shared.watchers();
        let every_copy = watchers.wants_every_copy();
        Self {
            watchers,
            feed: &shared.advert_feed,
            feed_listening: shared.advert_feed.receiver_count() > 0,
            every_copy,
            devices,
            device_adverts_dropped: &shared.device_adverts_dropped,
        }
    }

    /// Routes one ingested advert; `make` builds the advert consumers get, at most once and
    /// only if one wants it.
    fn route(
        &mut self,
        ingested: Ingested<'_>,
        mut make: impl FnMut(Option<AdvertData>) -> Advertisement,
    ) {
        let managed = self.devices.get(&ingested.view.address());
        if !(ingested.new_content || self.every_copy || self.feed_listening || managed.is_some()) {
            return;
        }
        let mut decoded = ingested.decoded;
        let mut advert: Option<Arc<Advertisement>> = None;
        let mut shared_advert =
            || Arc::clone(advert.get_or_insert_with(|| Arc::new(make(decoded.take()))));
        if ingested.new_content || self.every_copy {
            self.watchers.route(
                ingested.view,
                ingested.rssi_dbm,
                ingested.new_content,
                &mut shared_advert,
            );
        }
        if self.feed_listening {
            let _ = self.feed.send(shared_advert());
        }
        if let Some(device) = managed {
            // Bounded by the device's mailbox: a device actor that fell behind misses a
            // sighting (counted), the Supervisor never queues unbounded.
            if device.actor.try_send(AdvertSeen(shared_advert())).is_err() {
                self.device_adverts_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The advert a raw one decodes to, reusing fields the pipeline already decoded.
fn build_raw(raw: &RawAdvert, radio: &RadioId, decoded: Option<AdvertData>) -> Advertisement {
    match decoded {
        Some(data) => raw.with_data(radio, data),
        None => raw.decode(radio).0,
    }
}
