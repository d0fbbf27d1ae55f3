//! The public error type: [`Error`], its class [`ErrorKind`], and [`Result`].
//!
//! One enum for every failure a user can see. Connection failures carry the class the
//! classifier gave them, the radio and attempt count, and the backend's original words (a
//! [`Failure`]), so a log line is enough to know what happened and what bluefleet did next.
//! Other variants name the bad input (an unknown address, a characteristic the device does not
//! have, a config field) instead of a generic message.

mod att;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

pub use att::AttError;

use crate::backend::Failure;
use crate::model::{Address, ParseAddressError, ParseUuidError, RadioId};

/// The four classes every connection failure falls into (design §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The radio cannot see the device: wait for a fresh advertisement, then retry.
    NotFound,
    /// The radio has no free connection slot: try another radio, else back off longer.
    OutOfSlots,
    /// Transient radio trouble: retry soon, same or another radio.
    Aborted,
    /// Anything else: back off and retry within the attempt budget.
    Generic,
}

impl ErrorKind {
    /// The kebab-case name (`not-found`, `out-of-slots`, `aborted`, `generic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not-found",
            Self::OutOfSlots => "out-of-slots",
            Self::Aborted => "aborted",
            Self::Generic => "generic",
        }
    }

    /// All four, in table order.
    pub const ALL: [ErrorKind; 4] = [
        Self::NotFound,
        Self::OutOfSlots,
        Self::Aborted,
        Self::Generic,
    ];
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong, as a user of bluefleet sees it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Connecting failed (or a link broke) for a classified reason.
    #[error("{address}: {kind} after {attempts} attempt(s){}: {failure}", via(.radio))]
    Connection {
        /// The device.
        address: Address,
        /// The radio of the last attempt, if one was chosen.
        radio: Option<RadioId>,
        /// Attempts made.
        attempts: u32,
        /// The class.
        kind: ErrorKind,
        /// The backend's words from the last attempt.
        failure: Failure,
    },
    /// No radio that heard the device has a free slot or is up, and the request could not wait.
    #[error("{address}: no radio can reach it now ({reason})")]
    NoRadio {
        /// The device.
        address: Address,
        /// The class: not-found when no radio heard it, out-of-slots when radios heard it but
        /// none had a slot.
        kind: ErrorKind,
        /// Why each radio was passed over.
        reason: String,
    },
    /// The device advertises that it accepts no connections (a beacon): connecting is refused
    /// at once instead of holding a radio's queue for a connect timeout on every attempt.
    #[error("{address} advertises as not connectable (a beacon?): it cannot be connected")]
    NotConnectable {
        /// The device.
        address: Address,
    },
    /// The device has no such characteristic.
    #[error("{address}: no characteristic {characteristic}")]
    CharacteristicNotFound {
        /// The device.
        address: Address,
        /// The characteristic asked for.
        characteristic: crate::model::CharacteristicRef,
    },
    /// The characteristic has no such descriptor.
    #[error("{address}: characteristic {characteristic} has no descriptor {uuid}")]
    DescriptorNotFound {
        /// The device.
        address: Address,
        /// The characteristic.
        characteristic: crate::model::CharacteristicRef,
        /// The descriptor asked for.
        uuid: Uuid,
    },
    /// The device refused a GATT request.
    #[error("{address}: GATT error {status}: {failure}")]
    Gatt {
        /// The device.
        address: Address,
        /// The ATT error code.
        status: AttError,
        /// The backend's words.
        failure: Failure,
    },
    /// A GATT operation failed without an ATT error code (link trouble, backend error).
    #[error("{address}: {operation} failed: {failure}")]
    Operation {
        /// The device.
        address: Address,
        /// What was being done.
        operation: &'static str,
        /// The backend's words.
        failure: Failure,
    },
    /// The operation did not finish in time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What was being done.
        operation: String,
        /// The deadline.
        after: Duration,
    },
    /// The operation was cancelled (the fleet shut down, the device was released).
    #[error("{operation} cancelled")]
    Cancelled {
        /// What was being done.
        operation: String,
    },
    /// An actor the handle talks to is gone (the fleet was shut down).
    #[error("{what} is no longer running")]
    ActorGone {
        /// Which actor.
        what: String,
    },
    /// No radio by that name.
    #[error("no radio named '{name}'")]
    UnknownRadio {
        /// The name asked for.
        name: String,
    },
    /// The backend cannot do this.
    #[error("the {backend} backend does not support {operation}")]
    Unsupported {
        /// Which backend.
        backend: &'static str,
        /// What was asked.
        operation: &'static str,
    },
    /// Bad configuration: a world file, a hub file, a builder option.
    #[error("invalid configuration: {what}: {reason}")]
    Config {
        /// The field or file.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Text that should have been an address was not.
    #[error(transparent)]
    Address(#[from] ParseAddressError),
    /// Text that should have been a UUID was not.
    #[error(transparent)]
    Uuid(#[from] ParseUuidError),
}

fn via(radio: &Option<RadioId>) -> String {
    radio
        .as_ref()
        .map(|r| format!(" via {r}"))
        .unwrap_or_default()
}

impl Error {
    /// The connection class of this error, for the errors that have one.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Connection { kind, .. } => Some(*kind),
            Self::NoRadio { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The backend's own words, when a backend failure caused this error.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::Connection { failure, .. }
            | Self::Gatt { failure, .. }
            | Self::Operation { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// A configuration error.
    pub fn config(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// `Result` with bluefleet's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::FailureStage;

    #[test]
    fn connection_error_keeps_class_radio_attempts_and_text() {
        let failure = Failure::dbus(
            FailureStage::Connect,
            "org.bluez.Error.Failed",
            "le-connection-abort-by-local",
        );
        let err = Error::Connection {
            address: Address::parse("A4:CF:12:34:56:78").unwrap(),
            radio: Some(RadioId::new("hci0")),
            attempts: 3,
            kind: ErrorKind::Aborted,
            failure,
        };
        assert_eq!(err.kind(), Some(ErrorKind::Aborted));
        assert_eq!(
            err.to_string(),
            "A4:CF:12:34:56:78: aborted after 3 attempt(s) via hci0: \
             [org.bluez.Error.Failed] le-connection-abort-by-local"
        );
        assert!(err.failure().is_some());
    }

    #[test]
    fn non_connection_errors_have_no_class() {
        assert_eq!(Error::config("slots", "must be at least 1").kind(), None);
        let from_parse: Error = Address::parse("zz").unwrap_err().into();
        assert!(from_parse.to_string().contains("'zz'"));
    }
}
