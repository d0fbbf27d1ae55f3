//! [`Fleet`]: the handle a hub holds to the whole fleet.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::runtime::OwnSystem;
use super::{Device, FleetBuilder};
use crate::adapter::slots::SlotUsage;
use crate::adverts::beacon::BeaconCounts;
use crate::adverts::watch::Watched;
use crate::adverts::AdvertFilter;
use crate::backend::Radio;
use crate::device::attempt_log::AttemptEvent;
use crate::model::{Address, AddressKind};
use crate::shared::Shared;
use crate::supervisor::diagnostics::Diagnostics;
use crate::supervisor::heard::HeardDevice;
use crate::supervisor::lifecycle::RemoveRadio;
#[cfg(feature = "testing")]
use crate::supervisor::messages::CrashDevice;
use crate::supervisor::messages::{AddRadio, GetDiagnostics, Manage, ShutdownFleet};
#[cfg(feature = "bluez")]
use crate::supervisor::radio_changes::{FollowRadios, RadioChange};
use crate::supervisor::Supervisor;
use crate::{Error, Result};

/// The fleet: every radio and every device. Clone it freely.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub(super) supervisor: Addr<Supervisor>,
    pub(super) shared: Arc<Shared>,
    /// Keeps our own actor thread running while any clone exists (dropped last, it stops it).
    pub(super) _own_system: Option<Arc<OwnSystem>>,
}

pub(super) fn gone(_: MailboxError) -> Error {
    Error::ActorGone {
        what: "the fleet".into(),
    }
}

impl Fleet {
    /// Starts building a fleet.
    pub fn builder() -> FleetBuilder {
        FleetBuilder::default()
    }

    /// A handle to a device, which bluefleet starts managing (idempotent).
    pub async fn device(&self, address: Address) -> Result<Device> {
        self.manage(address, None).await
    }

    /// Like [`Fleet::device`], connecting with the address kind given rather than the one
    /// the device's adverts carry (for a random-address device not heard yet, or a backend
    /// that does not report the kind). Kept across restarts of the device's actor.
    pub async fn device_with_kind(&self, address: Address, kind: AddressKind) -> Result<Device> {
        self.manage(address, Some(kind)).await
    }

    async fn manage(&self, address: Address, kind: Option<AddressKind>) -> Result<Device> {
        let actor = self
            .supervisor
            .send(Manage { address, kind })
            .await
            .map_err(gone)??;
        Ok(Device::new(address, actor, self.clone()))
    }

    /// Adds a radio to a running fleet.
    pub async fn add_radio(&self, radio: Arc<dyn Radio>) -> Result<()> {
        self.supervisor.send(AddRadio(radio)).await.map_err(gone)?
    }

    /// Removes a radio: its adapter actor stops (dropping the radio's event stream), no slot is
    /// granted on it again, and devices linked through it disconnect (and reconnect through
    /// another radio if they still want to). [`Fleet::follow_bluez_adapters`] does this for
    /// BlueZ adapters that go away.
    pub async fn remove_radio(&self, radio: &crate::model::RadioId) -> Result<()> {
        self.supervisor
            .send(RemoveRadio(radio.clone()))
            .await
            .map_err(gone)?
    }

    /// Follows BlueZ adapters as they come and go (the stream of
    /// [`BluezRadio::watch_adapters`](crate::backend::bluez::BluezRadio::watch_adapters),
    /// filtered as the hub likes): a removed adapter is removed as [`Fleet::remove_radio`]
    /// does (its devices move to other radios, its leases are freed), an added one is added
    /// as [`Fleet::add_radio`] does (refused, and logged, when its name is registered).
    /// Returns once the Supervisor has the stream; it follows it until the stream ends or the
    /// fleet shuts down.
    #[cfg(feature = "bluez")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bluez")))]
    pub async fn follow_bluez_adapters(
        &self,
        changes: impl Stream<Item = crate::backend::bluez::AdapterChange> + Send + 'static,
    ) -> Result<()> {
        use crate::backend::bluez::AdapterChange;
        let changes = changes
            .map(|change| match change {
                AdapterChange::Added(radio) => RadioChange::Added(Arc::new(radio)),
                AdapterChange::Removed(id) => RadioChange::Removed(id),
            })
            .boxed();
        self.supervisor
            .send(FollowRadios(changes))
            .await
            .map_err(gone)
    }

    /// Every connection attempt step from now on: which radios each device considered (and
    /// why it passed over the others), starts, outcomes with their class, and when the next
    /// attempt is due. Bounded: a listener more than 1024 events behind gets one
    /// [`AttemptEvent::Missed`] with the count instead (devices are never slowed down).
    pub fn attempt_events(&self) -> impl Stream<Item = AttemptEvent> + Send + 'static {
        BroadcastStream::new(self.shared.attempt_events.subscribe()).map(|item| match item {
            Ok(event) => event,
            Err(BroadcastStreamRecvError::Lagged(count)) => AttemptEvent::Missed { count },
        })
    }

    /// The first device that matches `filter`, waiting up to `timeout` (devices already heard
    /// count at once).
    pub async fn find_device(
        &self,
        filter: &AdvertFilter,
        timeout: Duration,
    ) -> Result<HeardDevice> {
        let mut live = Box::pin(self.adverts());
        if let Some(found) = self
            .heard()
            .into_iter()
            .find(|d| self.view_matches(filter, &d.address))
        {
            return Ok(found);
        }
        let search = async {
            while let Some(item) = live.next().await {
                let Watched::Item(advert) = item else {
                    continue;
                };
                if filter.matches(&*advert) {
                    if let Some(found) = self.heard_device(&advert.address) {
                        return Some(found);
                    }
                }
            }
            None
        };
        match tokio::time::timeout(timeout, search).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(Error::ActorGone {
                what: "the advertisement feed".into(),
            }),
            Err(_) => Err(Error::Timeout {
                operation: "find device".into(),
                after: timeout,
            }),
        }
    }

    fn view_matches(&self, filter: &AdvertFilter, address: &Address) -> bool {
        let pipeline = self.shared.pipeline();
        pipeline
            .device(address)
            .is_some_and(|view| filter.matches(view))
    }

    /// What the fleet knows of one heard device, if heard.
    pub fn heard_device(&self, address: &Address) -> Option<HeardDevice> {
        let pipeline = self.shared.pipeline();
        pipeline
            .device(address)
            .map(|view| HeardDevice::from_view(&pipeline, view))
    }

    /// Every device heard and not yet timed out, by address.
    pub fn heard(&self) -> Vec<HeardDevice> {
        let pipeline = self.shared.pipeline();
        let mut all: Vec<_> = pipeline
            .devices()
            .map(|view| HeardDevice::from_view(&pipeline, view))
            .collect();
        all.sort_by_key(|d| d.address);
        all
    }

    /// Gives (or replaces) the bindkey of an encrypted sensor; its next changed advert
    /// decodes with it.
    pub fn set_bindkey(&self, address: Address, key: crate::decode::Bindkey) {
        self.shared
            .pipeline()
            .readings_mut()
            .set_bindkey(address, key);
    }

    /// Beacons seen so far, by type.
    pub fn beacon_counts(&self) -> BeaconCounts {
        self.shared.pipeline().beacons().counts()
    }

    /// Every radio's slots, without a round trip.
    pub fn slot_usage(&self) -> Vec<SlotUsage> {
        self.shared.ledger.usage()
    }

    /// Forgets the cached GATT table of `address`, so its next connection rediscovers it
    /// (what a proxy client's "clear cache" request asks for).
    pub fn forget_services(&self, address: Address) {
        self.shared.cache.invalidate(&address);
    }

    /// Radios, devices and counters.
    pub async fn diagnostics(&self) -> Result<Diagnostics> {
        self.supervisor.send(GetDiagnostics).await.map_err(gone)
    }

    /// Disconnects every device, then stops every actor: device actors, adapter actors (each
    /// dropping its radio's event stream, which ends BlueZ discovery or an ESPHome session's
    /// advert subscription) and the Supervisor. Subscription streams end. The service cache is
    /// written through on every change, so nothing is left to flush.
    pub async fn shutdown(&self) -> Result<()> {
        self.supervisor.send(ShutdownFleet).await.map_err(gone)
    }

    /// Fault injection for tests: the device's actor panics; it is restarted and its slot
    /// released. Returns false if the device is not managed.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub async fn crash_device_actor(&self, address: Address) -> bool {
        self.supervisor
            .send(CrashDevice(address))
            .await
            .unwrap_or(false)
    }
}
