//! What arrives on an open link: notifications (fanned out to subscribers), a Service Changed
//! indication (forget the cache, rediscover), and the end of the link.
//!
//! Events are tagged with the connection's generation; events from an older connection are
//! ignored, so a late notification can never be mistaken for the new link's.

use actix::prelude::*;

use super::machine::Event;
use super::messages::LinkMessage;
use super::DeviceActor;
use crate::backend::LinkEvent;

impl StreamHandler<LinkMessage> for DeviceActor {
    fn handle(&mut self, message: LinkMessage, ctx: &mut Self::Context) {
        let Some(up) = self.machine.link() else {
            return;
        };
        if up.generation != message.generation {
            return;
        }
        match message.event {
            LinkEvent::Notification { handle, value } => {
                // Routed by value handle: same-UUID characteristics never mix (bug 3).
                let delivery = self.subscribers().deliver(handle, &value);
                if delivery.delivered > 0 {
                    // Counted without waking status watchers: a count is not a state change.
                    self.status.send_if_modified(|s| {
                        s.notifications += delivery.delivered as u64;
                        false
                    });
                }
            }
            LinkEvent::NotificationsDropped { handle, count } => {
                // The link's channel was full: the subscribers hear it as `Lagged`, the fleet
                // counts it.
                self.subscribers().lost_upstream(handle, count);
                self.shared
                    .notifications_dropped
                    .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
            }
            LinkEvent::ServicesChanged => {
                let generation = message.generation;
                self.step(Event::ServicesChanged { generation }, ctx);
            }
            LinkEvent::Disconnected { cause, detail } => {
                let generation = message.generation;
                let event = Event::LinkEnded {
                    generation,
                    cause,
                    detail,
                };
                self.step(event, ctx);
            }
        }
    }

    /// A link's stream ending is normal (it ends after `Disconnected`); the actor lives on.
    fn finished(&mut self, _: &mut Self::Context) {}
}
