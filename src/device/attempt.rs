//! One connection attempt: connect, discover (or use the cache), and what happens after —
//! success, or a classified failure that picks the next wait.
//!
//! The attempt starts only once the slot ledger granted the device a slot and the radio's
//! connect turn, so it never queues while holding a slot. It runs as a future spawned in the
//! actor's context and holds the turn only while the radio connects, so one radio never has two
//! attempts in flight; the slot lease stays in the actor's `LinkState::Connecting`. If the actor
//! cancels the attempt or dies, the future is dropped: the turn returns to the ledger (the next
//! waiter goes), the lease too, and a half-made connection to the backend, which tears it down.

use std::sync::Arc;

use actix::prelude::*;
use futures::StreamExt;
use tokio::time::{timeout, Instant};

use super::attempt_log::AttemptEvent;
use super::messages::LinkMessage;
use super::state::DeviceState;
use super::subscribers::SubscriptionEvent;
use super::{DeviceActor, LinkState, UpLink};
use crate::adapter::slots::{Grant, SlotLease};
use crate::backend::{
    ConnectRequest, Connection, DisconnectCause, Failure, FailureSource, FailureStage, Link,
};
use crate::classify::classify;
use crate::error::ErrorKind;
use crate::model::{GattTable, RadioId};
use crate::supervisor::radio_choice::rank;

type AttemptResult = Result<(Connection, GattTable), Failure>;

/// A connection made but not yet handed to the actor: dropped while still held, it is
/// disconnected (so the radio frees the slot now, not a supervision timeout later).
struct HalfOpen(Option<Connection>);

impl HalfOpen {
    fn link(&self) -> Option<&dyn Link> {
        self.0.as_ref().map(|c| c.link.as_ref())
    }

    fn into_inner(mut self) -> Option<Connection> {
        self.0.take()
    }
}

impl Drop for HalfOpen {
    fn drop(&mut self) {
        if let (Some(connection), Ok(runtime)) =
            (self.0.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = connection.link.disconnect().await;
            });
        }
    }
}

impl DeviceActor {
    pub(super) fn start_attempt(&mut self, radio: RadioId, grant: Grant, ctx: &mut Context<Self>) {
        let Some(entry) = self.shared.radio(&radio) else {
            return;
        };
        let Grant { lease, turn } = grant;
        self.generation += 1;
        let generation = self.generation;
        let cached = self.shared.cache.get(&self.address);
        let connect_timeout = self.shared.config.connect_timeout;
        let discovery_timeout = self.shared.config.discovery_timeout;
        let request = ConnectRequest {
            address: self.address,
            address_kind: self.address_kind(),
            cached_services: cached,
            timeout: connect_timeout,
        };
        let attempt = async move {
            let running = entry.gate.begin();
            let started = Instant::now();
            // The backend enforces `request.timeout`; ours is a backstop a little later.
            let backstop = connect_timeout + connect_timeout / 4;
            let connected = match timeout(backstop, entry.radio.connect(request)).await {
                Ok(Ok(connection)) => Ok(connection),
                Ok(Err(failure)) if failure.elapsed.is_some() => Err(failure),
                Ok(Err(failure)) => Err(failure.with_elapsed(started.elapsed())),
                Err(_) => Err(Failure::timeout(
                    FailureSource::Fleet,
                    FailureStage::Connect,
                    backstop,
                )),
            };
            drop(running);
            drop(turn);
            // Closed actively if the attempt is dropped mid-discovery (cancelled, or the actor
            // crashed): left to the radio, the slot would stay taken there for a supervision
            // timeout after our lease was already given to someone else.
            let half_open = HalfOpen(Some(connected?));
            let discovered = match half_open.link() {
                Some(link) => timeout(discovery_timeout, link.services()).await,
                None => {
                    return Err(Failure::timeout(
                        FailureSource::Fleet,
                        FailureStage::Connect,
                        discovery_timeout,
                    ))
                }
            };
            let Some(connection) = half_open.into_inner() else {
                return Err(Failure::timeout(
                    FailureSource::Fleet,
                    FailureStage::Connect,
                    discovery_timeout,
                ));
            };
            match discovered {
                Ok(Ok(table)) => Ok((connection, table)),
                Ok(Err(failure)) => {
                    let _ = connection.link.disconnect().await;
                    Err(failure)
                }
                Err(_) => {
                    let _ = connection.link.disconnect().await;
                    Err(Failure::timeout(
                        FailureSource::Fleet,
                        FailureStage::Connect,
                        discovery_timeout,
                    ))
                }
            }
        };
        let handle = ctx.spawn(
            attempt
                .into_actor(self)
                .map(move |result, act, ctx| act.attempt_finished(generation, result, ctx)),
        );
        let attempt_number = self.failures_in_row + 1;
        self.link = LinkState::Connecting {
            radio: radio.clone(),
            _lease: lease,
            attempt: handle,
            generation,
            started: Instant::now(),
        };
        let device = self.address;
        self.log_attempt(|at| AttemptEvent::Started {
            at,
            device,
            radio: radio.clone(),
            attempt: attempt_number,
        });
        self.publish(DeviceState::Connecting {
            radio,
            attempt: attempt_number,
        });
    }

    fn attempt_finished(
        &mut self,
        generation: u64,
        result: AttemptResult,
        ctx: &mut Context<Self>,
    ) {
        let current =
            matches!(&self.link, LinkState::Connecting { generation: g, .. } if *g == generation);
        if !current {
            if let Ok((connection, _)) = result {
                actix::spawn(async move {
                    let _ = connection.link.disconnect().await;
                });
            }
            return;
        }
        let LinkState::Connecting {
            radio,
            _lease: lease,
            started,
            ..
        } = std::mem::take(&mut self.link)
        else {
            return;
        };
        match result {
            Ok((connection, table)) => {
                let device = self.address;
                self.log_attempt(|at| AttemptEvent::Connected {
                    at,
                    device,
                    radio: radio.clone(),
                    took: started.elapsed(),
                });
                self.connected(radio, lease, connection, table, generation, ctx)
            }
            Err(failure) => {
                drop(lease);
                self.failed(radio, failure, ctx);
            }
        }
    }

    fn connected(
        &mut self,
        radio: RadioId,
        lease: SlotLease,
        connection: Connection,
        table: GattTable,
        generation: u64,
        ctx: &mut Context<Self>,
    ) {
        if let Some(entry) = self.shared.radio(&radio) {
            entry.gate.record_success();
        }
        let cached = self.shared.cache.get(&self.address);
        let from_cache = cached.as_deref() == Some(&table);
        let table = Arc::new(table);
        if !from_cache {
            self.shared.cache.put(self.address, Arc::clone(&table));
        }
        let Connection { link, events } = connection;
        ctx.add_stream(events.map(move |event| LinkMessage { generation, event }));
        let link: Arc<dyn Link> = Arc::from(link);
        lease.mark_link();
        self.link = LinkState::Up(Box::new(UpLink {
            _lease: lease,
            link,
            table,
            from_cache,
            since: Instant::now(),
            generation,
            ended: false,
        }));
        self.failures_in_row = 0;
        self.queue_place = None;
        self.need_advert_after = None;
        if !from_cache {
            self.rediscovered = false;
        }
        self.update_status(|s| {
            s.connections += 1;
        });
        self.publish(DeviceState::Connected { radio });
        // Each subscription hears `Reconnected` once notify is on again on this link.
        self.resubscribe(ctx);
        self.run_pending(ctx);
        self.consider_idle(ctx);
    }

    fn failed(&mut self, radio: RadioId, failure: Failure, ctx: &mut Context<Self>) {
        let kind = classify(&failure).kind;
        let now = Instant::now();
        if let Some(entry) = self.shared.radio(&radio) {
            entry.gate.record_failure(kind);
        }
        self.penalties
            .record(&self.shared.config.choice, &radio, kind, now);
        self.failures_in_row += 1;
        let attempts = self.failures_in_row;
        tracing::debug!(address = %self.address, %radio, %kind, %failure, attempts, "connect attempt failed");
        self.update_status(|s| {
            s.failed_attempts += 1;
            s.last_error = Some((kind, failure.to_string()));
        });
        if attempts >= self.shared.config.retry.attempt_budget {
            let address = self.address;
            let (last_radio, last_failure) = (radio.clone(), failure.clone());
            self.fail_pending(move |_| crate::Error::Connection {
                address,
                radio: Some(last_radio.clone()),
                attempts,
                kind,
                failure: last_failure.clone(),
            });
            self.failures_in_row = 0;
        }
        let delay = match kind {
            // Another radio that heard it: queue there at once (the ledger grants when it frees).
            ErrorKind::OutOfSlots if self.another_radio_will_do(&radio) => None,
            ErrorKind::NotFound => {
                self.need_advert_after = Some(now);
                Some(self.backoff.next_delay(kind))
            }
            _ => Some(self.backoff.next_delay(kind)),
        };
        self.retry_at = delay.map(|d| now + d);
        self.backoff_after = Some(kind);
        let device = self.address;
        self.log_attempt(|at| AttemptEvent::Failed {
            at,
            device,
            radio,
            class: kind,
            error: failure.to_string(),
            next_retry_in: delay,
        });
        self.drive(ctx);
    }

    fn another_radio_will_do(&self, failed: &RadioId) -> bool {
        let shared = &self.shared;
        let candidates = self.sightings.candidates(shared, &shared.ledger);
        rank(
            &candidates,
            &self.penalties,
            &shared.config.choice,
            Instant::now(),
        )
        .iter()
        .any(|radio| radio != failed)
    }

    /// The link ended (dropped, closed by the peer, radio down, or as we asked).
    pub(super) fn link_ended(
        &mut self,
        cause: DisconnectCause,
        detail: String,
        ctx: &mut Context<Self>,
    ) {
        let LinkState::Up(mut up) = std::mem::take(&mut self.link) else {
            return;
        };
        // The backend said it is over (or our disconnect returned): no second disconnect.
        up.ended = true;
        let lasted = up.since.elapsed();
        self.backoff.connection_held(lasted);
        drop(up);
        let reason = format!("{cause}: {detail}");
        tracing::debug!(address = %self.address, %reason, ?lasted, "link ended");
        self.subscribers()
            .announce(&SubscriptionEvent::Disconnected { reason });
        if cause != DisconnectCause::Requested && self.wants_connection() {
            self.retry_at = Some(Instant::now() + self.backoff.next_delay(ErrorKind::Aborted));
            self.backoff_after = None;
        }
        self.drive(ctx);
    }

    /// Stops any attempt and hands back the link to close, leaving the state `Down`.
    pub(super) fn close_link(&mut self, ctx: &mut Context<Self>) -> Option<Arc<dyn Link>> {
        match std::mem::take(&mut self.link) {
            LinkState::Down => None,
            LinkState::Connecting { attempt, .. } => {
                ctx.cancel_future(attempt);
                None
            }
            LinkState::Up(up) => {
                // Keep the lease until the backend confirms: the link stays `Up` until its
                // `Disconnected` event arrives.
                let link = Arc::clone(&up.link);
                self.link = LinkState::Up(up);
                Some(link)
            }
        }
    }
}
