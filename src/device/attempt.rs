//! One connection attempt: connect, discover (or use the cache), and what happens after —
//! success, or a classified failure that picks the next wait.
//!
//! The attempt starts only once the slot ledger granted the device a slot and the radio's
//! connect turn, so it never queues while holding a slot. It runs as a future spawned in the
//! actor's context and holds the turn only while the radio connects, so one radio never has two
//! attempts in flight; the slot lease stays in the machine's `Connecting` phase. If the actor
//! cancels the attempt or dies, the future is dropped: the turn returns to the ledger (the next
//! waiter goes), the lease too, and a half-made connection to the backend, which tears it down.
//! Its result goes back to the machine as `Connected` or `AttemptFailed`.

use std::sync::Arc;

use actix::prelude::*;
use futures::StreamExt;
use tokio::time::{timeout, Instant};

use super::machine::Event;
use super::messages::LinkMessage;
use super::{DeviceActor, UpLink};
use crate::adapter::slots::ConnectTurn;
use crate::backend::{ConnectRequest, Connection, Failure, FailureSource, FailureStage, Link};
use crate::model::{AddressKind, GattTable, RadioId};

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
    pub(super) fn start_attempt(
        &mut self,
        radio: RadioId,
        generation: u64,
        address_kind: AddressKind,
        turn: ConnectTurn,
        ctx: &mut Context<Self>,
    ) {
        let Some(entry) = self.shared.radio(&radio) else {
            let failure = Failure::new(FailureSource::Fleet, FailureStage::Connect, "radio gone");
            self.step(
                Event::AttemptFailed {
                    generation,
                    failure,
                },
                ctx,
            );
            return;
        };
        let cached = self.shared.cache.get(&self.address);
        let connect_timeout = self.shared.config.connect_timeout;
        let discovery_timeout = self.shared.config.discovery_timeout;
        let request = ConnectRequest {
            address: self.address,
            address_kind,
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
            if connected.is_ok() {
                turn.end_connected();
            } else {
                drop(turn);
            }
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
        self.attempt = Some(handle);
    }

    fn attempt_finished(
        &mut self,
        generation: u64,
        result: AttemptResult,
        ctx: &mut Context<Self>,
    ) {
        if self.machine.attempt_generation() != Some(generation) {
            if let Ok((connection, _)) = result {
                actix::spawn(async move {
                    let _ = connection.link.disconnect().await;
                });
            }
            return;
        }
        self.attempt = None;
        let event = match result {
            Ok((connection, table)) => Event::Connected {
                generation,
                link: self.open_link(connection, table, generation, ctx),
            },
            Err(failure) => Event::AttemptFailed {
                generation,
                failure,
            },
        };
        self.step(event, ctx);
    }

    /// Wraps a fresh connection for the machine: caches its table, indexes its handles and
    /// starts listening to its events.
    fn open_link(
        &mut self,
        connection: Connection,
        table: GattTable,
        generation: u64,
        ctx: &mut Context<Self>,
    ) -> Box<UpLink> {
        let cached = self.shared.cache.get(&self.address);
        let from_cache = cached.as_deref() == Some(&table);
        let table = Arc::new(table);
        if !from_cache {
            self.shared.cache.put(self.address, Arc::clone(&table));
        }
        let Connection { link, events } = connection;
        ctx.add_stream(events.map(move |event| LinkMessage { generation, event }));
        Box::new(UpLink {
            link: Arc::from(link),
            table,
            from_cache,
            generation,
            ended: false,
        })
    }
}
