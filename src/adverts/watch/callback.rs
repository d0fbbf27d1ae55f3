//! Advert callbacks: watchers that are called, not queued, the shape of Home Assistant's
//! `async_register_callback`.
//!
//! Why a second kind of watcher: a stream per watcher means a queue and a woken task per
//! delivery. Profiled on spec v1 with 1,000 per-address streams, each delivery touched ~67
//! cache lines the single-watcher run never did (the task, its queue, the advert kept alive
//! until that task ran, glibc's slow paths freeing it cold): 1.28 × the CPU per advert of
//! one watcher. A callback costs a pending entry and a call, and the advert is freed hot,
//! in the batch that made it.
//!
//! Callbacks never run under the pipeline's or the watchers' lock: routing only records
//! `(watcher, advert)` pairs; the Supervisor then borrows the callbacks those pairs name
//! ([`CallbackWork`]), releases every lock, calls them in arrival order and gives them back.
//! So a callback may use the fleet (`heard`, `watch`, dropping its own or another guard)
//! without deadlock. It runs on the Supervisor's thread and must not block. One that panics
//! is dropped, logged and counted; nothing else is lost.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::index::WatchId;
use crate::model::Advertisement;

/// What a callback watcher runs for each advert it matches.
pub(crate) type Callback = Box<dyn FnMut(&Advertisement) + Send>;

/// A callback watcher's identity: its slot and a key no other watcher ever had (slots are
/// reused, keys are not), so a callback given back after its watcher was removed is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CallbackKey {
    pub(crate) id: WatchId,
    pub(crate) key: u64,
}

/// Deliveries waiting for their callbacks, and those callbacks, lent out of the registry.
#[derive(Default)]
pub(crate) struct CallbackWork {
    pub(crate) deliveries: Vec<(CallbackKey, Arc<Advertisement>)>,
    /// Sorted by key; `None` once a callback panicked (it is not given back).
    pub(crate) lent: Vec<(CallbackKey, Option<Callback>)>,
}

impl std::fmt::Debug for CallbackWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackWork")
            .field("deliveries", &self.deliveries.len())
            .field("lent", &self.lent.len())
            .finish()
    }
}

impl CallbackWork {
    /// Whether there is nothing to call.
    pub(crate) fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }

    /// Calls each delivery's callback in order, with no lock held. Returns how many callbacks
    /// panicked (each is dropped, so it is not given back).
    pub(crate) fn run(&mut self) -> u64 {
        let mut panicked = 0;
        for (key, advert) in self.deliveries.drain(..) {
            let Ok(at) = self.lent.binary_search_by(|(k, _)| k.cmp(&key)) else {
                continue;
            };
            let Some((_, slot)) = self.lent.get_mut(at) else {
                continue;
            };
            let Some(callback) = slot.as_mut() else {
                continue;
            };
            if catch_unwind(AssertUnwindSafe(|| callback(&advert))).is_err() {
                tracing::error!(
                    address = %advert.address,
                    "an advert callback panicked; it is removed and gets no more adverts"
                );
                *slot = None;
                panicked += 1;
            }
        }
        panicked
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

    use tokio::time::Instant;

    use super::*;
    use crate::model::{Address, AdvertData, RadioId};

    fn advert(n: u8) -> Arc<Advertisement> {
        Arc::new(Advertisement::from_data(
            Address::new([0, 0, 0, 0, 0, n]),
            RadioId::new("r"),
            -50,
            Instant::now(),
            AdvertData::default(),
        ))
    }

    fn key(id: WatchId) -> CallbackKey {
        CallbackKey { id, key: id as u64 }
    }

    #[test]
    fn deliveries_run_in_order_and_a_panicking_callback_is_dropped_alone() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = |tag: u8| -> Callback {
            let seen = Arc::clone(&seen);
            Box::new(move |a: &Advertisement| seen.lock().unwrap().push((tag, a.address)))
        };
        let panicking: Callback = Box::new(|_| panic!("a hub's bug"));
        let mut work = CallbackWork {
            deliveries: vec![
                (key(3), advert(1)),
                (key(1), advert(2)),
                (key(2), advert(3)),
                (key(3), advert(4)),
                (key(2), advert(5)),
                (key(9), advert(6)), // its watcher went away meanwhile
            ],
            lent: vec![
                (key(1), Some(recorder(1))),
                (key(2), Some(panicking)),
                (key(3), Some(recorder(3))),
            ],
        };
        assert_eq!(work.run(), 1);
        let address = |n| Address::new([0, 0, 0, 0, 0, n]);
        assert_eq!(
            *seen.lock().unwrap(),
            [(3, address(1)), (1, address(2)), (3, address(4))]
        );
        assert!(work.is_empty());
        assert!(
            work.lent[1].1.is_none(),
            "the panicking one is not given back"
        );
        assert!(work.lent[0].1.is_some() && work.lent[2].1.is_some());
    }
}
