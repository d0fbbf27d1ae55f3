//! A radio's event channel: adverts bounded, dropped oldest first and announced; the radio's
//! state (`Up`/`Down`, its slot report) never dropped.
//!
//! The adapter actor stops reading its radio while the Supervisor ingests the batch it sent
//! (one batch per radio in flight), so a radio faster than ingestion queues here. At most
//! [`RADIO_ADVERT_CAPACITY`] adverts wait; past that the oldest batch goes, and the next
//! event the adapter reads is `AdvertsDropped { count }` (counted per radio in diagnostics).
//! `Up`/`Down` and slot reports are never dropped and keep their order: they are few, one per
//! change of the radio, so they need no bound of their own.

use std::collections::VecDeque;

use futures::stream::BoxStream;
use futures::StreamExt;

use super::{channel, Queue, Sender};
use crate::backend::RadioEvent;

/// Adverts one radio buffers for its adapter actor before the oldest are dropped.
pub const RADIO_ADVERT_CAPACITY: usize = 4096;

#[derive(Debug, Default)]
struct RadioQueue {
    capacity: usize,
    queued: VecDeque<RadioEvent>,
    adverts: usize,
    /// Adverts dropped and not yet announced.
    dropped: u64,
    dropped_total: u64,
}

fn advert_count(event: &RadioEvent) -> Option<usize> {
    match event {
        RadioEvent::Adverts(batch) => Some(batch.len()),
        RadioEvent::RawAdverts(batch) => Some(batch.len()),
        _ => None,
    }
}

impl RadioQueue {
    fn push(&mut self, event: RadioEvent) {
        match event {
            RadioEvent::AdvertsDropped { .. } => {}
            event => match advert_count(&event) {
                Some(0) => {}
                Some(count) => {
                    self.queued.push_back(event);
                    self.adverts += count;
                    while self.adverts > self.capacity {
                        self.drop_oldest_batch();
                    }
                }
                // States are never dropped: they are few (one per change of the radio).
                None => self.queued.push_back(event),
            },
        }
    }

    fn drop_oldest_batch(&mut self) {
        let oldest = self.queued.iter().position(|e| advert_count(e).is_some());
        if let Some(count) = oldest
            .and_then(|at| self.queued.remove(at))
            .as_ref()
            .and_then(advert_count)
        {
            self.adverts -= count;
            self.dropped += count as u64;
            self.dropped_total += count as u64;
        }
    }
}

impl Queue for RadioQueue {
    type Item = RadioEvent;

    fn pop(&mut self) -> Option<RadioEvent> {
        if self.dropped > 0 {
            let count = std::mem::take(&mut self.dropped);
            return Some(RadioEvent::AdvertsDropped { count });
        }
        let event = self.queued.pop_front()?;
        self.adverts -= advert_count(&event).unwrap_or(0);
        Some(event)
    }
}

/// The backend's side of one radio event stream; clones share it.
#[derive(Clone)]
pub struct RadioEventSender {
    sender: Sender<RadioQueue>,
}

impl std::fmt::Debug for RadioEventSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadioEventSender")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl RadioEventSender {
    /// Queues an event with its policy (adverts may be dropped oldest first, states never).
    /// False when the consumer is gone.
    pub fn send(&self, event: RadioEvent) -> bool {
        self.sender.push(|q| q.push(event)).is_some()
    }

    /// Whether the consumer dropped its stream.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Resolves when the consumer has dropped its stream (a backend can stop its scan).
    pub async fn closed(&self) {
        self.sender.closed().await;
    }

    /// Adverts dropped on this stream since it began.
    pub fn dropped(&self) -> u64 {
        self.sender.read(|q| q.dropped_total)
    }
}

/// A radio's bounded event channel: the sender for the backend, the stream for
/// [`crate::backend::Radio::events`]. The stream ends when every sender is gone.
pub fn radio_events() -> (RadioEventSender, BoxStream<'static, RadioEvent>) {
    radio_events_with_capacity(RADIO_ADVERT_CAPACITY)
}

pub(crate) fn radio_events_with_capacity(
    capacity: usize,
) -> (RadioEventSender, BoxStream<'static, RadioEvent>) {
    let (sender, receiver) = channel(RadioQueue {
        capacity: capacity.max(1),
        ..RadioQueue::default()
    });
    (RadioEventSender { sender }, receiver.boxed())
}
