//! The advert streams of [`Fleet`]: watches by matcher, every advert, and pipeline events.
//!
//! Every stream here is bounded and says when it overflowed: a consumer that falls behind
//! skips adverts rather than slowing the fleet, and the next item it reads is
//! [`Watched::Lagged`] with how many it missed (also summed in `Diagnostics`). An advert
//! callback ([`Fleet::register_callback`]) has no queue to overflow: it is called for each.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use futures::{Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::Fleet;
use crate::adverts::watch::{AdvertMatcher, AdvertWatch, CallbackKey, Watched};
use crate::adverts::AdvertEvent;
use crate::model::Advertisement;
use crate::shared::Shared;
use crate::supervisor::advert_callbacks::CallAdvertCallbacks;

/// A registered advert callback ([`Fleet::register_callback`]). Dropping it unregisters the
/// callback: no advert routed after that reaches it (calls the Supervisor had already taken
/// in hand for the batch under way may still run).
#[must_use = "dropping it unregisters the callback at once"]
#[derive(Debug)]
pub struct AdvertCallback {
    shared: Weak<Shared>,
    watcher: CallbackKey,
}

impl Drop for AdvertCallback {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.watchers().remove_callback(self.watcher);
        }
    }
}

fn announced<T: Clone + Send + 'static>(
    shared: &Arc<Shared>,
    receiver: tokio::sync::broadcast::Receiver<T>,
) -> impl Stream<Item = Watched<T>> + Send + 'static {
    let shared = Arc::clone(shared);
    BroadcastStream::new(receiver).map(move |item| match item {
        Ok(item) => Watched::Item(item),
        Err(BroadcastStreamRecvError::Lagged(missed)) => {
            shared.feed_lost.fetch_add(missed, Ordering::Relaxed);
            Watched::Lagged(missed)
        }
    })
}

impl Fleet {
    /// Adverts matching `matcher`, as Home Assistant's `async_register_callback` delivers them:
    /// first the latest advert of each matching device already heard, then each advert whose
    /// content changed (or every copy from every radio, with [`AdvertMatcher::every_copy`]).
    /// The queue holds the fleet's subscription capacity; dropping the stream ends the watch.
    pub fn watch(&self, matcher: AdvertMatcher) -> AdvertWatch {
        let pipeline = self.shared.pipeline();
        let mut watchers = self.shared.watchers();
        let capacity = self.shared.config.subscription_capacity;
        AdvertWatch::new(watchers.add(matcher, capacity, &pipeline))
    }

    /// Calls `on_advert` for the adverts matching `matcher`, as Home Assistant's
    /// `async_register_callback` does: first the latest advert of each matching device
    /// already heard, then each advert whose content changed (or every copy, with
    /// [`AdvertMatcher::every_copy`]), in the order the fleet took them in.
    ///
    /// The cheap way to follow many devices: no queue and no task per watcher, so a thousand
    /// per-address callbacks cost about what one does (`bluefleet bench watchers`). Nothing is
    /// ever dropped for a slow consumer, because there is no queue: `on_advert` runs on the
    /// fleet's Supervisor thread, between batches, with no fleet lock held (it may call the
    /// fleet), and it must not block (hand heavy work to a channel of your own). A callback
    /// that panics is removed, logged and counted in `Diagnostics::watchers`.
    pub fn register_callback(
        &self,
        matcher: AdvertMatcher,
        on_advert: impl FnMut(&Advertisement) + Send + 'static,
    ) -> AdvertCallback {
        let watcher = {
            let pipeline = self.shared.pipeline();
            let mut watchers = self.shared.watchers();
            watchers.add_callback(matcher, Box::new(on_advert), &pipeline)
        };
        // Its first adverts wait for the Supervisor: ask it not to wait for the next batch.
        self.supervisor.do_send(CallAdvertCallbacks);
        AdvertCallback {
            shared: Arc::downgrade(&self.shared),
            watcher,
        }
    }

    /// Every advertisement from now on, from every radio (repeats included), shared.
    pub fn adverts(&self) -> impl Stream<Item = Watched<Arc<Advertisement>>> + Send + 'static {
        announced(&self.shared, self.shared.advert_feed.subscribe())
    }

    /// What changed in the advertisement pipeline: devices appearing and disappearing,
    /// zone and best-radio changes.
    pub fn advert_events(&self) -> impl Stream<Item = Watched<AdvertEvent>> + Send + 'static {
        announced(&self.shared, self.shared.advert_events.subscribe())
    }
}
