//! bluefleet's errors in the words an ESPHome client classifies (design §9).
//!
//! A connect answer carries an ESP-IDF `esp_gatt_conn_reason_t`/status code; bleak-esphome
//! turns it into `BleakError("Error <NAME> while connecting: ...")` and bleak-retry-connector
//! classifies that text. The codes are chosen so the client lands in the class bluefleet saw:
//!
//! | bluefleet | code | bleak-retry-connector 4.7.1 |
//! | --- | --- | --- |
//! | out of slots (a race: the slot view said free) | 0, connected=false | "Disconnected": retried |
//! | not found, our deadline | 0x100 ESP_GATT_CONN_CONN_CANCEL | aborted |
//! | aborted | 0x3E ESP_GATT_CONN_FAIL_ESTABLISH | transient (0.5 s backoff) |
//! | generic | 0x85 ESP_GATT_ERROR | transient (1 s backoff) |
//!
//! The ordinary out-of-slots path never gets here: the slot report says `free = 0` and the
//! client gives up before sending a connect, in its own out-of-slots words. GATT failures carry
//! the ATT status (ESP-IDF uses the same numbers for 0x01–0x11), or −1 for "not connected".

use crate::device::state::DeviceState;
use crate::{Error, ErrorKind};

/// `connected=false, error=0`: what a full ESP32 answers.
pub(crate) const NO_SLOT: i32 = 0;
/// ESP_GATT_CONN_CONN_CANCEL.
pub(crate) const CONN_CANCEL: i32 = 0x100;
/// ESP_GATT_CONN_FAIL_ESTABLISH.
pub(crate) const FAIL_ESTABLISH: i32 = 0x3E;
/// ESP_GATT_CONN_TERMINATE_PEER_USER: a link that dropped.
pub(crate) const TERMINATE_PEER_USER: i32 = 0x13;
/// ESP_GATT_ERROR.
pub(crate) const GATT_ERROR: i32 = 0x85;
/// ESPHome's "not connected".
pub(crate) const NOT_CONNECTED: i32 = -1;
/// ESP_GATT_NOT_FOUND (attribute not found).
pub(crate) const ATTRIBUTE_NOT_FOUND: i32 = 0x0A;

/// The code for a failed connect.
pub(crate) fn connect_error(error: &Error, state: &DeviceState) -> i32 {
    match error {
        Error::Connection { kind, .. } => match kind {
            ErrorKind::OutOfSlots => NO_SLOT,
            ErrorKind::NotFound => CONN_CANCEL,
            ErrorKind::Aborted => FAIL_ESTABLISH,
            _ => GATT_ERROR,
        },
        Error::NoRadio { .. } | Error::Timeout { .. } => match state {
            DeviceState::Waiting {
                reason: crate::device::state::WaitReason::Slot,
            } => NO_SLOT,
            _ => CONN_CANCEL,
        },
        _ => GATT_ERROR,
    }
}

/// The code for a failed GATT operation.
pub(crate) fn gatt_error(error: &Error) -> i32 {
    match error {
        Error::Gatt { status, .. } => i32::from(status.0),
        Error::NotConnected { .. } => NOT_CONNECTED,
        Error::CharacteristicNotFound { .. } | Error::DescriptorNotFound { .. } => {
            ATTRIBUTE_NOT_FOUND
        }
        _ => GATT_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Failure, FailureSource, FailureStage};
    use crate::device::state::WaitReason;
    use crate::model::Address;

    fn connection(kind: ErrorKind) -> Error {
        Error::Connection {
            address: Address::new([1; 6]),
            radio: None,
            attempts: 1,
            kind,
            failure: Failure::new(FailureSource::Fleet, FailureStage::Connect, "x"),
        }
    }

    #[test]
    fn each_class_has_its_code() {
        let idle = DeviceState::Idle;
        assert_eq!(connect_error(&connection(ErrorKind::OutOfSlots), &idle), 0);
        assert_eq!(
            connect_error(&connection(ErrorKind::NotFound), &idle),
            0x100
        );
        assert_eq!(connect_error(&connection(ErrorKind::Aborted), &idle), 0x3E);
        assert_eq!(connect_error(&connection(ErrorKind::Generic), &idle), 0x85);
        let waiting_slot = DeviceState::Waiting {
            reason: WaitReason::Slot,
        };
        let no_radio = Error::NoRadio {
            address: Address::new([1; 6]),
            kind: ErrorKind::OutOfSlots,
            reason: "full".into(),
        };
        assert_eq!(connect_error(&no_radio, &waiting_slot), 0);
        assert_eq!(connect_error(&no_radio, &idle), 0x100);
    }

    #[test]
    fn gatt_errors_keep_the_att_status() {
        let failure = Failure::new(FailureSource::Fleet, FailureStage::Gatt, "x");
        let refused = Error::Gatt {
            address: Address::new([1; 6]),
            status: crate::AttError(0x03),
            failure,
        };
        assert_eq!(gatt_error(&refused), 3);
        let gone = Error::NotConnected {
            address: Address::new([1; 6]),
        };
        assert_eq!(gatt_error(&gone), -1);
    }
}
