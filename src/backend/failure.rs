//! [`Failure`]: a backend's own account of what went wrong, before bluefleet judges it.
//!
//! Every backend translates its error shape (a D-Bus error name and message, an ESP-IDF reason
//! or status code, a btleplug error, a timeout) into this one struct and keeps the backend's
//! words verbatim. The classifier (`crate::classify`) reads it to decide the error class; the
//! public [`crate::Error`] carries it so a user's log shows exactly what the radio said.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Which backend's vocabulary a failure is written in. The simulated radio writes in the
/// vocabulary of the radio kind it simulates, so the classifier sees real texts end to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureSource {
    /// BlueZ over D-Bus: `name` is the D-Bus error name.
    Bluez,
    /// An ESPHome proxy: `code` is an ESP-IDF reason or status code, `name` its enum name.
    Esphome,
    /// btleplug: `text` is its error's display text.
    Btleplug,
    /// bluefleet itself (its own deadline, a radio it lost).
    Fleet,
}

/// What the radio was doing when it failed: the same number means different things at
/// different stages (ESP32 reason codes at connect, ATT status codes in GATT operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureStage {
    /// Establishing the connection (including service discovery).
    Connect,
    /// A GATT operation on an established connection.
    Gatt,
    /// The link dropping or being torn down.
    Link,
}

/// The name a backend gives a failure that means "this backend cannot do that".
const UNSUPPORTED: &str = "bluefleet.Unsupported";

impl FailureSource {
    /// The backend's name, as the public error prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bluez => "bluez",
            Self::Esphome => "esphome",
            Self::Btleplug => "btleplug",
            Self::Fleet => "fleet",
        }
    }
}

/// A backend failure in the backend's own words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Whose vocabulary `name`, `code` and `text` are in.
    pub source: FailureSource,
    /// What was being done.
    pub stage: FailureStage,
    /// A symbolic error name: `org.bluez.Error.Failed`, `ESP_GATT_CONN_CONN_CANCEL`.
    pub name: Option<String>,
    /// A numeric code (ESP-IDF reason/status, HCI reason), kept raw.
    pub code: Option<i64>,
    /// The ATT error code when a GATT request was answered with an error response.
    pub att_status: Option<u8>,
    /// The message, verbatim.
    pub text: String,
    /// How long the attempt ran before failing, when known.
    pub elapsed: Option<Duration>,
    /// Whether this is a timeout (ours or the backend's).
    pub timed_out: bool,
}

impl Failure {
    /// A failure with just a source, stage and text.
    pub fn new(source: FailureSource, stage: FailureStage, text: impl Into<String>) -> Self {
        Self {
            source,
            stage,
            name: None,
            code: None,
            att_status: None,
            text: text.into(),
            elapsed: None,
            timed_out: false,
        }
    }

    /// A D-Bus error as BlueZ returns it: `org.bluez.Error.Failed` + `le-connection-abort-by-local`.
    pub fn dbus(stage: FailureStage, name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::new(FailureSource::Bluez, stage, text)
        }
    }

    /// An ESP-IDF code as an ESPHome proxy reports it.
    pub fn esp(stage: FailureStage, code: i64, name: &str, text: impl Into<String>) -> Self {
        Self {
            name: Some(name.to_string()),
            code: Some(code),
            ..Self::new(FailureSource::Esphome, stage, text)
        }
    }

    /// The backend cannot do `what` at all (on this platform); the device actor reports it as
    /// [`crate::Error::Unsupported`] instead of a failed operation.
    pub fn unsupported(
        source: FailureSource,
        stage: FailureStage,
        what: impl Into<String>,
    ) -> Self {
        Self {
            name: Some(UNSUPPORTED.to_string()),
            ..Self::new(source, stage, what)
        }
    }

    /// Whether the backend said it cannot do this at all (see [`Failure::unsupported`]).
    pub fn is_unsupported(&self) -> bool {
        self.name.as_deref() == Some(UNSUPPORTED)
    }

    /// A timeout after `after`.
    pub fn timeout(source: FailureSource, stage: FailureStage, after: Duration) -> Self {
        Self {
            elapsed: Some(after),
            timed_out: true,
            ..Self::new(source, stage, format!("timed out after {after:?}"))
        }
    }

    /// Sets how long the attempt ran.
    pub fn with_elapsed(mut self, elapsed: Duration) -> Self {
        self.elapsed = Some(elapsed);
        self
    }

    /// Sets the ATT status of a GATT error response.
    pub fn with_att_status(mut self, status: u8) -> Self {
        self.att_status = Some(status);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "[{name}] ")?;
        }
        f.write_str(&self.text)?;
        match self.code {
            Some(code) if code < 0 => write!(f, " (code {code})")?,
            Some(code) => write!(f, " (code 0x{code:x})")?,
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_the_backend_words() {
        let f = Failure::dbus(
            FailureStage::Connect,
            "org.bluez.Error.Failed",
            "le-connection-abort-by-local",
        );
        assert_eq!(
            f.to_string(),
            "[org.bluez.Error.Failed] le-connection-abort-by-local"
        );
        let f = Failure::esp(
            FailureStage::Connect,
            0x100,
            "ESP_GATT_CONN_CONN_CANCEL",
            "Connection cancelled",
        );
        assert_eq!(
            f.to_string(),
            "[ESP_GATT_CONN_CONN_CANCEL] Connection cancelled (code 0x100)"
        );
    }
}
