//! [`WatchQueue`]: one watcher's bounded queue, a [`Queue`] of the crate's one channel
//! (`backend::queue`).
//!
//! Why not `tokio::sync::mpsc`: a hub runs hundreds of per-device watchers and each advert
//! that reaches one is a single item, so the channel's fixed parts dominate: a semaphore, a
//! linked list of 32-slot blocks allocated per channel, an atomic waker. Profiled with 1,000
//! per-address watchers, those, and the allocator's slow paths behind them, were most of the
//! extra cost per delivery. Here one lock guards a `VecDeque` (empty until the first item,
//! grown to the watcher's own peak, never past its capacity) and the receiver's waker, so a
//! delivery is one uncontended lock, one push and at most one wake.
//!
//! No silent loss: an item offered to a full queue is dropped and counted; the next item that
//! fits is preceded by [`Watched::Lagged`] with the count (the marker itself is not counted
//! against the capacity, so a queue that drained always has room to say what it lost).

use std::collections::VecDeque;
use std::task::{Context, Poll};

use super::Watched;
use crate::backend::queue::{channel, Queue, Receiver, Sender};

/// What an offer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued.
    Delivered,
    /// The queue was full: dropped, and counted for the next `Lagged`.
    Dropped,
    /// The receiver is gone.
    Closed,
}

/// The items waiting for one watcher.
#[derive(Debug)]
pub(crate) struct WatchQueue<T> {
    capacity: usize,
    items: VecDeque<Watched<T>>,
    /// `Lagged` markers in `items` (they do not count against the capacity).
    markers: usize,
    /// Items dropped since the last `Lagged` marker was queued.
    missed: u64,
}

impl<T> WatchQueue<T> {
    /// Queues `item` if there is room (after a `Lagged` marker when items were dropped);
    /// false when it was dropped.
    fn offer(&mut self, item: T) -> bool {
        if self.items.len() - self.markers >= self.capacity {
            self.missed += 1;
            return false;
        }
        if self.missed > 0 {
            let missed = std::mem::take(&mut self.missed);
            self.markers += 1;
            self.items.push_back(Watched::Lagged(missed));
        }
        self.items.push_back(Watched::Item(item));
        true
    }
}

impl<T: Send + 'static> Queue for WatchQueue<T> {
    type Item = Watched<T>;

    fn pop(&mut self) -> Option<Watched<T>> {
        let item = self.items.pop_front()?;
        if matches!(item, Watched::Lagged(_)) {
            self.markers -= 1;
        }
        Some(item)
    }
}

/// The Supervisor's end: offers items, never waits.
#[derive(Debug)]
pub(crate) struct WatchSender<T: Send + 'static> {
    sender: Sender<WatchQueue<T>>,
}

/// The watcher's end.
#[derive(Debug)]
pub(crate) struct WatchReceiver<T: Send + 'static> {
    receiver: Receiver<WatchQueue<T>>,
}

/// A queue holding at most `capacity` items (at least one).
pub(crate) fn watch_queue<T: Send + 'static>(
    capacity: usize,
) -> (WatchSender<T>, WatchReceiver<T>) {
    let (sender, receiver) = channel(WatchQueue {
        capacity: capacity.max(1),
        items: VecDeque::new(),
        markers: 0,
        missed: 0,
    });
    (WatchSender { sender }, WatchReceiver { receiver })
}

impl<T: Send + 'static> WatchSender<T> {
    /// Queues `item` if there is room (after a `Lagged` marker when items were dropped).
    pub(crate) fn offer(&self, item: T) -> Offer {
        match self.sender.push(|queue| queue.offer(item)) {
            Some(true) => Offer::Delivered,
            Some(false) => Offer::Dropped,
            None => Offer::Closed,
        }
    }

    /// Whether the receiver was dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

impl<T: Send + 'static> WatchReceiver<T> {
    /// The next item, `Ready(None)` once the sender is gone and the queue is empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Watched<T>>> {
        self.receiver.poll_recv(cx)
    }

    /// The next item if one is queued now.
    pub(crate) fn try_recv(&mut self) -> Option<Watched<T>> {
        match self.receiver.try_recv() {
            Poll::Ready(item) => item,
            Poll::Pending => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::*;

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_full_queue_drops_counts_and_says_so_before_the_next_item() {
        let (sender, mut receiver) = watch_queue(2);
        assert_eq!(sender.offer(1), Offer::Delivered);
        assert_eq!(sender.offer(2), Offer::Delivered);
        assert_eq!(sender.offer(3), Offer::Dropped);
        assert_eq!(sender.offer(4), Offer::Dropped);
        assert_eq!(receiver.try_recv(), Some(Watched::Item(1)));
        assert_eq!(sender.offer(5), Offer::Delivered);
        assert_eq!(
            sender.offer(6),
            Offer::Dropped,
            "the marker does not make room"
        );
        let rest: Vec<_> = std::iter::from_fn(|| receiver.try_recv()).collect();
        assert_eq!(
            rest,
            [Watched::Item(2), Watched::Lagged(2), Watched::Item(5)]
        );
        assert_eq!(sender.offer(7), Offer::Delivered);
        assert_eq!(
            std::iter::from_fn(|| receiver.try_recv()).collect::<Vec<_>>(),
            [Watched::Lagged(1), Watched::Item(7)]
        );
    }

    #[test]
    fn the_receiver_is_woken_once_per_wait_and_sees_the_end() {
        let (sender, mut receiver) = watch_queue(8);
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        assert!(receiver.poll_recv(&mut cx).is_pending());
        sender.offer(1);
        sender.offer(2);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "one wake per wait");
        assert_eq!(
            receiver.poll_recv(&mut cx),
            Poll::Ready(Some(Watched::Item(1)))
        );
        assert_eq!(
            receiver.poll_recv(&mut cx),
            Poll::Ready(Some(Watched::Item(2)))
        );
        assert!(receiver.poll_recv(&mut cx).is_pending());
        sender.offer(3);
        assert_eq!(counter.0.load(Ordering::SeqCst), 2, "the next wait's wake");
        assert_eq!(
            receiver.poll_recv(&mut cx),
            Poll::Ready(Some(Watched::Item(3)))
        );
        assert!(receiver.poll_recv(&mut cx).is_pending());
        drop(sender);
        assert_eq!(counter.0.load(Ordering::SeqCst), 3, "the end wakes it");
        assert_eq!(receiver.poll_recv(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn a_dropped_receiver_closes_the_queue() {
        let (sender, receiver) = watch_queue::<u8>(1);
        assert!(!sender.is_closed());
        drop(receiver);
        assert!(sender.is_closed());
        assert_eq!(sender.offer(1), Offer::Closed);
    }
}
