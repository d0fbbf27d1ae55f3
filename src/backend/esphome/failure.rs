//! ESP-IDF codes from a proxy, turned into [`Failure`]s with their names and texts.
//!
//! The proxy's `error` fields share one int32 namespace across several C enums (research notes
//! §4): a connection response carries an `esp_gatt_conn_reason_t` (or a GATT status for open
//! failures), a GATT error carries an `esp_gatt_status_t`, an `esp_err_t`, or ESPHome's −1.
//! So the stage decides which table is read first; the raw code is always kept. The classifier
//! (`crate::classify`) decides the class from the name, code and elapsed time; this file never
//! judges. `connected=false, error=0` at connect is the firmware's "no free slot" answer and is
//! kept as code 0, which the classifier maps to out-of-slots.

use std::time::Duration;

use crate::backend::{DisconnectCause, Failure, FailureStage};

/// `esp_gatt_conn_reason_t` names and the reference client's descriptions.
const CONN_REASONS: &[(i64, &str, &str)] = &[
    (
        0x00,
        "ESP_GATT_CONN_UNKNOWN",
        "Connection failed for unknown reason",
    ),
    (
        0x01,
        "ESP_GATT_CONN_L2C_FAILURE",
        "Connection failed due to L2CAP failure",
    ),
    (
        0x08,
        "ESP_GATT_CONN_TIMEOUT",
        "Connection failed due to timeout",
    ),
    (
        0x13,
        "ESP_GATT_CONN_TERMINATE_PEER_USER",
        "Connection terminated by peer user",
    ),
    (
        0x16,
        "ESP_GATT_CONN_TERMINATE_LOCAL_HOST",
        "Connection terminated by local host",
    ),
    (
        0x22,
        "ESP_GATT_CONN_LMP_TIMEOUT",
        "Connection failed due to LMP response timeout",
    ),
    (
        0x3E,
        "ESP_GATT_CONN_FAIL_ESTABLISH",
        "Connection failed to establish",
    ),
    (
        0x85,
        "ESP_GATT_ERROR",
        "Connection failed due to GATT operation error",
    ),
    (0x100, "ESP_GATT_CONN_CONN_CANCEL", "Connection cancelled"),
    (0x101, "ESP_GATT_CONN_NONE", "No connection to cancel"),
];

/// `esp_gatt_status_t` names and texts (plus ESPHome's −1 and common `esp_err_t` values).
const GATT_STATUSES: &[(i64, &str, &str)] = &[
    (-1, "ESP_GATT_NOT_CONNECTED", "Not connected"),
    (0x01, "ESP_GATT_INVALID_HANDLE", "Invalid handle"),
    (0x02, "ESP_GATT_READ_NOT_PERMIT", "Read not permitted"),
    (0x03, "ESP_GATT_WRITE_NOT_PERMIT", "Write not permitted"),
    (0x04, "ESP_GATT_INVALID_PDU", "Invalid PDU"),
    (
        0x05,
        "ESP_GATT_INSUF_AUTHENTICATION",
        "Insufficient authentication",
    ),
    (0x06, "ESP_GATT_REQ_NOT_SUPPORTED", "Request not supported"),
    (0x07, "ESP_GATT_INVALID_OFFSET", "Invalid offset"),
    (
        0x08,
        "ESP_GATT_INSUF_AUTHORIZATION",
        "Insufficient authorization",
    ),
    (0x09, "ESP_GATT_PREPARE_Q_FULL", "Prepare queue full"),
    (0x0A, "ESP_GATT_NOT_FOUND", "Attribute not found"),
    (0x0B, "ESP_GATT_NOT_LONG", "Attribute not long"),
    (0x0C, "ESP_GATT_INSUF_KEY_SIZE", "Insufficient key size"),
    (
        0x0D,
        "ESP_GATT_INVALID_ATTR_LEN",
        "Invalid attribute length",
    ),
    (0x0E, "ESP_GATT_ERR_UNLIKELY", "Unlikely error"),
    (0x0F, "ESP_GATT_INSUF_ENCRYPTION", "Insufficient encryption"),
    (
        0x10,
        "ESP_GATT_UNSUPPORT_GRP_TYPE",
        "Unsupported group type",
    ),
    (0x11, "ESP_GATT_INSUF_RESOURCE", "Insufficient resources"),
    (0x80, "ESP_GATT_NO_RESOURCES", "Application error"),
    (0x81, "ESP_GATT_INTERNAL_ERROR", "Internal error"),
    (0x82, "ESP_GATT_WRONG_STATE", "Wrong state"),
    (0x83, "ESP_GATT_DB_FULL", "Database full"),
    (0x84, "ESP_GATT_BUSY", "Busy"),
    (0x85, "ESP_GATT_ERROR", "Error"),
    (0x86, "ESP_GATT_CMD_STARTED", "Command started"),
    (0x87, "ESP_GATT_ILLEGAL_PARAMETER", "Illegal parameter"),
    (0x88, "ESP_GATT_PENDING", "Pending"),
    (0x89, "ESP_GATT_AUTH_FAIL", "Auth fail"),
    (0x8A, "ESP_GATT_MORE", "More"),
    (0x8B, "ESP_GATT_INVALID_CFG", "Invalid configuration"),
    (0x8C, "ESP_GATT_SERVICE_STARTED", "Service started"),
    (0x8D, "ESP_GATT_ENCRYPTED_NO_MITM", "Encrypted no mitm"),
    (0x8E, "ESP_GATT_NOT_ENCRYPTED", "Not encrypted"),
    (0x8F, "ESP_GATT_CONGESTED", "Congested"),
    (0x90, "ESP_GATT_DUP_REG", "Duplicate registration"),
    (0x91, "ESP_GATT_ALREADY_OPEN", "Already open"),
    (0x92, "ESP_GATT_CANCEL", "Cancel"),
    (0xE0, "ESP_GATT_STACK_RSP", "Stack RSP"),
    (0xE1, "ESP_GATT_APP_RSP", "App RSP"),
    (0xEF, "ESP_GATT_UNKNOWN_ERROR", "Unknown error"),
    (0xFD, "ESP_GATT_CCC_CFG_ERR", "CCC config error"),
    (
        0xFE,
        "ESP_GATT_PRC_IN_PROGRESS",
        "Procedure already in progress",
    ),
    (0xFF, "ESP_GATT_OUT_OF_RANGE", "Out of range"),
    (0x102, "ESP_ERR_INVALID_ARG", "Invalid argument"),
    (0x103, "ESP_ERR_INVALID_STATE", "Invalid state"),
    (0x104, "ESP_ERR_INVALID_SIZE", "Invalid size"),
    (0x105, "ESP_ERR_NOT_FOUND", "Requested resource not found"),
    (
        0x106,
        "ESP_ERR_NOT_SUPPORTED",
        "Operation or feature not supported",
    ),
    (0x107, "ESP_ERR_TIMEOUT", "Operation timed out"),
];

fn lookup(
    table: &[(i64, &'static str, &'static str)],
    code: i64,
) -> Option<(&'static str, &'static str)> {
    table
        .iter()
        .find(|(value, _, _)| *value == code)
        .map(|(_, name, text)| (*name, *text))
}

/// The name and text for a code, reading the table that fits the stage first.
fn describe(stage: FailureStage, code: i64) -> (&'static str, &'static str) {
    let (first, second) = match stage {
        FailureStage::Gatt => (GATT_STATUSES, CONN_REASONS),
        FailureStage::Connect | FailureStage::Link => (CONN_REASONS, GATT_STATUSES),
    };
    lookup(first, code)
        .or_else(|| lookup(second, code))
        .unwrap_or(("ESP_UNKNOWN_ERROR", "Unknown error code"))
}

/// A connect answered with `connected=false`. Error 0 is the firmware's silent "no free
/// connection slot" reply; anything else is the ESP-IDF reason, worded as bleak-esphome does.
pub(crate) fn connect_refused(code: i32, elapsed: Duration) -> Failure {
    let code = i64::from(code);
    let failure = if code == 0 {
        Failure::esp(
            FailureStage::Connect,
            0,
            "ESP_GATT_CONN_UNKNOWN",
            "Disconnected: the proxy answered connected=false, error 0 (no free connection slot)",
        )
    } else {
        let (name, text) = describe(FailureStage::Connect, code);
        Failure::esp(
            FailureStage::Connect,
            code,
            name,
            format!("Error {name} while connecting: {text}"),
        )
    };
    failure.with_elapsed(elapsed)
}

/// A `BluetoothGATTErrorResponse`. ATT error codes (1..=0x11 and the application range) are
/// also kept as `att_status`.
pub(crate) fn gatt_error(operation: &str, handle: u16, code: i32) -> Failure {
    let code = i64::from(code);
    let (name, text) = describe(FailureStage::Gatt, code);
    let failure = Failure::esp(
        FailureStage::Gatt,
        code,
        name,
        format!("{operation} of handle 0x{handle:04x} failed: {text}"),
    );
    match u8::try_from(code) {
        Ok(att @ 0x01..=0x11) | Ok(att @ 0x80..=0x9F) => failure.with_att_status(att),
        _ => failure,
    }
}

/// Why a link ended, from the reason in a `connected=false` notice.
pub(crate) fn disconnect_cause(code: i32, requested: bool) -> (DisconnectCause, String) {
    let (name, text) = describe(FailureStage::Link, i64::from(code));
    let cause = if requested {
        DisconnectCause::Requested
    } else if code == 0x13 {
        DisconnectCause::PeerClosed
    } else {
        DisconnectCause::LinkLost
    };
    (cause, format!("{name}: {text} (code 0x{code:x})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;
    use crate::ErrorKind;

    #[test]
    fn no_free_slot_reply_is_classified_out_of_slots() {
        let failure = connect_refused(0, Duration::from_millis(30));
        assert_eq!(failure.code, Some(0));
        assert_eq!(classify(&failure).kind, ErrorKind::OutOfSlots);
    }

    #[test]
    fn connect_reasons_keep_their_esp_idf_names() {
        let failure = connect_refused(0x3E, Duration::from_millis(80));
        assert_eq!(
            failure.name.as_deref(),
            Some("ESP_GATT_CONN_FAIL_ESTABLISH")
        );
        assert_eq!(
            failure.text,
            "Error ESP_GATT_CONN_FAIL_ESTABLISH while connecting: Connection failed to establish"
        );
        assert_eq!(classify(&failure).kind, ErrorKind::Aborted);
        let slow_cancel = connect_refused(0x100, Duration::from_secs(9));
        assert_eq!(classify(&slow_cancel).kind, ErrorKind::Aborted);
        assert_eq!(
            connect_refused(0x4242, Duration::ZERO).name.as_deref(),
            Some("ESP_UNKNOWN_ERROR")
        );
    }

    #[test]
    fn gatt_errors_carry_the_att_status_when_it_is_one() {
        let failure = gatt_error("read", 0x12, 5);
        assert_eq!(failure.att_status, Some(5));
        assert_eq!(
            failure.name.as_deref(),
            Some("ESP_GATT_INSUF_AUTHENTICATION")
        );
        assert!(
            failure.text.contains("read of handle 0x0012 failed"),
            "{}",
            failure.text
        );
        let not_connected = gatt_error("write", 0x25, -1);
        assert_eq!(not_connected.att_status, None);
        assert_eq!(
            not_connected.name.as_deref(),
            Some("ESP_GATT_NOT_CONNECTED")
        );
        assert_eq!(gatt_error("read", 1, 0x103).att_status, None);
    }

    #[test]
    fn disconnect_reasons_name_who_ended_the_link() {
        assert_eq!(disconnect_cause(0x13, false).0, DisconnectCause::PeerClosed);
        assert_eq!(disconnect_cause(0x08, false).0, DisconnectCause::LinkLost);
        let (cause, detail) = disconnect_cause(0x16, true);
        assert_eq!(cause, DisconnectCause::Requested);
        assert!(
            detail.starts_with("ESP_GATT_CONN_TERMINATE_LOCAL_HOST"),
            "{detail}"
        );
    }
}
