//! The bounded single-consumer channels of the crate: radio events to the adapter actor, link
//! events to the device actor, and (through [`Queue`] impls kept beside their users) adverts to
//! watchers and notifications to subscribers.
//!
//! Why our own channel and not a tokio `mpsc`: a bounded `mpsc` can only refuse the newest
//! item or make the backend wait, and neither is right for every event. Adverts and
//! notifications are many and each is soon superseded, so when a consumer falls behind the
//! *oldest* ones go, and the consumer is told how many (an in-stream marker it counts).
//! States (`Up`/`Down`, a slot report, Service Changed, the final `Disconnected`) are few and
//! must arrive, so they are never dropped (Service Changed and `Disconnected` are kept once
//! each; radio states are one per change of the radio). The policy per event lives in [`link`] and [`radio`] (and in
//! `adverts::watch::queue`, `device::subscribers`); this file is the plumbing they share: one
//! lock around the queue and the consumer's waker, any number of senders, never blocking a
//! sender (so a backend may push while holding its own lock), the consumer woken once per wait.
//! A queue that is empty costs no allocation beyond the channel itself, which matters when a
//! hub holds a thousand of them.

mod link;
mod radio;
#[cfg(test)]
mod tests;

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::Stream;

pub use link::{link_events, LinkEventSender, LINK_EVENT_CAPACITY};
pub use radio::{radio_events, RadioEventSender, RADIO_ADVERT_CAPACITY};

/// The queue behind one channel: what is pushed and what the consumer gets next.
pub(crate) trait Queue: Send + 'static {
    /// What the consumer receives.
    type Item: Send + 'static;
    /// The next item for the consumer, if one is ready.
    fn pop(&mut self) -> Option<Self::Item>;
    /// The queue said its last word while senders remain (checked when `pop` has nothing);
    /// once every sender is gone the stream ends after what is queued anyway, so a queue
    /// without a final word of its own keeps this default.
    fn ended(&self) -> bool {
        false
    }
    /// The last sender is gone: whatever must still be said is queued now (nothing, by
    /// default).
    fn senders_gone(&mut self) {}
}

struct State<Q> {
    queue: Q,
    /// The consumer's waker, kept between waits (so a consumer polled by the same task does
    /// not clone it again).
    waker: Option<Waker>,
    /// The consumer found nothing and waits for `waker`.
    waiting: bool,
    /// Senders waiting for the consumer to leave ([`Sender::closed`]).
    closers: Vec<Waker>,
    senders: usize,
    receiver_alive: bool,
}

impl<Q: Queue> State<Q> {
    /// Nothing more will come: every sender is gone, or the queue said its last word (asked
    /// when `pop` has nothing).
    fn ended(&self) -> bool {
        self.senders == 0 || self.queue.ended()
    }
}

struct Channel<Q> {
    state: Mutex<State<Q>>,
}

impl<Q> Channel<Q> {
    fn lock(&self) -> MutexGuard<'_, State<Q>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A channel around `queue`.
pub(crate) fn channel<Q: Queue>(queue: Q) -> (Sender<Q>, Receiver<Q>) {
    let channel = Arc::new(Channel {
        state: Mutex::new(State {
            queue,
            waker: None,
            waiting: false,
            closers: Vec::new(),
            senders: 1,
            receiver_alive: true,
        }),
    });
    (
        Sender {
            channel: Arc::clone(&channel),
        },
        Receiver { channel },
    )
}

/// The sending side; cheap to clone.
pub(crate) struct Sender<Q: Queue> {
    channel: Arc<Channel<Q>>,
}

impl<Q: Queue> Sender<Q> {
    /// Changes the queue (pushes) and wakes the consumer if it waits; returns what `change`
    /// said, or `None` when the consumer is gone (then `change` is not called).
    pub(crate) fn push<R>(&self, change: impl FnOnce(&mut Q) -> R) -> Option<R> {
        let mut state = self.channel.lock();
        if !state.receiver_alive {
            return None;
        }
        let said = change(&mut state.queue);
        if std::mem::take(&mut state.waiting) {
            if let Some(waker) = &state.waker {
                // Woken under the lock: the waker stays for the consumer's next wait, and a
                // waker only schedules its task (it never runs the consumer here).
                waker.wake_by_ref();
            }
        }
        Some(said)
    }

    /// Reads the queue (for counters).
    pub(crate) fn read<T>(&self, look: impl FnOnce(&Q) -> T) -> T {
        look(&self.channel.lock().queue)
    }

    /// Whether the consumer dropped its end.
    pub(crate) fn is_closed(&self) -> bool {
        !self.channel.lock().receiver_alive
    }

    /// Resolves when the consumer has dropped its stream.
    async fn closed(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.channel.lock();
            if !state.receiver_alive {
                return Poll::Ready(());
            }
            if !state.closers.iter().any(|w| w.will_wake(cx.waker())) {
                state.closers.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
    }
}

impl<Q: Queue> std::fmt::Debug for Sender<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<Q: Queue> std::fmt::Debug for Receiver<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<Q: Queue> Clone for Sender<Q> {
    fn clone(&self) -> Self {
        self.channel.lock().senders += 1;
        Self {
            channel: Arc::clone(&self.channel),
        }
    }
}

impl<Q: Queue> Drop for Sender<Q> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.channel.lock();
            state.senders -= 1;
            if state.senders > 0 {
                return;
            }
            state.queue.senders_gone();
            state.waiting = false;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The consuming side: a stream that ends when its queue says so.
pub(crate) struct Receiver<Q: Queue> {
    channel: Arc<Channel<Q>>,
}

impl<Q: Queue> Receiver<Q> {
    /// The next item, `Ready(None)` once the queue has ended, else `Pending` with the task
    /// registered to be woken.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Q::Item>> {
        let mut state = self.channel.lock();
        if let Some(item) = state.queue.pop() {
            return Poll::Ready(Some(item));
        }
        if state.ended() {
            return Poll::Ready(None);
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        state.waiting = true;
        Poll::Pending
    }

    /// The next item if one is queued now: `Ready(None)` once the queue has ended, `Pending`
    /// when it is empty (nothing is registered).
    pub(crate) fn try_recv(&mut self) -> Poll<Option<Q::Item>> {
        let mut state = self.channel.lock();
        match state.queue.pop() {
            Some(item) => Poll::Ready(Some(item)),
            None if state.ended() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

impl<Q: Queue> Stream for Receiver<Q> {
    type Item = Q::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Q::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<Q: Queue> Drop for Receiver<Q> {
    fn drop(&mut self) {
        let closers = {
            let mut state = self.channel.lock();
            state.receiver_alive = false;
            // What the consumer will never read is freed now, not with the last sender.
            while state.queue.pop().is_some() {}
            std::mem::take(&mut state.closers)
        };
        closers.into_iter().for_each(Waker::wake);
    }
}
