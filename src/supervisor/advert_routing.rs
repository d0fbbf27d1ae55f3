//! Advert routing: each batch from an adapter actor goes through the pipeline, then to the
//! watchers it matches, the fleet-wide feed (while anyone listens) and managed devices' actors.
//! A radio that went down is forgotten here too, in its place among its batches.
//!
//! The advert a consumer receives is built once per advert and shared (`Arc`): a hundred
//! watchers of one device cost a hundred reference counts, not a hundred copies. An advert
//! whose raw payload repeated is not decoded at all unless a consumer wants every copy (a
//! watcher with `every_copy`, the feed, a managed device); then it is decoded for them.
//! Both locks (pipeline, then watchers) are held for the whole batch, so `Fleet::watch` sees
//! a batch entirely before or entirely after it registers.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::prelude::*;

use super::Supervisor;
use crate::adapter::AdvertBatch;
use crate::adverts::Ingested;
use crate::device::messages::AdvertSeen;
use crate::model::{AdvertData, Advertisement, RadioId, RawAdvert};

impl Handler<AdvertBatch> for Supervisor {
    type Result = ();

    fn handle(&mut self, batch: AdvertBatch, _: &mut Self::Context) {
        let mut events = std::mem::take(&mut self.event_buffer);
        let shared = Arc::clone(&self.shared);
        {
            let mut pipeline = shared.pipeline();
            let mut watchers = shared.watchers();
            let feed = &shared.advert_feed;
            let feed_listening = feed.receiver_count() > 0;
            let every_copy = watchers.wants_every_copy();
            let devices = &self.devices;
            let device_adverts_dropped = &shared.device_adverts_dropped;
            let mut route =
                |ingested: Ingested<'_>,
                 make: &mut dyn FnMut(Option<AdvertData>) -> Advertisement| {
                    let managed = devices.get(&ingested.view.address());
                    if !(ingested.new_content || every_copy || feed_listening || managed.is_some())
                    {
                        return;
                    }
                    let mut decoded = ingested.decoded;
                    let mut advert: Option<Arc<Advertisement>> = None;
                    let mut shared_advert =
                        || Arc::clone(advert.get_or_insert_with(|| Arc::new(make(decoded.take()))));
                    if ingested.new_content || every_copy {
                        watchers.route(
                            ingested.view,
                            ingested.rssi_dbm,
                            ingested.new_content,
                            &mut shared_advert,
                        );
                    }
                    if feed_listening {
                        let _ = feed.send(shared_advert());
                    }
                    if let Some(device) = managed {
                        // Bounded by the device's mailbox: a device actor that fell behind
                        // misses a sighting (counted), the Supervisor never queues unbounded.
                        if device.actor.try_send(AdvertSeen(shared_advert())).is_err() {
                            device_adverts_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                };
            match &batch {
                AdvertBatch::Raw { radio, adverts } => {
                    pipeline.ingest_raw(radio, adverts, &mut events, |index, ingested| {
                        if let Some(raw) = adverts.get(index) {
                            route(ingested, &mut |data| build_raw(raw, radio, data));
                        }
                    });
                }
                AdvertBatch::Decoded(adverts) => {
                    pipeline.ingest_decoded(adverts, &mut events, |index, ingested| {
                        if let Some(advert) = adverts.get(index) {
                            route(ingested, &mut |_| advert.clone());
                        }
                    });
                }
                // A radio removed and added again has a new entry: the old one's forget is
                // not the new one's.
                AdvertBatch::Forget(entry) => {
                    let registered = shared.radio(&entry.id);
                    if registered.is_some_and(|r| Arc::ptr_eq(&r, entry)) {
                        pipeline.forget_radio(&entry.id, &mut events);
                    }
                }
            }
        }
        self.publish_events(&mut events);
        self.event_buffer = events;
    }
}

/// The advert a raw one decodes to, reusing fields the pipeline already decoded.
fn build_raw(raw: &RawAdvert, radio: &RadioId, decoded: Option<AdvertData>) -> Advertisement {
    match decoded {
        Some(data) => raw.with_data(radio, data),
        None => raw.decode(radio).0,
    }
}
