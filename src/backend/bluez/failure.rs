//! Translating zbus errors into [`Failure`]s in BlueZ's own words.
//!
//! BlueZ answers a failed call with a D-Bus error: a name (`org.bluez.Error.Failed`) and a
//! message (`le-connection-abort-by-local`). Both are kept verbatim so the classifier sees what
//! the daemon said. Errors that are not D-Bus replies (a broken bus, a bad reply body) keep the
//! zbus display text with no name.

use std::time::Duration;

use crate::backend::failure::{Failure, FailureSource, FailureStage};

/// Turns a zbus error from a call made at `stage` into a [`Failure`].
pub fn from_zbus(stage: FailureStage, error: &zbus::Error) -> Failure {
    match error {
        zbus::Error::MethodError(name, text, _) => {
            Failure::dbus(stage, name.as_str(), text.clone().unwrap_or_default())
        }
        zbus::Error::FDO(fdo) => from_fdo(stage, fdo),
        other => Failure::new(FailureSource::Bluez, stage, other.to_string()),
    }
}

/// Turns a `zbus::fdo::Error` (UnknownObject, UnknownMethod, …) into a [`Failure`].
pub fn from_fdo(stage: FailureStage, error: &zbus::fdo::Error) -> Failure {
    use zbus::DBusError;
    let text = error.description().unwrap_or_default().to_string();
    Failure::dbus(stage, error.name().as_str(), text)
}

/// Our own deadline ran out while BlueZ had not answered.
pub fn timed_out(stage: FailureStage, after: Duration) -> Failure {
    Failure::timeout(FailureSource::Bluez, stage, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_object_keeps_the_freedesktop_error_name() {
        let error = zbus::Error::FDO(Box::new(zbus::fdo::Error::UnknownObject(
            "no /org/bluez/hci9".into(),
        )));
        let failure = from_zbus(FailureStage::Connect, &error);
        assert_eq!(
            failure.name.as_deref(),
            Some("org.freedesktop.DBus.Error.UnknownObject")
        );
        assert_eq!(failure.text, "no /org/bluez/hci9");
        assert_eq!(failure.source, FailureSource::Bluez);
    }

    #[test]
    fn a_transport_error_keeps_its_text_without_a_name() {
        let failure = from_zbus(FailureStage::Gatt, &zbus::Error::InvalidReply);
        assert_eq!(failure.name, None);
        assert!(!failure.text.is_empty());
    }

    #[test]
    fn a_deadline_is_a_bluez_timeout() {
        let failure = timed_out(FailureStage::Connect, Duration::from_secs(10));
        assert!(failure.timed_out);
        assert_eq!(failure.source, FailureSource::Bluez);
    }
}
