//! [`Fleet`]: the handle a hub holds to the whole fleet.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::runtime::OwnSystem;
use super::{Device, FleetBuilder};
use crate::adapter::slots::SlotUsage;
use crate::backend::Radio;
use crate::model::{Address, Advertisement};
use crate::supervisor::diagnostics::Diagnostics;
use crate::supervisor::messages::{AddRadio, CrashDevice, GetDiagnostics, Manage, ShutdownFleet};
use crate::supervisor::shared_view::Shared;
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
        let actor = self
            .supervisor
            .send(Manage { address })
            .await
            .map_err(gone)??;
        Ok(Device::new(address, actor, self.clone()))
    }

    /// Adds a radio to a running fleet.
    pub async fn add_radio(&self, radio: Arc<dyn Radio>) -> Result<()> {
        self.supervisor.send(AddRadio(radio)).await.map_err(gone)?
    }

    /// Every advertisement from now on, from every radio. A consumer that falls behind skips
    /// what it missed rather than slowing the fleet.
    pub fn adverts(&self) -> impl Stream<Item = Advertisement> + Send + 'static {
        BroadcastStream::new(self.shared.advert_feed.subscribe())
            .filter_map(|item| async move { item.ok() })
    }

    /// The first device whose advertisement matches, waiting up to `timeout` (devices already
    /// heard count at once).
    pub async fn find_device(
        &self,
        matches: impl Fn(&Advertisement) -> bool,
        timeout: Duration,
    ) -> Result<Advertisement> {
        let mut live = Box::pin(self.adverts());
        if let Some(found) = self.heard().into_iter().find(|a| matches(a)) {
            return Ok(found);
        }
        let search = async {
            while let Some(advert) = live.next().await {
                if matches(&advert) {
                    return Some(advert);
                }
            }
            None
        };
        match tokio::time::timeout(timeout, search).await {
            Ok(Some(advert)) => Ok(advert),
            Ok(None) => Err(Error::ActorGone {
                what: "the advertisement feed".into(),
            }),
            Err(_) => Err(Error::Timeout {
                operation: "find device".into(),
                after: timeout,
            }),
        }
    }

    /// The latest advertisement of a device (fields merged across adverts), if heard.
    pub fn latest_advert(&self, address: &Address) -> Option<Advertisement> {
        self.shared.latest_adverts.get(address).map(|a| a.clone())
    }

    /// Every device heard so far, latest advertisement each, by address.
    pub fn heard(&self) -> Vec<Advertisement> {
        let mut all: Vec<_> = self
            .shared
            .latest_adverts
            .iter()
            .map(|a| a.clone())
            .collect();
        all.sort_by_key(|a| a.address);
        all
    }

    /// Every radio's slots, without a round trip.
    pub fn slot_usage(&self) -> Vec<SlotUsage> {
        self.shared.ledger.usage()
    }

    /// Radios, devices and counters.
    pub async fn diagnostics(&self) -> Result<Diagnostics> {
        self.supervisor.send(GetDiagnostics).await.map_err(gone)
    }

    /// Disconnects every device, then stops the actors. The service cache is written through
    /// on every change, so nothing is left to flush.
    pub async fn shutdown(&self) -> Result<()> {
        self.supervisor.send(ShutdownFleet).await.map_err(gone)
    }

    /// Fault injection for tests: the device's actor panics; it is restarted and its slot
    /// released. Returns false if the device is not managed.
    #[doc(hidden)]
    pub async fn crash_device_actor(&self, address: Address) -> bool {
        self.supervisor
            .send(CrashDevice(address))
            .await
            .unwrap_or(false)
    }
}
