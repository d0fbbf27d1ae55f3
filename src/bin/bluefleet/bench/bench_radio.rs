//! A radio for benchmarks: it replays advertisements as fast as they are taken, and opens links
//! whose notifications the benchmark pushes by hand. No timing of its own, so what is measured
//! is bluefleet's cost (adapter actor → Supervisor → pipeline; link → device actor → queues).
//! Links use bluefleet's own bounded link channel, as the real backends do, so a managed
//! device's measured memory is what it costs over a real radio.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bluefleet::backend::{
    link_events, ConnectRequest, Connection, DisconnectCause, Failure, Link, LinkEventSender,
    Radio, RadioEvent, RadioInfo, RadioKind, WriteMode,
};
use bluefleet::model::{uuid_from_u16, CharProps, GattCharacteristic, GattService, GattTable};
use bluefleet::{Address, RadioId};
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::oneshot;

/// The notifying characteristic every bench link has.
pub const VALUE_HANDLE: u16 = 3;

/// A pusher for one open link.
pub type LinkFeed = (Address, LinkEventSender);

type AdvertSource = Box<dyn FnMut() -> Option<RadioEvent> + Send>;

/// The bench radio.
pub struct BenchRadio {
    id: RadioId,
    adverts: Mutex<Option<AdvertSource>>,
    /// Adverts start flowing when this fires (or at once without it).
    gate: Mutex<Option<oneshot::Receiver<()>>>,
    links: Arc<Mutex<Vec<LinkFeed>>>,
}

impl std::fmt::Debug for BenchRadio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchRadio")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl BenchRadio {
    /// A radio whose event stream pulls batches from `next` until it returns `None`, then idles.
    pub fn new(name: &str, next: impl FnMut() -> Option<RadioEvent> + Send + 'static) -> Self {
        Self {
            id: RadioId::new(name),
            adverts: Mutex::new(Some(Box::new(next))),
            gate: Mutex::new(None),
            links: Arc::default(),
        }
    }

    /// Like [`Self::new`], but the adverts wait (after `Up`) until `gate` fires, so a
    /// benchmark can start its clock after the fleet is built.
    pub fn gated(
        name: &str,
        gate: oneshot::Receiver<()>,
        next: impl FnMut() -> Option<RadioEvent> + Send + 'static,
    ) -> Self {
        let radio = Self::new(name, next);
        if let Ok(mut slot) = radio.gate.lock() {
            *slot = Some(gate);
        }
        radio
    }

    /// Every link opened so far.
    pub fn links(&self) -> Vec<LinkFeed> {
        self.links.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Radio for BenchRadio {
    fn id(&self) -> RadioId {
        self.id.clone()
    }

    fn info(&self) -> RadioInfo {
        RadioInfo {
            kind: RadioKind::LocalController,
            slot_limit: 100_000,
            reports_slots: false,
        }
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let source = self.adverts.lock().ok().and_then(|mut s| s.take());
        let replay = stream::unfold(source, |source| async move {
            let mut source = source?;
            let event = source()?;
            Some((event, Some(source)))
        });
        let gate = self.gate.lock().ok().and_then(|mut g| g.take());
        let opened = stream::once(async move {
            if let Some(gate) = gate {
                let _ = gate.await;
            }
        })
        .filter_map(|()| async { None });
        stream::once(async { RadioEvent::Up })
            .chain(opened)
            .chain(replay)
            .chain(stream::pending())
            .boxed()
    }

    async fn connect(&self, request: ConnectRequest) -> Result<Connection, Failure> {
        let (feed, events) = link_events();
        if let Ok(mut links) = self.links.lock() {
            links.push((request.address, feed.clone()));
        }
        let link = BenchLink {
            address: request.address,
            feed,
        };
        Ok(Connection {
            link: Box::new(link),
            events,
        })
    }
}

#[derive(Debug)]
struct BenchLink {
    address: Address,
    feed: LinkEventSender,
}

#[async_trait]
impl Link for BenchLink {
    fn address(&self) -> Address {
        self.address
    }

    fn mtu(&self) -> u16 {
        247
    }

    async fn services(&self) -> Result<GattTable, Failure> {
        let characteristic = GattCharacteristic {
            uuid: uuid_from_u16(0x2A6E),
            handle: VALUE_HANDLE,
            properties: CharProps::NOTIFY | CharProps::READ,
            descriptors: Vec::new(),
        };
        let service = GattService {
            uuid: uuid_from_u16(0x181A),
            handle: 1,
            characteristics: vec![characteristic],
        };
        Ok(GattTable {
            services: vec![service],
            mtu: 247,
        })
    }

    async fn read(&self, _: u16) -> Result<Bytes, Failure> {
        Ok(Bytes::from_static(&[0, 0]))
    }

    async fn write(&self, _: u16, _: Bytes, _: WriteMode) -> Result<(), Failure> {
        Ok(())
    }

    async fn read_descriptor(&self, _: u16) -> Result<Bytes, Failure> {
        Ok(Bytes::new())
    }

    async fn write_descriptor(&self, _: u16, _: Bytes) -> Result<(), Failure> {
        Ok(())
    }

    async fn set_notify(&self, _: u16, _: bool) -> Result<(), Failure> {
        Ok(())
    }

    async fn disconnect(&self) -> Result<(), Failure> {
        self.feed.disconnected(DisconnectCause::Requested, "bench");
        Ok(())
    }
}
