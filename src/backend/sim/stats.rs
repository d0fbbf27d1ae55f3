//! What the simulation counted: per-radio and per-device counters, and the optional trace.
//!
//! Owns [`SimStats`] (a snapshot: plain numbers a test or benchmark asserts on) and
//! [`TraceEvent`] (one timestamped fact, recorded only when the simulation was started with
//! a trace, so a test can compare two runs for determinism). The live counters sit inside the
//! simulation's single state mutex and are bumped where the event happens; a snapshot is a
//! clone, with no trace vector behind the counters.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::backend::DisconnectCause;
use crate::model::{Address, RadioId};
use crate::ErrorKind;

/// Failed connection attempts by the class the simulation meant each failure to have (it asks
/// no classifier, as no backend does; its unit tests check the classifier reads each as meant).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Classified not-found.
    pub not_found: u64,
    /// Classified out-of-slots.
    pub out_of_slots: u64,
    /// Classified aborted.
    pub aborted: u64,
    /// Classified generic.
    pub generic: u64,
}

impl FailureCounts {
    /// The count for one class.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        match kind {
            ErrorKind::NotFound => self.not_found,
            ErrorKind::OutOfSlots => self.out_of_slots,
            ErrorKind::Aborted => self.aborted,
            _ => self.generic,
        }
    }

    pub(crate) fn bump(&mut self, kind: ErrorKind) {
        match kind {
            ErrorKind::NotFound => self.not_found += 1,
            ErrorKind::OutOfSlots => self.out_of_slots += 1,
            ErrorKind::Aborted => self.aborted += 1,
            _ => self.generic += 1,
        }
    }

    /// All failures.
    pub fn total(&self) -> u64 {
        self.not_found + self.out_of_slots + self.aborted + self.generic
    }
}

/// One radio's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RadioStats {
    /// The radio.
    pub name: String,
    /// Connection attempts the radio accepted (busy rejections are counted apart).
    pub connect_attempts: u64,
    /// Attempts that produced a link.
    pub successes: u64,
    /// Failed attempts by class.
    pub failures: FailureCounts,
    /// Failed attempts by the failure's display text (`[name] text (code)`).
    pub failures_by_text: BTreeMap<String, u64>,
    /// Attempts refused because another was in flight.
    pub concurrent_rejections: u64,
    /// Slots held now (reservations for attempts in flight included), as the radio sees it.
    pub slots_in_use: usize,
    /// Who holds those slots, in the order they took them, as the radio sees it. A local
    /// controller names its holders here too, though only proxies report slots to the fleet,
    /// so a test can check the fleet's leases against the radio's own truth on any kind.
    pub slot_holders: Vec<Address>,
    /// Most slots ever held at once.
    pub max_slots_in_use: usize,
    /// Most connect calls in progress at once (a refused one counts while it is refused).
    pub max_concurrent_attempts: usize,
    /// Adverts the radio heard.
    pub adverts_heard: u64,
}

/// One device's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceStats {
    /// The device.
    pub address: Address,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Links established to it.
    pub connects: u64,
    /// Full service discoveries run.
    pub discoveries: u64,
    /// ATT round trips spent on discovery.
    pub discovery_round_trips: u64,
    /// `services()` calls answered from the connect request's cache.
    pub cache_hits: u64,
    /// ATT round trips spent on reads, writes and notify changes.
    pub gatt_round_trips: u64,
    /// Notifications delivered to links.
    pub notifications_sent: u64,
    /// `disconnect()` calls on a link that had already ended (a client that did not believe
    /// the `Disconnected` it was told).
    pub disconnects_after_end: u64,
    /// Advertising events sent (heard or not).
    pub adverts_sent: u64,
}

impl DeviceStats {
    pub(crate) fn new(address: Address, name: Option<String>) -> Self {
        Self {
            address,
            name,
            connects: 0,
            discoveries: 0,
            discovery_round_trips: 0,
            cache_hits: 0,
            gatt_round_trips: 0,
            notifications_sent: 0,
            disconnects_after_end: 0,
            adverts_sent: 0,
        }
    }
}

/// A snapshot of every counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Per radio, in world order.
    pub radios: Vec<RadioStats>,
    /// Per device, in world order.
    pub devices: Vec<DeviceStats>,
}

impl SimStats {
    /// The counters of the radio with this name.
    pub fn radio(&self, name: &str) -> Option<&RadioStats> {
        self.radios.iter().find(|r| r.name == name)
    }

    /// The counters of the device with this address.
    pub fn device(&self, address: Address) -> Option<&DeviceStats> {
        self.devices.iter().find(|d| d.address == address)
    }
}

/// One fact in the trace, with its virtual time since the simulation started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Virtual time since start.
    pub at: Duration,
    /// What happened.
    pub what: Traced,
}

/// The facts a trace records.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Traced {
    /// A radio heard an advert.
    AdvertHeard {
        /// The radio.
        radio: RadioId,
        /// The advertiser.
        device: Address,
        /// How loud.
        rssi_dbm: i16,
    },
    /// A connect call was refused because another attempt was in flight.
    ConnectRefusedBusy {
        /// The radio.
        radio: RadioId,
        /// The device asked for.
        device: Address,
    },
    /// A connection attempt began.
    ConnectStarted {
        /// The radio.
        radio: RadioId,
        /// The device.
        device: Address,
    },
    /// A link came up.
    Connected {
        /// The radio.
        radio: RadioId,
        /// The device.
        device: Address,
    },
    /// An attempt failed.
    ConnectFailed {
        /// The radio.
        radio: RadioId,
        /// The device.
        device: Address,
        /// The failure as displayed.
        failure: String,
    },
    /// A link ended.
    Disconnected {
        /// The radio.
        radio: RadioId,
        /// The device.
        device: Address,
        /// Why.
        cause: DisconnectCause,
    },
    /// A notification went out on a link.
    Notified {
        /// The device.
        device: Address,
        /// The value handle.
        handle: u16,
        /// The value.
        value: Vec<u8>,
    },
    /// A radio went down.
    RadioDown {
        /// The radio.
        radio: RadioId,
    },
    /// A radio came back.
    RadioUp {
        /// The radio.
        radio: RadioId,
    },
}
