//! btleplug's errors as [`Failure`]s, with the D-Bus error name dug out where there is one.
//!
//! btleplug folds most platform errors into `Error::Other(Box<dyn Error>)`, whose text on Linux
//! is only BlueZ's *message* ("le-connection-abort-by-local"); the D-Bus error name
//! (`org.bluez.Error.Failed`, `org.freedesktop.DBus.Error.UnknownObject`) sits inside a boxed
//! `bluez_async::BluetoothError::DbusError`. The classifier needs both, so this module
//! downcasts to it and fills [`Failure::name`]. Every other variant keeps btleplug's display
//! text, with a `btleplug.<Variant>` name so a log says which one it was. btleplug's own
//! `NotSupported` becomes an [`Failure::unsupported`] failure that the fleet reports as
//! [`crate::Error::Unsupported`]; its timeouts stay timeouts.

use btleplug::Error as BtleplugError;

use crate::backend::{Failure, FailureSource, FailureStage};

/// Converts a btleplug error, keeping its words.
pub(crate) fn from_btleplug(stage: FailureStage, error: &BtleplugError) -> Failure {
    let text = error.to_string();
    let name = match error {
        BtleplugError::Other(inner) => dbus_error_name(inner.as_ref()),
        BtleplugError::TimedOut(after) => {
            return Failure {
                text,
                ..Failure::timeout(FailureSource::Btleplug, stage, *after)
            }
        }
        BtleplugError::NotSupported(what) => {
            return Failure::unsupported(FailureSource::Btleplug, stage, what.clone())
        }
        BtleplugError::PermissionDenied => Some("btleplug.PermissionDenied".into()),
        BtleplugError::DeviceNotFound => Some("btleplug.DeviceNotFound".into()),
        BtleplugError::NotConnected => Some("btleplug.NotConnected".into()),
        BtleplugError::NoAdapterAvailable => Some("btleplug.NoAdapterAvailable".into()),
        _ => None,
    };
    Failure {
        name,
        ..Failure::new(FailureSource::Btleplug, stage, text)
    }
}

/// The D-Bus error name inside btleplug's boxed error, when it is a BlueZ D-Bus error.
#[cfg(target_os = "linux")]
fn dbus_error_name(inner: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<String> {
    match inner.downcast_ref::<bluez_async::BluetoothError>()? {
        bluez_async::BluetoothError::DbusError(dbus) => dbus.name().map(str::to_owned),
        bluez_async::BluetoothError::ServiceDiscoveryTimedOut => {
            Some("bluez_async.ServiceDiscoveryTimedOut".into())
        }
        _ => None,
    }
}

/// Other platforms carry no D-Bus names.
#[cfg(not(target_os = "linux"))]
fn dbus_error_name(_: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<String> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::classify::classify;
    use crate::ErrorKind;

    fn dbus_failure(name: &str, message: &str) -> Failure {
        let dbus = dbus::Error::new_custom(name, message);
        let error = BtleplugError::Other(Box::new(bluez_async::BluetoothError::DbusError(dbus)));
        from_btleplug(FailureStage::Connect, &error)
    }

    #[test]
    fn the_dbus_error_name_is_dug_out_of_btleplugs_box() {
        let failure = dbus_failure("org.bluez.Error.Failed", "le-connection-abort-by-local");
        assert_eq!(failure.name.as_deref(), Some("org.bluez.Error.Failed"));
        assert_eq!(failure.text, "le-connection-abort-by-local");
        assert_eq!(failure.source, FailureSource::Btleplug);
        assert_eq!(classify(&failure).kind, ErrorKind::Aborted);
    }

    #[test]
    fn an_unknown_dbus_object_classifies_as_not_found() {
        let failure = dbus_failure(
            "org.freedesktop.DBus.Error.UnknownObject",
            "Method \"Connect\" doesn't exist",
        );
        assert_eq!(classify(&failure).kind, ErrorKind::NotFound);
    }

    #[test]
    fn timeouts_stay_timeouts_and_not_supported_is_unsupported() {
        let timed_out = from_btleplug(
            FailureStage::Connect,
            &BtleplugError::TimedOut(Duration::from_secs(2)),
        );
        assert!(timed_out.timed_out);
        assert_eq!(timed_out.elapsed, Some(Duration::from_secs(2)));
        assert_eq!(classify(&timed_out).kind, ErrorKind::NotFound);

        let unsupported = from_btleplug(
            FailureStage::Gatt,
            &BtleplugError::NotSupported("read_rssi".into()),
        );
        assert!(unsupported.is_unsupported());
        assert!(unsupported.text.contains("read_rssi"));
    }

    #[test]
    fn plain_variants_keep_their_text_and_say_which_they_were() {
        let failure = from_btleplug(FailureStage::Gatt, &BtleplugError::NotConnected);
        assert_eq!(failure.name.as_deref(), Some("btleplug.NotConnected"));
        assert_eq!(failure.text, "Not connected");
        let other = from_btleplug(FailureStage::Gatt, &BtleplugError::Other("odd".into()));
        assert_eq!((other.name, other.text.as_str()), (None, "odd"));
    }
}
