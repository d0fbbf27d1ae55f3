//! [`Device`]: the handle to one managed device.
//!
//! Every call is a message to the device's actor with a deadline (the fleet's operation
//! timeout, or the one set with [`Device::with_timeout`]). If the actor was restarted after a
//! crash, the handle finds the new one and retries the send once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::oneshot;
use tokio_stream::wrappers::WatchStream;
use uuid::Uuid;

use super::handle::gone;
use super::{Fleet, Subscription};
use crate::backend::WriteMode;
use crate::device::messages::{CharacteristicRef, Operation, Outcome, Request};
use crate::device::state::{DeviceState, DeviceStatus, WaitReason};
use crate::device::DeviceActor;
use crate::model::{Address, GattTable};
use crate::supervisor::lifecycle::ReleaseDevice;
use crate::supervisor::messages::{KeepConnected, Manage};
use crate::ErrorKind;
use crate::{Error, Result};

/// A managed device.
#[derive(Clone, Debug)]
pub struct Device {
    address: Address,
    actor: Arc<Mutex<Addr<DeviceActor>>>,
    fleet: Fleet,
    timeout: Duration,
}

impl Device {
    pub(super) fn new(address: Address, actor: Addr<DeviceActor>, fleet: Fleet) -> Self {
        let timeout = fleet.shared.config.operation_timeout;
        Self {
            address,
            actor: Arc::new(Mutex::new(actor)),
            fleet,
            timeout,
        }
    }

    /// The device's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// This device's adverts: its latest first, then each change of content
    /// ([`Fleet::watch`] with an address matcher).
    pub fn adverts(&self) -> crate::adverts::watch::AdvertWatch {
        self.fleet
            .watch(crate::adverts::watch::AdvertMatcher::address(self.address))
    }

    /// The same handle with another deadline for each call.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// Keep the device connected (reconnecting forever, never faster than its backoff), or
    /// stop doing so. Refused with [`Error::NotConnectable`] when its adverts say it accepts no
    /// connections; one that says so only later waits for a connectable advert, holding no
    /// radio's queue meanwhile.
    pub async fn keep_connected(&self, keep: bool) -> Result<()> {
        let message = KeepConnected {
            address: self.address,
            keep,
        };
        self.fleet.supervisor.send(message).await.map_err(gone)?
    }

    /// Stops managing the device: disconnects it, stops its actor, ends its subscriptions'
    /// streams and forgets its status. Using a handle to it afterwards (or
    /// [`Fleet::device`](crate::Fleet::device)) manages it afresh.
    pub async fn release(&self) -> Result<()> {
        self.fleet
            .supervisor
            .send(ReleaseDevice(self.address))
            .await
            .map_err(gone)
    }

    /// Connects (if not connected) and returns once connected.
    pub async fn connect(&self) -> Result<()> {
        self.request(Operation::Connect).await.map(drop)
    }

    /// Disconnects and stops keeping the device connected.
    pub async fn disconnect(&self) -> Result<()> {
        self.request(Operation::Disconnect).await.map(drop)
    }

    /// The device's GATT table (connecting if needed; from the cache when it has one).
    pub async fn services(&self) -> Result<Arc<GattTable>> {
        match self.request(Operation::Services).await? {
            Outcome::Services(table) => Ok(table),
            other => Err(unexpected(other)),
        }
    }

    /// The negotiated ATT MTU (connecting if needed).
    pub async fn mtu(&self) -> Result<u16> {
        match self.request(Operation::Mtu).await? {
            Outcome::Mtu(mtu) => Ok(mtu),
            other => Err(unexpected(other)),
        }
    }

    /// Reads a characteristic: a [`Uuid`] (the first characteristic with it), one in a given
    /// service ([`CharacteristicRef::in_service`]), or a value handle from [`Device::services`].
    pub async fn read(&self, characteristic: impl Into<CharacteristicRef>) -> Result<Bytes> {
        match self.request(Operation::Read(characteristic.into())).await? {
            Outcome::Value(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    /// Writes a characteristic (named as for [`Device::read`]).
    pub async fn write(
        &self,
        characteristic: impl Into<CharacteristicRef>,
        value: impl Into<Bytes>,
        mode: WriteMode,
    ) -> Result<()> {
        let operation = Operation::Write(characteristic.into(), value.into(), mode);
        self.request(operation).await.map(drop)
    }

    /// Reads a descriptor of a characteristic (named as for [`Device::read`]).
    pub async fn read_descriptor(
        &self,
        characteristic: impl Into<CharacteristicRef>,
        descriptor: Uuid,
    ) -> Result<Bytes> {
        let operation = Operation::ReadDescriptor(characteristic.into(), descriptor);
        match self.request(operation).await? {
            Outcome::Value(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    /// Writes a descriptor of a characteristic (named as for [`Device::read`]).
    pub async fn write_descriptor(
        &self,
        characteristic: impl Into<CharacteristicRef>,
        descriptor: Uuid,
        value: impl Into<Bytes>,
    ) -> Result<()> {
        let operation = Operation::WriteDescriptor(characteristic.into(), descriptor, value.into());
        self.request(operation).await.map(drop)
    }

    /// Subscribes to a characteristic's notifications (named as for [`Device::read`]).
    ///
    /// An intent, like [`Device::keep_connected`]: it returns at once, connected or not, and
    /// the device stays connected (reconnecting as needed) while the subscription lives. Notify
    /// is enabled on every connection, now or later; the stream says `Waiting` until then,
    /// `Reconnected` once values flow, `Disconnected` at each drop, and `Failed` when enabling
    /// failed on a connection (the next one tries again). Dropping the subscription
    /// unsubscribes at once. Errs only when the fleet is gone.
    pub async fn subscribe(
        &self,
        characteristic: impl Into<CharacteristicRef>,
    ) -> Result<Subscription> {
        let capacity = self.fleet.shared.config.subscription_capacity;
        let operation = Operation::Subscribe(characteristic.into(), capacity);
        match self.request(operation).await? {
            Outcome::Subscribed(registration) => Ok(Subscription::new(registration)),
            other => Err(unexpected(other)),
        }
    }

    /// The device's current status, without a round trip.
    pub fn status(&self) -> DeviceStatus {
        self.fleet
            .shared
            .device_states
            .get(&self.address)
            .map(|s| s.borrow().clone())
            .unwrap_or_else(|| DeviceStatus::new(self.address))
    }

    /// Every status change from now on (starting with the current one).
    pub fn status_changes(&self) -> impl Stream<Item = DeviceStatus> + Send + 'static {
        let receiver = self
            .fleet
            .shared
            .device_states
            .get(&self.address)
            .map(|sender| sender.subscribe());
        futures::stream::iter(receiver.map(WatchStream::new)).flatten()
    }

    async fn request(&self, operation: Operation) -> Result<Outcome> {
        let name = operation.name();
        let (reply, answer) = oneshot::channel();
        let mut request = Request { operation, reply };
        let actor = self.current_actor();
        if let Err(SendError::Closed(returned)) = actor.try_send(request) {
            request = returned;
            let fresh = self
                .fleet
                .supervisor
                .send(Manage {
                    address: self.address,
                    kind: None,
                })
                .await
                .map_err(gone)??;
            *self.actor.lock().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
            fresh.try_send(request).map_err(|_| Error::ActorGone {
                what: format!("device {}", self.address),
            })?;
        }
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Cancelled {
                operation: name.to_string(),
            }),
            Err(_) => Err(self.timed_out(name)),
        }
    }

    /// The clearest error for a request that ran out of time: what the device was waiting for.
    fn timed_out(&self, operation: &str) -> Error {
        let (kind, reason) = match self.status().state {
            DeviceState::Waiting {
                reason: WaitReason::Advertisement,
            } => (
                ErrorKind::NotFound,
                "no radio has heard it recently (is it powered and in range?)",
            ),
            DeviceState::Waiting {
                reason: WaitReason::Slot,
            } => (
                ErrorKind::OutOfSlots,
                "every radio that hears it is out of connection slots",
            ),
            _ => {
                return Error::Timeout {
                    operation: format!("{operation} {}", self.address),
                    after: self.timeout,
                }
            }
        };
        Error::NoRadio {
            address: self.address,
            kind,
            reason: format!("{reason}; gave up after {:?}", self.timeout),
        }
    }

    fn current_actor(&self) -> Addr<DeviceActor> {
        self.actor.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn unexpected(outcome: Outcome) -> Error {
    Error::Config {
        what: "device actor reply".into(),
        reason: format!("unexpected {outcome:?}"),
    }
}
