//! Turns a zbus error into a [`Failure`] in BlueZ's own words.
//!
//! zbus reports a D-Bus error reply in two shapes: names it knows from the D-Bus spec
//! (`org.freedesktop.DBus.Error.UnknownObject`, `NoReply`...) arrive as
//! `zbus::Error::FDO(fdo::Error)`, every other name (all of `org.bluez.Error.*`) as
//! `zbus::Error::MethodError(name, text, reply)`. Both become `Failure::dbus(stage, name, text)`
//! here, so the classifier sees one shape. Errors that are not replies (the bus went away, a
//! reply of the wrong type) keep zbus's text and no name.
//!
//! At the GATT stage, BlueZ's answer to an ATT error response is recognised and its ATT status
//! kept (`Failure::att_status`), from the texts BlueZ's `create_gatt_dbus_error` writes.

use std::time::Duration;

use zbus::DBusError;

use crate::backend::{Failure, FailureSource, FailureStage};

/// The Failure for a zbus error raised at `stage`.
pub(crate) fn from_zbus(stage: FailureStage, error: &zbus::Error) -> Failure {
    let failure = match error {
        zbus::Error::MethodError(name, text, _) => {
            Failure::dbus(stage, name.as_str(), text.clone().unwrap_or_default())
        }
        zbus::Error::FDO(fdo) => from_fdo(stage, fdo),
        other => Failure::new(FailureSource::Bluez, stage, other.to_string()),
    };
    match (stage, att_status(&failure)) {
        (FailureStage::Gatt, Some(status)) => failure.with_att_status(status),
        _ => failure,
    }
}

/// The Failure for a standard D-Bus error (`org.freedesktop.DBus.Error.*`).
pub(crate) fn from_fdo(stage: FailureStage, error: &zbus::fdo::Error) -> Failure {
    match error {
        // Not a reply: a local zbus failure wrapped as an fdo error.
        zbus::fdo::Error::ZBus(inner) => from_zbus(stage, inner),
        reply => Failure::dbus(
            stage,
            reply.name().as_str(),
            reply.description().unwrap_or_default(),
        ),
    }
}

/// The Failure for bluefleet's own deadline running out at `stage`.
pub(crate) fn timed_out(stage: FailureStage, after: Duration, what: &str) -> Failure {
    let mut failure = Failure::timeout(FailureSource::Bluez, stage, after);
    failure.text = format!("{what} timed out after {after:?}");
    failure
}

/// The ATT status behind a BlueZ GATT error, when the name and text pin it down: BlueZ maps
/// 0x02/0x03 to `NotPermitted` "Read/Write not permitted", 0x07/0x0D to `InvalidArguments`
/// "Invalid offset"/"Invalid Length", 0x08 to `NotAuthorized`, 0x06 to `NotSupported`, and any
/// other code to `Failed` "Operation failed with ATT error: 0xNN". ("Not paired" stands for
/// three codes, so it gets none.)
fn att_status(failure: &Failure) -> Option<u8> {
    let name = failure.name.as_deref()?;
    let text = failure.text.as_str();
    let suffix = name.strip_prefix("org.bluez.Error.")?;
    match (suffix, text) {
        ("NotPermitted", "Read not permitted") => Some(0x02),
        ("NotPermitted", "Write not permitted") => Some(0x03),
        ("InvalidArguments", "Invalid offset") => Some(0x07),
        ("InvalidArguments", "Invalid Length") => Some(0x0D),
        ("NotAuthorized", _) => Some(0x08),
        ("NotSupported", _) => Some(0x06),
        ("Failed", _) => {
            let code = text.strip_prefix("Operation failed with ATT error: 0x")?;
            u8::from_str_radix(code.get(..2)?, 16).ok()
        }
        _ => None,
    }
}

/// Why BlueZ cannot be used at all, in words a user can act on: bluetoothd not running (the
/// name `org.bluez` has no owner on the bus) is the common case and says how to start it.
pub fn unavailable_words(error: &zbus::Error) -> String {
    let name = match error {
        zbus::Error::MethodError(name, ..) => Some(name.as_str().to_string()),
        zbus::Error::FDO(fdo) => Some(fdo.name().as_str().to_string()),
        _ => None,
    };
    match name.as_deref() {
        Some(
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner",
        ) => "bluetoothd is not running (no org.bluez on the system D-Bus): start it with \
              `systemctl start bluetooth`"
            .into(),
        _ => format!("cannot talk to BlueZ: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;
    use crate::error::ErrorKind;

    fn method_error(name: &str, text: &str) -> zbus::Error {
        let call = zbus::Message::method_call("/org/bluez/hci0/dev_A4_CF_12_34_56_78", "Connect")
            .build(&())
            .unwrap();
        let reply = zbus::Message::error(&call.header(), name)
            .build(&(text,))
            .unwrap();
        zbus::Error::from(reply)
    }

    #[test]
    fn bluez_method_errors_keep_name_and_text_and_classify() {
        let error = method_error("org.bluez.Error.Failed", "le-connection-abort-by-local");
        assert!(matches!(error, zbus::Error::MethodError(..)), "{error:?}");
        let failure = from_zbus(FailureStage::Connect, &error);
        assert_eq!(failure.name.as_deref(), Some("org.bluez.Error.Failed"));
        assert_eq!(failure.text, "le-connection-abort-by-local");
        assert_eq!(classify(&failure).kind, ErrorKind::Aborted);
    }

    #[test]
    fn fdo_errors_keep_their_name_and_classify() {
        let error = method_error(
            "org.freedesktop.DBus.Error.UnknownObject",
            "Method \"Connect\" with signature \"\" on interface \"org.bluez.Device1\" doesn't exist",
        );
        assert!(matches!(error, zbus::Error::FDO(_)), "{error:?}");
        let failure = from_zbus(FailureStage::Connect, &error);
        assert_eq!(
            failure.name.as_deref(),
            Some("org.freedesktop.DBus.Error.UnknownObject")
        );
        assert!(failure.text.contains("doesn't exist"), "{failure}");
        assert_eq!(classify(&failure).kind, ErrorKind::NotFound);
    }

    #[test]
    fn gatt_errors_carry_the_att_status_bluez_encoded() {
        let cases = [
            (
                "org.bluez.Error.NotPermitted",
                "Read not permitted",
                Some(0x02),
            ),
            (
                "org.bluez.Error.NotPermitted",
                "Write not permitted",
                Some(0x03),
            ),
            ("org.bluez.Error.NotPermitted", "Not paired", None),
            (
                "org.bluez.Error.InvalidArguments",
                "Invalid Length",
                Some(0x0D),
            ),
            (
                "org.bluez.Error.NotAuthorized",
                "Not Authorized",
                Some(0x08),
            ),
            (
                "org.bluez.Error.Failed",
                "Operation failed with ATT error: 0x0e",
                Some(0x0E),
            ),
            (
                "org.bluez.Error.Failed",
                "Operation failed with ATT error: zz",
                None,
            ),
            ("org.bluez.Error.Failed", "Not connected", None),
        ];
        for (name, text, status) in cases {
            let failure = from_zbus(FailureStage::Gatt, &method_error(name, text));
            assert_eq!(failure.att_status, status, "{name} {text}");
            assert_eq!(failure.name.as_deref(), Some(name));
        }
        let at_connect = from_zbus(
            FailureStage::Connect,
            &method_error("org.bluez.Error.NotAuthorized", "Not Authorized"),
        );
        assert_eq!(at_connect.att_status, None);
    }

    #[test]
    fn errors_that_are_not_replies_keep_zbus_text() {
        let failure = from_zbus(FailureStage::Link, &zbus::Error::InvalidReply);
        assert_eq!(failure.name, None);
        assert!(!failure.text.is_empty());
        let wrapped = zbus::fdo::Error::ZBus(zbus::Error::InvalidReply);
        assert_eq!(from_fdo(FailureStage::Link, &wrapped), failure);
    }

    #[test]
    fn our_deadline_is_a_timeout_that_classifies_as_not_found() {
        let failure = timed_out(FailureStage::Connect, Duration::from_secs(2), "Connect");
        assert!(failure.timed_out);
        assert_eq!(failure.elapsed, Some(Duration::from_secs(2)));
        assert_eq!(failure.text, "Connect timed out after 2s");
        assert_eq!(classify(&failure).kind, ErrorKind::NotFound);
    }
}
