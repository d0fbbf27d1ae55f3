//! A device's connection state as users see it: [`DeviceState`] and the [`DeviceStatus`]
//! snapshot.
//!
//! The device actor publishes a new status on every transition (through a `watch` channel, so
//! a handle can read the latest or await the next without asking the actor). The shape follows
//! design §2: Idle → Waiting → Connecting(radio) → Connected(radio) → Backoff → …

use std::time::Duration;

use serde::Serialize;

use crate::error::ErrorKind;
use crate::model::{Address, RadioId};

/// Why a device that wants a connection is not connecting right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitReason {
    /// No radio heard it recently (or it failed not-found): waiting for a fresh advertisement.
    Advertisement,
    /// Radios heard it but none has a free slot: waiting for one to free up.
    Slot,
}

/// Where a device's connection stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DeviceState {
    /// Nothing wanted of it.
    Idle,
    /// Wanted, but waiting.
    Waiting {
        /// For what.
        reason: WaitReason,
    },
    /// An attempt is queued or running on a radio.
    Connecting {
        /// The radio.
        radio: RadioId,
        /// Attempt number since the last success.
        attempt: u32,
    },
    /// Connected.
    Connected {
        /// The radio.
        radio: RadioId,
    },
    /// Waiting out the backoff after a failure.
    Backoff {
        /// Remaining wait when this was published.
        remaining: Duration,
        /// The class of the failure that caused it; `None` after a link drop.
        after: Option<ErrorKind>,
    },
}

impl DeviceState {
    /// Whether this is `Connected`.
    pub fn is_connected(&self) -> bool {
        matches!(self, Self::Connected { .. })
    }

    /// A short lower-case label (`connected`, `backoff`, ...).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Waiting {
                reason: WaitReason::Advertisement,
            } => "waiting-advert",
            Self::Waiting {
                reason: WaitReason::Slot,
            } => "waiting-slot",
            Self::Connecting { .. } => "connecting",
            Self::Connected { .. } => "connected",
            Self::Backoff { .. } => "backoff",
        }
    }
}

/// A managed device's published status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceStatus {
    /// The device.
    pub address: Address,
    /// Its state.
    pub state: DeviceState,
    /// Whether the user asked to keep it connected.
    pub keep_connected: bool,
    /// The last failure: class and text.
    pub last_error: Option<(ErrorKind, String)>,
    /// Successful connections so far.
    pub connections: u64,
    /// Failed attempts so far.
    pub failed_attempts: u64,
    /// Notifications delivered to subscribers so far.
    pub notifications: u64,
    /// Subscribers now.
    pub subscribers: usize,
    /// When it entered its current state, as time since the fleet started (virtual time on a
    /// paused-clock simulation; seconds in JSON).
    #[serde(serialize_with = "seconds")]
    pub since: Duration,
    /// When the last failure happened, on the same clock.
    #[serde(serialize_with = "maybe_seconds")]
    pub last_error_at: Option<Duration>,
}

fn seconds<S: serde::Serializer>(at: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(at.as_secs_f64())
}

fn maybe_seconds<S: serde::Serializer>(
    at: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => seconds(at, serializer),
        None => serializer.serialize_none(),
    }
}

impl DeviceStatus {
    /// The status of a device nothing has happened to yet.
    pub fn new(address: Address) -> Self {
        Self {
            address,
            state: DeviceState::Idle,
            keep_connected: false,
            last_error: None,
            connections: 0,
            failed_attempts: 0,
            notifications: 0,
            subscribers: 0,
            since: Duration::ZERO,
            last_error_at: None,
        }
    }
}
