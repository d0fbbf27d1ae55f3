//! [`Watchers`]: every advert watcher's matcher and bounded queue, and the routing of one
//! ingested advert to them.
//!
//! Two indexes: watchers of changed content are consulted only when an advert brought new
//! content (about 4–16 % of adverts on a busy hub); watchers of every copy on every advert,
//! and only while any exists. The advert handed to watchers is built once and shared (`Arc`),
//! whatever the number of watchers.
//!
//! No silent loss: a watcher whose queue is full loses that advert *alone*; the loss is counted
//! and the next item it does receive is [`super::Watched::Lagged`] with the number missed (the
//! queue, [`super::queue`], keeps that count). A watcher
//! whose stream was dropped is removed the next time an advert would reach it, or at the
//! Supervisor's next tick.

use std::sync::Arc;

use super::index::{MatcherIndex, WatchId};
use super::matcher::{AdvertMatcher, Copies};
use super::queue::{watch_queue, Offer, WatchReceiver, WatchSender};
use crate::adverts::{AdvertPipeline, DeviceView};
use crate::model::Advertisement;

/// Counts over every watcher since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WatchCounters {
    /// Watchers registered now.
    pub watchers: usize,
    /// Adverts queued to watchers.
    pub delivered: u64,
    /// Adverts dropped because a watcher's queue was full (each announced by `Lagged`).
    pub lost: u64,
}

#[derive(Debug)]
struct Watcher {
    matcher: AdvertMatcher,
    queue: WatchSender<Arc<Advertisement>>,
}

/// Every watcher of the fleet.
#[derive(Debug, Default)]
pub struct Watchers {
    slots: Vec<Option<Watcher>>,
    free: Vec<WatchId>,
    changed: MatcherIndex,
    every: MatcherIndex,
    closed: Vec<WatchId>,
    counters: WatchCounters,
}

impl Watchers {
    /// Registers a watcher with a queue of `capacity` and first queues the latest advert of
    /// every device `pipeline` already knows that matches (so "the first advert" is not lost to
    /// a device that had just advertised).
    pub(crate) fn add(
        &mut self,
        matcher: AdvertMatcher,
        capacity: usize,
        pipeline: &AdvertPipeline,
    ) -> WatchReceiver<Arc<Advertisement>> {
        let (queue, receiver) = watch_queue(capacity);
        let watcher = Watcher { matcher, queue };
        let known: Vec<&DeviceView> = match watcher.matcher.address {
            Some(address) => pipeline.device(&address).into_iter().collect(),
            None => pipeline.devices().collect(),
        };
        for view in known {
            let rssi = view.last_rssi_dbm().unwrap_or(i16::MIN);
            if watcher.matcher.matches(view, rssi) {
                let advert = Arc::new(pipeline.latest_advert(view));
                match watcher.queue.offer(advert) {
                    Offer::Delivered => self.counters.delivered += 1,
                    Offer::Dropped => self.counters.lost += 1,
                    Offer::Closed => {}
                }
            }
        }
        let id = self.free.pop().unwrap_or(self.slots.len());
        match watcher.matcher.copies() {
            Copies::Changed => self.changed.insert(id, &watcher.matcher),
            Copies::Every => self.every.insert(id, &watcher.matcher),
        }
        if id == self.slots.len() {
            self.slots.push(Some(watcher));
        } else if let Some(slot) = self.slots.get_mut(id) {
            *slot = Some(watcher);
        }
        self.counters.watchers += 1;
        receiver
    }

    /// Whether any watcher wants repeats too (else unchanged adverts need no routing).
    pub(crate) fn wants_every_copy(&self) -> bool {
        !self.every.is_empty()
    }

    /// Ends every watch (the fleet shut down): each stream ends after what it has queued.
    pub(crate) fn close_all(&mut self) {
        self.closed.extend(
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| slot.is_some())
                .map(|(id, _)| id),
        );
        self.remove_closed();
    }

    /// Queues one ingested advert to every watcher it matches. `advert` builds the shared copy
    /// and is called at most once, only if some watcher matches.
    pub(crate) fn route(
        &mut self,
        view: &DeviceView,
        rssi_dbm: i16,
        new_content: bool,
        advert: &mut dyn FnMut() -> Arc<Advertisement>,
    ) {
        let mut shared: Option<Arc<Advertisement>> = None;
        let (slots, closed, counters) = (&mut self.slots, &mut self.closed, &mut self.counters);
        let mut visit = |id: WatchId| {
            let Some(Some(watcher)) = slots.get_mut(id) else {
                return;
            };
            if !watcher.matcher.matches(view, rssi_dbm) {
                return;
            }
            let advert = shared.get_or_insert_with(&mut *advert);
            match watcher.queue.offer(Arc::clone(advert)) {
                Offer::Delivered => counters.delivered += 1,
                Offer::Dropped => counters.lost += 1,
                Offer::Closed => closed.push(id),
            }
        };
        if new_content {
            self.changed.candidates(view, &mut visit);
        }
        self.every.candidates(view, &mut visit);
        self.remove_closed();
    }

    /// Drops watchers whose stream is gone (called on the Supervisor's tick).
    pub(crate) fn prune(&mut self) {
        for (id, slot) in self.slots.iter().enumerate() {
            if slot.as_ref().is_some_and(|w| w.queue.is_closed()) {
                self.closed.push(id);
            }
        }
        self.remove_closed();
    }

    fn remove_closed(&mut self) {
        while let Some(id) = self.closed.pop() {
            let Some(watcher) = self.slots.get_mut(id).and_then(Option::take) else {
                continue;
            };
            match watcher.matcher.copies() {
                Copies::Changed => self.changed.remove(id, &watcher.matcher),
                Copies::Every => self.every.remove(id, &watcher.matcher),
            }
            self.free.push(id);
            self.counters.watchers = self.counters.watchers.saturating_sub(1);
        }
    }

    /// Counts since the start.
    pub fn counters(&self) -> WatchCounters {
        self.counters
    }
}
