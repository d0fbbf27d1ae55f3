//! GATT requests: queued while the device connects, run on the link once it is up; and
//! subscriptions, which are intents: registered at once, enabled on every link.
//!
//! A request names a characteristic (by UUID, optionally its service, or by value handle); the
//! table from discovery (or the cache) gives its handle. A UUID missing from a *cached* table
//! may mean the cache is stale, and so does a cached handle the device answers with ATT's
//! Invalid Handle (0x01): either is one `StaleCache` event for the machine, which forgets the
//! cache and rediscovers once (design §6). Every request that failed on the stale handles —
//! also one still in flight when the rediscovery closed its link — or waited for them runs
//! once more on the fresh table; only then does the caller get `CharacteristicNotFound` or the
//! device's error. Requests whose caller gave up are skipped.

use std::sync::Arc;

use actix::prelude::*;

use super::machine::Event;
use super::messages::{CharacteristicRef, Operation, Outcome, RadioRemoved, Request};
use super::subscribers::{NotifyState, Registration, SubscriberGone, SubscriptionEvent};
use super::DeviceActor;
use crate::backend::{Failure, Link};
use crate::error::{AttError, Error};
use crate::model::{Address, CharProps, GattTable};

type OpFuture = std::pin::Pin<Box<dyn std::future::Future<Output = crate::Result<Outcome>>>>;

/// A request waiting for the link, and whether it already ran on a table found stale (then it
/// runs once more, on a fresh discovery, and never a third time).
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) request: Request,
    rerun: bool,
}

impl Queued {
    fn new(request: Request) -> Self {
        Self {
            request,
            rerun: false,
        }
    }

    fn rerun(request: Request) -> Self {
        Self {
            request,
            rerun: true,
        }
    }
}

/// The public error for a failed GATT operation: an ATT error response, a backend that cannot
/// do this at all, or any other backend failure.
fn operation_error(address: Address, operation: &'static str, failure: Failure) -> Error {
    match failure.att_status {
        None if failure.is_unsupported() => Error::Unsupported {
            backend: failure.source.as_str(),
            operation,
        },
        Some(status) => Error::Gatt {
            address,
            status: AttError(status),
            failure,
        },
        None => Error::Operation {
            address,
            operation,
            failure,
        },
    }
}

/// ATT's Invalid Handle (0x01), however the backend carried it.
fn is_invalid_handle(error: &Error) -> bool {
    matches!(error, Error::Gatt { status, .. } if *status == AttError(0x01))
}

impl DeviceActor {
    pub(super) fn accept(&mut self, request: Request, ctx: &mut Context<Self>) {
        match request.operation {
            Operation::Disconnect => {
                self.update_status(|s| s.keep_connected = false);
                self.step(Event::Disconnect, ctx);
                let _ = request.reply.send(Ok(Outcome::Done));
            }
            Operation::Subscribe(target, capacity) => {
                // An intent: answered at once, enabled on this link or the next ones.
                self.subscribers().retry_failed(target);
                let registration = Registration::new(&self.subscribers, target, capacity);
                let id = registration.id();
                let _ = request.reply.send(Ok(Outcome::Subscribed(registration)));
                self.publish_subscriber_count();
                if self.machine.open_link().is_some() {
                    self.enable_subscriptions(ctx);
                } else {
                    self.subscribers().tell(id, SubscriptionEvent::Waiting);
                    self.step(Event::DemandChanged, ctx);
                }
            }
            _ => {
                self.pending.push_back(Queued::new(request));
                if self.machine.open_link().is_some() {
                    self.run_pending(ctx);
                } else {
                    self.step(Event::DemandChanged, ctx);
                }
            }
        }
    }

    /// Closes the connection (or drops the attempt) now, still wanting one.
    pub(super) fn disconnect_now(&mut self, ctx: &mut Context<Self>) {
        self.step(Event::Close, ctx);
    }

    /// Fails every queued request.
    pub(super) fn fail_pending(&mut self, error: impl Fn(&'static str) -> Error) {
        for Queued { request, .. } in self.pending.drain(..) {
            let _ = request.reply.send(Err(error(request.operation.name())));
        }
    }

    pub(super) fn run_pending(&mut self, ctx: &mut Context<Self>) {
        while let Some(queued) = self.pending.pop_front() {
            if queued.request.reply.is_closed() {
                continue;
            }
            let Some(up) = self.machine.open_link() else {
                self.pending.push_front(queued);
                return;
            };
            let generation = up.generation;
            // Handles from a cached table may be stale; a request runs on them once.
            let on_cache = up.from_cache && !queued.rerun;
            match self.prepare(&up.link, &up.table, &queued.request.operation) {
                Ok(future) => self.spawn_op(future, queued, generation, on_cache, ctx),
                Err(Error::CharacteristicNotFound { .. }) if on_cache => {
                    tracing::info!(address = %self.address, "cached services lack a characteristic; rediscovering");
                    self.pending.push_front(Queued::rerun(queued.request));
                    // The link closes for the rediscovery: the loop stops at the next request.
                    self.step(Event::StaleCache { generation }, ctx);
                }
                Err(error) => {
                    let _ = queued.request.reply.send(Err(error));
                }
            }
        }
    }

    /// Runs one operation on the link of `generation`; `on_cache` when its handles come from
    /// the cached table and it did not run on a stale one before (an Invalid Handle then
    /// means the cache is stale).
    fn spawn_op(
        &mut self,
        future: OpFuture,
        queued: Queued,
        generation: u64,
        on_cache: bool,
        ctx: &mut Context<Self>,
    ) {
        self.ops_in_flight += 1;
        // An operation in flight is demand: the machine drops the idle timer.
        self.step(Event::DemandChanged, ctx);
        ctx.spawn(future.into_actor(self).map(move |result, act, ctx| {
            act.ops_in_flight -= 1;
            match result {
                Err(error) if !queued.rerun => {
                    if on_cache && is_invalid_handle(&error) {
                        // The device changed its table without a Service Changed we saw.
                        tracing::info!(address = %act.address, %error, "a cached handle is invalid; rediscovering");
                        act.step(Event::StaleCache { generation }, ctx);
                    }
                    if act.machine.found_stale(generation) {
                        // Failed on stale handles (or died with the link the rediscovery
                        // or a Service Changed closed): once more, on the fresh table.
                        act.pending.push_back(Queued::rerun(queued.request));
                        act.run_pending(ctx);
                    } else {
                        let _ = queued.request.reply.send(Err(error));
                    }
                }
                result => {
                    let _ = queued.request.reply.send(result);
                }
            }
            act.publish_subscriber_count();
            act.step(Event::DemandChanged, ctx);
        }));
    }

    /// Builds the future for one operation on the current link.
    fn prepare(
        &self,
        link: &Arc<dyn Link>,
        table: &Arc<GattTable>,
        operation: &Operation,
    ) -> crate::Result<OpFuture> {
        let address = self.address;
        let link = Arc::clone(link);
        let name = operation.name();
        let op_error = move |failure: Failure| operation_error(address, name, failure);
        let future: OpFuture = match operation.clone() {
            // Never queued (`accept` answers them at once) but for `Connect`, done once here.
            Operation::Connect | Operation::Disconnect | Operation::Subscribe(..) => {
                Box::pin(async { Ok(Outcome::Done) })
            }
            Operation::Services => {
                let table = Arc::clone(table);
                Box::pin(async move { Ok(Outcome::Services(table)) })
            }
            Operation::Mtu => {
                let mtu = link.mtu();
                Box::pin(async move { Ok(Outcome::Mtu(mtu)) })
            }
            Operation::Read(characteristic) => {
                let handle = self.resolve(table, &characteristic)?.handle;
                Box::pin(async move {
                    link.read(handle)
                        .await
                        .map(Outcome::Value)
                        .map_err(op_error)
                })
            }
            Operation::Write(characteristic, value, mode) => {
                let handle = self.resolve(table, &characteristic)?.handle;
                Box::pin(async move {
                    link.write(handle, value, mode)
                        .await
                        .map(|()| Outcome::Done)
                        .map_err(op_error)
                })
            }
            Operation::ReadDescriptor(characteristic, descriptor) => {
                let handle = self.resolve_descriptor(table, &characteristic, descriptor)?;
                Box::pin(async move {
                    link.read_descriptor(handle)
                        .await
                        .map(Outcome::Value)
                        .map_err(op_error)
                })
            }
            Operation::WriteDescriptor(characteristic, descriptor, value) => {
                let handle = self.resolve_descriptor(table, &characteristic, descriptor)?;
                Box::pin(async move {
                    link.write_descriptor(handle, value)
                        .await
                        .map(|()| Outcome::Done)
                        .map_err(op_error)
                })
            }
        };
        Ok(future)
    }

    fn resolve<'t>(
        &self,
        table: &'t GattTable,
        c: &CharacteristicRef,
    ) -> crate::Result<&'t crate::model::GattCharacteristic> {
        c.find(table).ok_or(Error::CharacteristicNotFound {
            address: self.address,
            characteristic: *c,
        })
    }

    fn resolve_descriptor(
        &self,
        table: &GattTable,
        c: &CharacteristicRef,
        descriptor: uuid::Uuid,
    ) -> crate::Result<u16> {
        self.resolve(table, c)?
            .descriptors
            .iter()
            .find(|d| d.uuid == descriptor)
            .map(|d| d.handle)
            .ok_or(Error::DescriptorNotFound {
                address: self.address,
                characteristic: *c,
                uuid: descriptor,
            })
    }

    /// A new link: enables notify for every subscription (each tells its subscribers
    /// `Reconnected` once on, or `Failed`).
    pub(super) fn resubscribe(&mut self, ctx: &mut Context<Self>) {
        self.subscribers().reset();
        self.enable_subscriptions(ctx);
    }

    /// Enables notify for each subscription not yet tried on this link: one CCCD write per value
    /// handle, which later subscribers of the same handle join.
    fn enable_subscriptions(&mut self, ctx: &mut Context<Self>) {
        let Some(up) = self.machine.open_link() else {
            return;
        };
        let (link, table, generation) =
            (Arc::clone(&up.link), Arc::clone(&up.table), up.generation);
        let from_cache = up.from_cache;
        let to_enable = self.subscribers().to_enable();
        for (id, target) in to_enable {
            let handle = match self.resolve(&table, &target) {
                Ok(found)
                    if found.properties.contains(CharProps::NOTIFY)
                        || found.properties.contains(CharProps::INDICATE) =>
                {
                    found.handle
                }
                Ok(_) => {
                    let error = Error::Unsupported {
                        backend: "device",
                        operation: "subscribe to a characteristic without notify or indicate",
                    };
                    self.subscribers().failed(id, Arc::new(error));
                    continue;
                }
                Err(Error::CharacteristicNotFound { .. }) if from_cache => {
                    // The cache may be stale: the subscription is enabled on the next link,
                    // which discovers afresh (where a missing characteristic is an error).
                    tracing::info!(address = %self.address, %target, "cached services lack a subscribed characteristic; rediscovering");
                    self.step(Event::StaleCache { generation }, ctx);
                    return;
                }
                Err(error) => {
                    self.subscribers().failed(id, Arc::new(error));
                    continue;
                }
            };
            let mut subscribers = self.subscribers();
            match subscribers.handle_state(handle) {
                Some(true) => {
                    subscribers.set_state(id, NotifyState::On(handle));
                    subscribers.tell(id, SubscriptionEvent::Reconnected);
                }
                Some(false) => subscribers.set_state(id, NotifyState::Enabling(handle)),
                None => {
                    subscribers.set_state(id, NotifyState::Enabling(handle));
                    drop(subscribers);
                    let link = Arc::clone(&link);
                    let address = self.address;
                    let enabling = async move { link.set_notify(handle, true).await };
                    ctx.spawn(enabling.into_actor(self).map(move |result, act, ctx| {
                        let current = act
                            .machine
                            .link()
                            .is_some_and(|up| up.generation == generation);
                        if !current {
                            return; // that link is gone; the next one starts over
                        }
                        if from_cache && matches!(&result, Err(f) if f.att_status == Some(0x01)) {
                            // A stale cached handle: the rediscovery's link enables it afresh.
                            tracing::info!(%address, handle, "a cached handle is invalid; rediscovering");
                            act.step(Event::StaleCache { generation }, ctx);
                            return;
                        }
                        let result = result.map_err(|failure| {
                            tracing::warn!(%address, handle, %failure, "could not enable notify");
                            Arc::new(operation_error(address, "subscribe", failure))
                        });
                        act.subscribers().enabled(handle, result);
                    }));
                }
            }
        }
    }

    fn publish_subscriber_count(&self) {
        let count = self.subscribers().count();
        self.status
            .send_if_modified(|s| std::mem::replace(&mut s.subscribers, count) != count);
    }
}

impl Handler<SubscriberGone> for DeviceActor {
    type Result = ();

    /// A subscription was dropped: disable notify on a handle nobody wants now, and let an
    /// on-demand link go idle.
    fn handle(&mut self, gone: SubscriberGone, ctx: &mut Self::Context) {
        self.publish_subscriber_count();
        if let (Some(handle), Some(up)) = (gone.handle, self.machine.link()) {
            if !self.subscribers().wants(handle) {
                let link = Arc::clone(&up.link);
                ctx.spawn(
                    async move {
                        let _ = link.set_notify(handle, false).await;
                    }
                    .into_actor(self),
                );
            }
        }
        self.step(Event::DemandChanged, ctx);
    }
}

impl Handler<RadioRemoved> for DeviceActor {
    type Result = ();

    /// A link or attempt through a removed radio ends (the device reconnects elsewhere if it
    /// still wants a connection).
    fn handle(&mut self, RadioRemoved(radio): RadioRemoved, ctx: &mut Self::Context) {
        if self.machine.radio() == Some(&radio) {
            self.disconnect_now(ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{FailureSource, FailureStage};

    #[test]
    fn a_backend_that_cannot_do_an_operation_gives_unsupported() {
        let address = Address::parse("A4:CF:12:34:56:78").unwrap();
        let failure = Failure::unsupported(
            FailureSource::Btleplug,
            FailureStage::Gatt,
            "write_descriptor",
        );
        let error = operation_error(address, "write descriptor", failure);
        assert_eq!(
            error.to_string(),
            "the btleplug backend does not support write descriptor"
        );
        let refused =
            Failure::new(FailureSource::Bluez, FailureStage::Gatt, "x").with_att_status(3);
        assert!(matches!(
            operation_error(address, "write", refused),
            Error::Gatt { .. }
        ));
    }
}
