//! The seam between bluefleet and the radios: the [`Radio`] and [`Link`] traits.
//!
//! Every backend (the simulated radio, BlueZ, ESPHome proxies, btleplug) implements these two
//! traits and nothing above this module knows which backend it talks to. A [`Radio`] is one
//! controller or proxy: it streams [`RadioEvent`]s and opens connections. A [`Link`] is one
//! open connection: GATT operations, plus a [`LinkEvent`] stream handed out with it.
//!
//! # What every backend guarantees
//! - **Failures keep the radio's words.** Every error is a [`Failure`] with the backend's own
//!   name, code and text; the classifier decides what it means, the backend never does.
//! - **Notifications are in order.** A link's event stream yields the notifications of each
//!   characteristic in the order the device sent them, and never after `Disconnected`.
//! - **`Disconnected` is final and exactly once.** A link's stream ends with exactly one
//!   `LinkEvent::Disconnected` (requested, peer, lost, radio down), then closes. A radio going
//!   down ends every link through it this way before (or as) it reports `RadioEvent::Down`.
//! - **Bounded, with a loss policy.** Event streams are bounded ([`radio_events`],
//!   [`link_events`]): when the consumer falls behind, the oldest adverts or notifications are
//!   dropped and announced in the stream (`AdvertsDropped`, `NotificationsDropped`); states
//!   (`Up`/`Down`, slot reports, Service Changed, `Disconnected`) are never dropped.
//! - **One attempt at a time is the caller's job.** Real controllers reject a second concurrent
//!   LE connection attempt (`org.bluez.Error.InProgress`, the ESP32 busy state); backends do not
//!   queue for the caller. The adapter actor serialises attempts per radio.
//! - **Slots are the radio's truth where it reports them.** Radios that count their own slots
//!   send `RadioEvent::SlotsReported`; the adapter actor reconciles with it.
//! - **Cancel-safe.** Dropping a `connect` future must not leave the radio holding a slot: the
//!   backend tears down a half-made connection itself.
//! - **Hostile input is an error, not a panic**, and ends only what it concerns.

#[cfg(feature = "bluez")]
#[cfg_attr(docsrs, doc(cfg(feature = "bluez")))]
pub mod bluez;
#[cfg(feature = "btleplug")]
#[cfg_attr(docsrs, doc(cfg(feature = "btleplug")))]
pub mod btleplug;
#[cfg(feature = "esphome")]
#[cfg_attr(docsrs, doc(cfg(feature = "esphome")))]
pub mod esphome;
pub mod events;
pub mod failure;
mod layer;
pub(crate) mod queue;
pub mod recovery;
pub mod scan_mode;
pub mod sim;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use events::{DisconnectCause, LinkEvent, RadioEvent, SlotReport};
pub use failure::{Failure, FailureSource, FailureStage};
pub use layer::RadioLayer;
pub use queue::{
    link_events, radio_events, LinkEventSender, RadioEventSender, LINK_EVENT_CAPACITY,
    RADIO_ADVERT_CAPACITY,
};
pub use recovery::RecoveryStep;
pub use scan_mode::{ScanMode, ScanModeReport};

use crate::model::{Address, AddressKind, GattTable, RadioId};

/// What kind of radio this is; it decides defaults and which failure vocabulary applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RadioKind {
    /// A local controller (BlueZ, btleplug): about 5–10 LE connections.
    LocalController,
    /// An ESPHome Bluetooth proxy: 3 slots by default, reports its own slot use.
    EsphomeProxy,
}

/// Static facts about a radio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RadioInfo {
    /// Controller or proxy.
    pub kind: RadioKind,
    /// Connection slots the radio offers (configured, or reported at start).
    pub slot_limit: usize,
    /// Whether the radio sends `SlotsReported` (proxies do).
    pub reports_slots: bool,
}

/// A request to open a connection.
#[derive(Clone, Debug)]
pub struct ConnectRequest {
    /// Whom to connect to.
    pub address: Address,
    /// Public or random address, as the advert said.
    pub address_kind: AddressKind,
    /// Services cached from an earlier connection; a backend that can use them skips
    /// discovery (ESPHome connect-with-cache, the simulated radio).
    pub cached_services: Option<Arc<GattTable>>,
    /// Give up after this long (the backend reports a timed-out [`Failure`]).
    pub timeout: Duration,
}

/// An open connection and the stream of what happens on it.
pub struct Connection {
    /// The operations.
    pub link: Box<dyn Link>,
    /// Notifications, service changes, and the final `Disconnected`.
    pub events: BoxStream<'static, LinkEvent>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

/// How a characteristic write is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteMode {
    /// Write request: the device answers.
    WithResponse,
    /// Write command: no answer.
    WithoutResponse,
}

/// One radio: a local controller or a proxy.
#[async_trait]
pub trait Radio: Send + Sync + fmt::Debug + 'static {
    /// The radio's name.
    fn id(&self) -> RadioId;

    /// Kind and slot facts.
    fn info(&self) -> RadioInfo;

    /// A fresh stream of what the radio observes. The adapter actor calls it when it starts
    /// (and again after a restart, dropping the old stream). The stream starts with `Up` or
    /// `Down` as the radio's current state (a radio still making its first contact reports that
    /// contact's outcome first: a `Down` always means a real failure, with its reason in
    /// words), and ends only when the radio is gone for good.
    fn events(&self) -> BoxStream<'static, RadioEvent>;

    /// Opens a connection. The caller guarantees one attempt at a time per radio.
    async fn connect(&self, request: ConnectRequest) -> Result<Connection, Failure>;

    /// The recovery steps this radio can take when it goes quiet, mildest first (none by
    /// default: the watchdog then only reports the silence).
    fn recovery_steps(&self) -> Vec<RecoveryStep> {
        Vec::new()
    }

    /// Takes one recovery step; the error says in words why it could not.
    async fn recover(&self, step: RecoveryStep) -> Result<(), String> {
        Err(format!("{} cannot {step}", self.id()))
    }

    /// Asks the radio to scan this way from now on (it takes effect when scanning (re)starts,
    /// or at once where the radio can switch while running). The error says why it cannot.
    fn set_scan_mode(&self, wanted: ScanMode) -> Result<(), String> {
        Err(format!(
            "{} cannot choose its scan mode (asked for {wanted})",
            self.id()
        ))
    }

    /// The scan mode asked for and the one the radio confirms (`None`: the radio says
    /// nothing about scan modes).
    fn scan_mode(&self) -> Option<ScanModeReport> {
        None
    }

    /// The watchdog's account of this radio, for radios wrapped in one (a fleet built with
    /// [`crate::FleetBuilder::radio_watchdog`]); wrappers of radios pass it on.
    fn recovery_report(&self) -> Option<crate::watchdog::RecoveryReport> {
        None
    }
}

/// One open connection.
#[async_trait]
pub trait Link: Send + Sync + fmt::Debug {
    /// The peer.
    fn address(&self) -> Address;

    /// The negotiated ATT MTU.
    fn mtu(&self) -> u16;

    /// The GATT table: the cached one handed to `connect` when the backend used it (no round
    /// trips), else discovered now.
    async fn services(&self) -> Result<GattTable, Failure>;

    /// Reads a characteristic value by value handle.
    async fn read(&self, handle: u16) -> Result<Bytes, Failure>;

    /// Writes a characteristic value.
    async fn write(&self, handle: u16, value: Bytes, mode: WriteMode) -> Result<(), Failure>;

    /// Reads a descriptor by handle.
    async fn read_descriptor(&self, handle: u16) -> Result<Bytes, Failure>;

    /// Writes a descriptor by handle.
    async fn write_descriptor(&self, handle: u16, value: Bytes) -> Result<(), Failure>;

    /// Enables or disables notifications (or indications, for indicate-only characteristics),
    /// including the CCCD write where the radio does not do it itself.
    async fn set_notify(&self, handle: u16, enable: bool) -> Result<(), Failure>;

    /// Closes the link; the event stream then ends with `Disconnected { Requested }`.
    async fn disconnect(&self) -> Result<(), Failure>;
}
