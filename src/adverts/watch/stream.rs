//! [`AdvertWatch`]: the stream one watcher holds. Dropping it ends the watch.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::queue::WatchReceiver;
use super::Watched;
use crate::model::Advertisement;
use futures::Stream;

/// Adverts matching one [`super::AdvertMatcher`], with `Lagged(n)` where the queue overflowed.
#[derive(Debug)]
pub struct AdvertWatch {
    receiver: WatchReceiver<Arc<Advertisement>>,
}

impl AdvertWatch {
    pub(crate) fn new(receiver: WatchReceiver<Arc<Advertisement>>) -> Self {
        Self { receiver }
    }

    /// The next item; `None` once the fleet is gone.
    pub async fn recv(&mut self) -> Option<Watched<Arc<Advertisement>>> {
        std::future::poll_fn(|cx| self.receiver.poll_recv(cx)).await
    }

    /// The next item if one is queued now.
    pub fn try_recv(&mut self) -> Option<Watched<Arc<Advertisement>>> {
        self.receiver.try_recv()
    }
}

impl Stream for AdvertWatch {
    type Item = Watched<Arc<Advertisement>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}
