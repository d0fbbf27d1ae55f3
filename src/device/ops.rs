//! GATT requests: queued while the device connects, run on the link once it is up.
//!
//! A request names a characteristic by UUID; the table from discovery (or the cache) gives its
//! handle. A UUID missing from a *cached* table may mean the cache is stale, so the device
//! forgets the cache, reconnects with a fresh discovery once, and only then says
//! `CharacteristicNotFound` (design §6). Requests whose caller gave up are skipped.

use std::sync::Arc;

use actix::prelude::*;

use super::machine::Event;
use super::messages::{CharacteristicRef, Operation, Outcome, Request};
use super::{DeviceActor, TimerKind};
use crate::backend::{Failure, Link};
use crate::error::{AttError, Error};
use crate::model::{Address, CharProps, GattTable};

type OpFuture = std::pin::Pin<Box<dyn std::future::Future<Output = crate::Result<Outcome>>>>;

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

impl DeviceActor {
    pub(super) fn accept(&mut self, request: Request, ctx: &mut Context<Self>) {
        match request.operation {
            Operation::Disconnect => {
                self.update_status(|s| s.keep_connected = false);
                self.step(Event::Disconnect, ctx);
                let _ = request.reply.send(Ok(Outcome::Done));
            }
            _ => {
                self.pending.push_back(request);
                if self.machine.link().is_some() {
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
        for request in self.pending.drain(..) {
            let _ = request.reply.send(Err(error(request.operation.name())));
        }
    }

    pub(super) fn run_pending(&mut self, ctx: &mut Context<Self>) {
        while let Some(request) = self.pending.pop_front() {
            if request.reply.is_closed() {
                continue;
            }
            let Some(up) = self.machine.link() else {
                self.pending.push_front(request);
                return;
            };
            match self.prepare(&up.link, &up.table, &request.operation) {
                Ok(future) => self.spawn_op(future, request, ctx),
                Err(Error::CharacteristicNotFound { .. })
                    if up.from_cache && !self.rediscovered =>
                {
                    // The cache may be stale: forget it, reconnect with discovery, retry once.
                    tracing::info!(address = %self.address, "cached services lack a characteristic; rediscovering");
                    self.rediscovered = true;
                    self.shared.cache.invalidate(&self.address);
                    self.pending.push_front(request);
                    self.disconnect_now(ctx);
                    return;
                }
                Err(error) => {
                    let _ = request.reply.send(Err(error));
                }
            }
        }
    }

    fn spawn_op(&mut self, future: OpFuture, request: Request, ctx: &mut Context<Self>) {
        self.ops_in_flight += 1;
        self.cancel_timer(ctx, TimerKind::Idle);
        let reply = request.reply;
        ctx.spawn(future.into_actor(self).map(move |result, act, ctx| {
            act.ops_in_flight -= 1;
            if let Ok(Outcome::Subscribed(_)) = &result {
                act.ensure_prune_timer(ctx);
            }
            let _ = reply.send(result);
            act.publish_subscriber_count();
            act.consider_idle(ctx);
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
            Operation::Connect | Operation::Disconnect => Box::pin(async { Ok(Outcome::Done) }),
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
            Operation::Subscribe(characteristic, capacity) => {
                let found = self.resolve(table, &characteristic)?;
                if !found.properties.contains(CharProps::NOTIFY)
                    && !found.properties.contains(CharProps::INDICATE)
                {
                    return Err(Error::Unsupported {
                        backend: "device",
                        operation: "subscribe to a characteristic without notify or indicate",
                    });
                }
                let handle = found.handle;
                let uuid = characteristic.uuid;
                let (id, receiver, first) = self.subscribers().add(uuid, capacity);
                let subscribers = Arc::clone(&self.subscribers);
                Box::pin(async move {
                    if first {
                        if let Err(failure) = link.set_notify(handle, true).await {
                            // Roll back: a subscriber left registered would make the next
                            // subscribe think notify is on, and values would never start.
                            subscribers
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(&uuid, id);
                            return Err(op_error(failure));
                        }
                    }
                    Ok(Outcome::Subscribed(receiver))
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
        table
            .find_characteristic(c.service.as_ref(), &c.uuid)
            .ok_or(Error::CharacteristicNotFound {
                address: self.address,
                uuid: c.uuid,
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
                characteristic: c.uuid,
                uuid: descriptor,
            })
    }

    /// Re-enables notify on every subscribed characteristic after a (re)connect.
    pub(super) fn resubscribe(&mut self, ctx: &mut Context<Self>) {
        let Some(up) = self.machine.link() else {
            return;
        };
        for uuid in self.subscribers().characteristics() {
            let Some(handle) = up.table.find_characteristic(None, &uuid).map(|c| c.handle) else {
                tracing::warn!(address = %self.address, %uuid, "subscribed characteristic is gone after reconnect");
                continue;
            };
            let link = Arc::clone(&up.link);
            let address = self.address;
            ctx.spawn(
                async move {
                    if let Err(failure) = link.set_notify(handle, true).await {
                        tracing::warn!(%address, %uuid, %failure, "could not re-enable notify");
                    }
                }
                .into_actor(self),
            );
        }
    }

    /// Disables notify where the last subscriber went away.
    pub(super) fn prune_subscribers(&mut self, ctx: &mut Context<Self>) {
        let emptied = self.subscribers().prune_closed();
        self.publish_subscriber_count();
        if let Some(up) = self.machine.link() {
            for uuid in emptied {
                if let Some(handle) = up.table.find_characteristic(None, &uuid).map(|c| c.handle) {
                    let link = Arc::clone(&up.link);
                    ctx.spawn(
                        async move {
                            let _ = link.set_notify(handle, false).await;
                        }
                        .into_actor(self),
                    );
                }
            }
        }
        if self.subscribers().count() == 0 {
            if let Some(handle) = self.prune_timer.take() {
                ctx.cancel_future(handle);
            }
            self.consider_idle(ctx);
        }
    }

    pub(super) fn ensure_prune_timer(&mut self, ctx: &mut Context<Self>) {
        if self.prune_timer.is_none() {
            let every = std::time::Duration::from_secs(1);
            self.prune_timer = Some(ctx.run_interval(every, |act, ctx| act.prune_subscribers(ctx)));
        }
    }

    fn publish_subscriber_count(&self) {
        let count = self.subscribers().count();
        self.status
            .send_if_modified(|s| std::mem::replace(&mut s.subscribers, count) != count);
    }

    /// Closes an on-demand connection once nothing needs it for the idle timeout; with no link,
    /// lets the machine settle the state.
    pub(super) fn consider_idle(&mut self, ctx: &mut Context<Self>) {
        match self.machine.link() {
            None if self.machine.is_connecting() => {}
            None => {
                self.step(Event::DemandChanged, ctx);
            }
            Some(_) => {
                let idle = self.ops_in_flight == 0 && !self.wants_connection();
                if idle && self.idle_timer.is_none() {
                    let after = self.shared.config.idle_disconnect;
                    self.idle_timer = Some(ctx.run_later(after, |act, ctx| {
                        act.idle_timer = None;
                        if act.ops_in_flight == 0 && !act.wants_connection() {
                            act.disconnect_now(ctx);
                        }
                    }));
                }
            }
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
