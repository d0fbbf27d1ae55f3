//! The advert streams of [`Fleet`]: watches by matcher, every advert, and pipeline events.
//!
//! Every stream here is bounded and says when it overflowed: a consumer that falls behind
//! skips adverts rather than slowing the fleet, and the next item it reads is
//! [`Watched::Lagged`] with how many it missed (also summed in `Diagnostics`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::Fleet;
use crate::adverts::watch::{AdvertMatcher, AdvertWatch, Watched};
use crate::adverts::AdvertEvent;
use crate::model::Advertisement;
use crate::shared::Shared;

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
