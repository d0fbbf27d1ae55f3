//! What radios and links report upward: [`RadioEvent`] and [`LinkEvent`].
//!
//! These are the only things that flow *up* from a backend. The adapter actor consumes a radio's
//! event stream; the device actor consumes a link's. Both are past-tense facts, never requests.

use bytes::Bytes;

use crate::model::{Address, Advertisement, RawAdvert};

/// Something a radio observed.
#[derive(Clone, Debug, PartialEq)]
pub enum RadioEvent {
    /// Advertisements heard, in the order heard. Proxies deliver batches (up to 16 every
    /// 100 ms on ESPHome); local controllers deliver one at a time.
    Adverts(Vec<Advertisement>),
    /// Undecoded advertisements heard by this radio, in the order heard: radios that receive
    /// AD bytes send these, so repeats are dropped before anything is decoded.
    RawAdverts(Vec<RawAdvert>),
    /// The radio is usable (powered, connected to the hub).
    Up,
    /// The radio stopped being usable. Every link through it has ended (each link's stream
    /// reports it) and every slot it held is gone.
    Down {
        /// Why, in the backend's words.
        reason: String,
    },
    /// The radio's own account of its connection slots (ESPHome proxies report this; BlueZ
    /// does not). The adapter actor reconciles its slot pool with it.
    SlotsReported(SlotReport),
    /// The consumer fell behind and this many adverts were dropped, oldest first, just before
    /// the events that follow (said by the bounded channel, [`crate::backend::radio_events`],
    /// not by a radio).
    AdvertsDropped {
        /// Adverts dropped.
        count: u64,
    },
}

/// A radio's report of its connection slots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotReport {
    /// Slots free.
    pub free: usize,
    /// Slots in all.
    pub limit: usize,
    /// Addresses holding a slot, where the radio says.
    pub allocated: Vec<Address>,
}

/// Something that happened on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// A notification or indication value.
    Notification {
        /// Value handle of the characteristic.
        handle: u16,
        /// The value.
        value: Bytes,
    },
    /// The device said its services changed (Service Changed indication): cached handles may
    /// be wrong.
    ServicesChanged,
    /// The consumer fell behind and this many values of one characteristic were dropped,
    /// oldest first, just before the events that follow (said by the bounded channel,
    /// [`crate::backend::link_events`], not by a radio).
    NotificationsDropped {
        /// Value handle of the characteristic.
        handle: u16,
        /// Values dropped.
        count: u64,
    },
    /// The link ended. This is the last event of a link's stream.
    Disconnected {
        /// Why it ended.
        cause: DisconnectCause,
        /// The backend's words.
        detail: String,
    },
}

/// Why a link ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisconnectCause {
    /// We asked for it.
    Requested,
    /// The peer closed the link.
    PeerClosed,
    /// The link was lost (supervision timeout, out of range).
    LinkLost,
    /// The radio went down or was removed.
    RadioDown,
}

impl std::fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Requested => "disconnect requested",
            Self::PeerClosed => "peer closed the link",
            Self::LinkLost => "link lost",
            Self::RadioDown => "radio down",
        })
    }
}
