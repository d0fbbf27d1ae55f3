//! bluefleet's errors in the words an ESPHome client classifies (design §9).
//!
//! A connect answer carries an ESP-IDF `esp_gatt_conn_reason_t`/status code; bleak-esphome
//! turns it into `BleakError("Error <NAME> while connecting: ...")` and bleak-retry-connector
//! classifies that text. The codes are chosen so the client lands in the class bluefleet saw:
//!
//! | bluefleet | code | bleak-retry-connector 4.7.1 (checked by tests/proxy/failures.rs) |
//! | --- | --- | --- |
//! | out of slots (a race: the slot view said free) | 0, connected=false | "Disconnected": retried |
//! | not found, our deadline | 0x100 ESP_GATT_CONN_CONN_CANCEL, never before 8.5 s | `BleakAbortedError`, "gave up waiting for the device to respond", 4 s backoff |
//! | aborted | 0x3E ESP_GATT_CONN_FAIL_ESTABLISH | `BleakAbortedError`, interference advice, 0.5 s backoff |
//! | generic | 0x81 ESP_GATT_INTERNAL_ERROR | `BleakConnectionError`, 0.1 s backoff |
//!
//! bleak-retry-connector has no not-found class for an answer from a proxy: its not-found is
//! its own timeout. For 0x100 it tells "the controller rejected it at once" from "the stack
//! gave up waiting for the device" by the time the attempt took (8 s), so a not-found found
//! quickly (a local controller that dropped the device) is held back to [`NOT_FOUND_FLOOR`].
//! Design §9 started generic at 0x85 ESP_GATT_ERROR, but the client files that under aborted
//! (a transient error with a 1 s backoff); 0x81, ESP-IDF's internal error, is a code it does not
//! list, so it stays generic.
//!
//! The ordinary out-of-slots path never gets here: the slot report says `free = 0` and the
//! client gives up before sending a connect, in its own out-of-slots words. GATT failures carry
//! the ATT status (ESP-IDF uses the same numbers for 0x01–0x11), or −1 for "not connected".

use std::time::Duration;

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
/// ESP_GATT_INTERNAL_ERROR: a code bleak-retry-connector leaves generic.
pub(crate) const INTERNAL_ERROR: i32 = 0x81;
/// A not-found answered sooner reads as "the controller refused it" to the client, whose cut
/// is 8 s (bleak-retry-connector's `CONNECTION_CANCELLED_REJECTED_MAX_TIME`).
pub(crate) const NOT_FOUND_FLOOR: Duration = Duration::from_millis(8500);
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
            ErrorKind::Generic => INTERNAL_ERROR,
        },
        Error::NoRadio { .. } | Error::Timeout { .. } => match state {
            DeviceState::Waiting {
                reason: crate::device::state::WaitReason::Slot,
            } => NO_SLOT,
            _ => CONN_CANCEL,
        },
        _ => INTERNAL_ERROR,
    }
}

/// How much longer to wait before answering `code`, `elapsed` into the connect: a not-found
/// waits for [`NOT_FOUND_FLOOR`], never past the connect's own `budget`.
pub(crate) fn answer_delay(code: i32, elapsed: Duration, budget: Duration) -> Duration {
    if code != CONN_CANCEL {
        return Duration::ZERO;
    }
    NOT_FOUND_FLOOR.min(budget).saturating_sub(elapsed)
}

/// The code for a failed GATT operation.
pub(crate) fn gatt_error(error: &Error) -> i32 {
    match error {
        Error::Gatt { status, .. } => i32::from(status.0),
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
        assert_eq!(connect_error(&connection(ErrorKind::Generic), &idle), 0x81);
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
    fn only_a_not_found_is_held_back_and_never_past_the_budget() {
        let budget = Duration::from_secs(17);
        let second = Duration::from_secs(1);
        assert_eq!(answer_delay(FAIL_ESTABLISH, second, budget), Duration::ZERO);
        assert_eq!(
            answer_delay(CONN_CANCEL, second, budget),
            Duration::from_millis(7500)
        );
        assert_eq!(
            answer_delay(CONN_CANCEL, Duration::from_secs(9), budget),
            Duration::ZERO
        );
        assert_eq!(
            answer_delay(CONN_CANCEL, second, Duration::from_secs(5)),
            Duration::from_secs(4)
        );
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
    }
}
