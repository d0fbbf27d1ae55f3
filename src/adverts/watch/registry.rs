//! [`Watchers`]: every advert watcher's matcher and bounded queue, and the routing of one
//! ingested advert to them.
//!
//! A watcher is a queue ([`super::AdvertWatch`], a stream) or a callback
//! ([`super::callback`]): the same matcher, index and counters; a callback's deliveries wait
//! in `pending` until the Supervisor, no lock held, calls them.
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

use super::callback::{Callback, CallbackKey, CallbackWork};
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
    /// Advert callbacks removed because they panicked.
    pub callbacks_panicked: u64,
}

/// Where a watcher's adverts go.
enum Sink {
    Queue(WatchSender<Arc<Advertisement>>),
    /// `callback` is `None` while it is lent to the Supervisor.
    Callback {
        key: u64,
        callback: Option<Callback>,
    },
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Queue(queue) => f.debug_tuple("Queue").field(queue).finish(),
            Sink::Callback { key, callback } => f
                .debug_struct("Callback")
                .field("key", key)
                .field("lent", &callback.is_none())
                .finish(),
        }
    }
}

#[derive(Debug)]
struct Watcher {
    matcher: AdvertMatcher,
    sink: Sink,
}

impl Watcher {
    /// Queues `advert`, or files it for the callback; what it did, for the counters.
    fn offer(
        &self,
        id: WatchId,
        advert: &Arc<Advertisement>,
        pending: &mut Vec<(CallbackKey, Arc<Advertisement>)>,
    ) -> Offer {
        match &self.sink {
            Sink::Queue(queue) => queue.offer(Arc::clone(advert)),
            Sink::Callback { key, .. } => {
                pending.push((CallbackKey { id, key: *key }, Arc::clone(advert)));
                Offer::Delivered
            }
        }
    }
}

/// Every watcher of the fleet.
#[derive(Debug, Default)]
pub struct Watchers {
    slots: Vec<Option<Watcher>>,
    free: Vec<WatchId>,
    changed: MatcherIndex,
    every: MatcherIndex,
    closed: Vec<WatchId>,
    /// Deliveries to callbacks, in routing order, until the Supervisor calls them.
    pending: Vec<(CallbackKey, Arc<Advertisement>)>,
    /// The key of the next callback watcher.
    next_key: u64,
    /// Callback watchers registered now.
    callbacks: usize,
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
        self.register(matcher, Sink::Queue(queue), pipeline);
        receiver
    }

    /// Registers a callback watcher, with the same first adverts as [`Self::add`] (waiting
    /// in [`Self::lend_callbacks`]'s work like every later one).
    pub(crate) fn add_callback(
        &mut self,
        matcher: AdvertMatcher,
        callback: Callback,
        pipeline: &AdvertPipeline,
    ) -> CallbackKey {
        let key = self.next_key;
        self.next_key += 1;
        self.callbacks += 1;
        let sink = Sink::Callback {
            key,
            callback: Some(callback),
        };
        CallbackKey {
            id: self.register(matcher, sink, pipeline),
            key,
        }
    }

    fn register(
        &mut self,
        matcher: AdvertMatcher,
        sink: Sink,
        pipeline: &AdvertPipeline,
    ) -> WatchId {
        let id = self.free.pop().unwrap_or(self.slots.len());
        let watcher = Watcher { matcher, sink };
        let known: Vec<&DeviceView> = match watcher.matcher.address {
            Some(address) => pipeline.device(&address).into_iter().collect(),
            None => pipeline.devices().collect(),
        };
        for view in known {
            let rssi = view.last_rssi_dbm().unwrap_or(i16::MIN);
            if watcher.matcher.matches(view, rssi) {
                let advert = Arc::new(pipeline.latest_advert(view));
                match watcher.offer(id, &advert, &mut self.pending) {
                    Offer::Delivered => self.counters.delivered += 1,
                    Offer::Dropped => self.counters.lost += 1,
                    Offer::Closed => {}
                }
            }
        }
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
        id
    }

    /// The callback place of watcher `watcher`, if that slot still holds that callback
    /// watcher (a slot reused by another watcher has another key).
    fn callback_of(&mut self, watcher: CallbackKey) -> Option<&mut Option<Callback>> {
        match self.slots.get_mut(watcher.id) {
            Some(Some(Watcher {
                sink: Sink::Callback { key, callback },
                ..
            })) if *key == watcher.key => Some(callback),
            _ => None,
        }
    }

    /// Removes a callback watcher (its guard was dropped). A callback lent out now is dropped
    /// when it is given back.
    pub(crate) fn remove_callback(&mut self, watcher: CallbackKey) {
        if self.callback_of(watcher).is_some() {
            self.pending.retain(|(to, _)| *to != watcher);
            self.closed.push(watcher.id);
            self.remove_closed();
        }
    }

    /// Takes the pending deliveries and lends out the callbacks they name, to be called
    /// without the lock ([`CallbackWork::run`]) and given back ([`Self::give_back`]).
    pub(crate) fn lend_callbacks(&mut self, work: &mut CallbackWork) {
        std::mem::swap(&mut work.deliveries, &mut self.pending);
        work.lent.clear();
        work.lent
            .extend(work.deliveries.iter().map(|(key, _)| (*key, None)));
        work.lent.sort_unstable_by_key(|(key, _)| *key);
        work.lent.dedup_by_key(|(key, _)| *key);
        for (watcher, lent) in &mut work.lent {
            *lent = self.callback_of(*watcher).and_then(Option::take);
        }
    }

    /// Puts lent callbacks back in their slots; a callback whose watcher was removed
    /// meanwhile, or that panicked (`None`), leaves its watcher removed.
    pub(crate) fn give_back(&mut self, work: &mut CallbackWork, panicked: u64) {
        self.counters.callbacks_panicked += panicked;
        for (watcher, lent) in work.lent.drain(..) {
            let Some(callback) = self.callback_of(watcher) else {
                continue;
            };
            match lent {
                Some(lent) => *callback = Some(lent),
                None => self.closed.push(watcher.id),
            }
        }
        self.remove_closed();
    }

    /// Whether any callback watcher is registered.
    pub(crate) fn has_callbacks(&self) -> bool {
        self.callbacks > 0
    }

    /// Whether deliveries to callbacks are waiting.
    pub(crate) fn has_callback_deliveries(&self) -> bool {
        !self.pending.is_empty()
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
        self.pending.clear();
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
        let (slots, closed, counters, pending) = (
            &mut self.slots,
            &mut self.closed,
            &mut self.counters,
            &mut self.pending,
        );
        let mut visit = |id: WatchId| {
            let Some(Some(watcher)) = slots.get_mut(id) else {
                return;
            };
            if !watcher.matcher.matches(view, rssi_dbm) {
                return;
            }
            let advert = shared.get_or_insert_with(&mut *advert);
            match watcher.offer(id, advert, pending) {
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
            let queue_gone = slot
                .as_ref()
                .is_some_and(|w| matches!(&w.sink, Sink::Queue(queue) if queue.is_closed()));
            if queue_gone {
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
            if matches!(watcher.sink, Sink::Callback { .. }) {
                self.callbacks = self.callbacks.saturating_sub(1);
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
