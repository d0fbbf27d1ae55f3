//! The facts: which backend words mean which error class, in precedence order.
//!
//! Each row says where its words come from. The first row that matches a failure decides its
//! class, so order matters: timeouts first, then "not found", then slot exhaustion, then the
//! ESP32 cancel (whose meaning depends on how long the attempt ran), then transient aborts.
//! Anything no row matches is `Generic`. Matching ignores case.
//!
//! Sources: bleak-retry-connector 4.7.1's substring sets and `_raise_if_needed` precedence,
//! BlueZ's `org.bluez.Error.*` names and the kernel's `le-connection-*` reason strings,
//! aioesphomeapi's ESP-IDF reason table, and bleak-esphome / habluetooth slot messages
//! (see `shared/research/bleak-retry-connector.md` and `esphome-proxy.md`).

use std::time::Duration;

use crate::backend::{FailureSource, FailureStage};
use crate::error::ErrorKind;

/// ESP-IDF's `ESP_GATT_CONN_CONN_CANCEL` is out-of-slots when the proxy refused at once and
/// "the device gave up" when the attempt ran this long or longer.
pub const CONN_CANCEL_GAVE_UP_AFTER: Duration = Duration::from_secs(8);

/// What a row looks for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Needle {
    /// A substring of the error name or text (case-insensitive).
    Text(&'static str),
    /// A numeric code (with the source and stage the row names).
    Code(i64),
    /// Matches anything (used with a condition).
    Any,
}

/// An extra condition on the failure.
#[derive(Clone, Copy, Debug)]
pub(crate) enum When {
    /// No condition.
    Always,
    /// The failure is a timeout.
    TimedOut,
    /// The attempt is known to have run at least this long.
    RanAtLeast(Duration),
}

/// One fact.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    pub needle: Needle,
    pub source: Option<FailureSource>,
    pub stage: Option<FailureStage>,
    pub when: When,
    pub kind: ErrorKind,
    pub advice: &'static str,
    pub provenance: &'static str,
}

const NOT_FOUND_ADVICE: &str =
    "the radio cannot see the device: check it is powered and in range, or put a radio nearer";
const SLOTS_ADVICE: &str = "every connection slot on that radio is busy: bluefleet tries another \
     radio that heard the device; add a proxy near this device or raise the proxy's slot count";
const CANCEL_FAST_ADVICE: &str = "the proxy cancelled the attempt at once: it had no free slot \
     (or its controller rejected the connection); bluefleet tries another radio";
const CANCEL_SLOW_ADVICE: &str = "the proxy gave up waiting for the device: it is probably out \
     of range of that proxy; add a proxy nearer the device";
const ABORT_ADVICE: &str = "transient radio trouble (interference or range): bluefleet retries \
     soon; a USB extension cable or a nearer radio helps if it keeps happening";
const BUSY_ADVICE: &str = "the radio was busy with another connection attempt: bluefleet \
     serialises its own attempts, so another program is using this adapter";

const fn row(needle: Needle, kind: ErrorKind, advice: &'static str, why: &'static str) -> Rule {
    Rule {
        needle,
        source: None,
        stage: None,
        when: When::Always,
        kind,
        advice,
        provenance: why,
    }
}

const fn esp_connect(code: i64, kind: ErrorKind, advice: &'static str, why: &'static str) -> Rule {
    Rule {
        source: Some(FailureSource::Esphome),
        stage: Some(FailureStage::Connect),
        ..row(Needle::Code(code), kind, advice, why)
    }
}

use ErrorKind::{Aborted, NotFound, OutOfSlots};
use Needle::{Any, Text};

/// The classification table, highest precedence first.
pub(crate) const RULES: &[Rule] = &[
    // Timeouts: a slot phrase inside a timeout is a slot wait that ran out (bleak-esphome's
    // "No free BLE connection slot became available"); any other timeout means the device was
    // not reachable (brc: a TimeoutError is never "aborted").
    Rule {
        when: When::TimedOut,
        ..row(
            Text("connection slot"),
            OutOfSlots,
            SLOTS_ADVICE,
            "bleak-esphome slot wait timeout; brc 4.7.1",
        )
    },
    Rule {
        when: When::TimedOut,
        ..row(
            Text("available connection"),
            OutOfSlots,
            SLOTS_ADVICE,
            "habluetooth slot wait timeout; brc 4.7.1",
        )
    },
    Rule {
        when: When::TimedOut,
        ..row(
            Any,
            NotFound,
            NOT_FOUND_ADVICE,
            "brc: timeouts end as not-found",
        )
    },
    // "not found" outranks everything but timeouts (brc `_raise_if_needed`): bleak's
    // "Device with address X was not found", habluetooth's lookups.
    row(
        Text("not found"),
        NotFound,
        NOT_FOUND_ADVICE,
        "bleak BleakDeviceNotFoundError text; brc",
    ),
    row(
        Text("org.freedesktop.DBus.Error.UnknownObject"),
        NotFound,
        NOT_FOUND_ADVICE,
        "D-Bus: the Device1 object is gone (BlueZ dropped it)",
    ),
    row(
        Text("org.bluez.Error.DoesNotExist"),
        NotFound,
        NOT_FOUND_ADVICE,
        "BlueZ: no such device",
    ),
    // Slot exhaustion.
    row(
        Text("connection slot"),
        OutOfSlots,
        SLOTS_ADVICE,
        "brc OUT_OF_SLOTS_ERRORS; ESPHome proxy and habluetooth messages",
    ),
    row(
        Text("available connection"),
        OutOfSlots,
        SLOTS_ADVICE,
        "brc OUT_OF_SLOTS_ERRORS; habluetooth 'No backend with an available connection slot'",
    ),
    row(
        Text("le-connection-concurrent-connection-limit"),
        OutOfSlots,
        SLOTS_ADVICE,
        "kernel: controller connection limit reached (brc leaves it generic)",
    ),
    row(
        Text("Connection Rejected due to Limited Resources"),
        OutOfSlots,
        SLOTS_ADVICE,
        "HCI 0x0D: controller out of connection resources",
    ),
    esp_connect(
        0,
        OutOfSlots,
        SLOTS_ADVICE,
        "ESPHome firmware answers a connect with connected=false, error 0 when no slot is free",
    ),
    // ESP_GATT_CONN_CONN_CANCEL (0x100): the proxy refused at once (out of slots, the user's
    // rule and brc 4.0.2), unless the attempt ran >= 8 s: then the device gave up (brc 4.7.1).
    Rule {
        when: When::RanAtLeast(CONN_CANCEL_GAVE_UP_AFTER),
        ..row(
            Text("ESP_GATT_CONN_CONN_CANCEL"),
            Aborted,
            CANCEL_SLOW_ADVICE,
            "brc 4.7.1 CONNECTION_CANCELLED_REJECTED_MAX_TIME",
        )
    },
    Rule {
        when: When::RanAtLeast(CONN_CANCEL_GAVE_UP_AFTER),
        ..esp_connect(
            0x100,
            Aborted,
            CANCEL_SLOW_ADVICE,
            "brc 4.7.1 CONNECTION_CANCELLED_REJECTED_MAX_TIME",
        )
    },
    row(
        Text("ESP_GATT_CONN_CONN_CANCEL"),
        OutOfSlots,
        CANCEL_FAST_ADVICE,
        "esp-idf#17452: HCI 0x0d while the previous link was closing; brc 4.0.2",
    ),
    esp_connect(
        0x100,
        OutOfSlots,
        CANCEL_FAST_ADVICE,
        "esp-idf#17452; brc 4.0.2",
    ),
    // Transient radio trouble: retry soon.
    row(
        Text("le-connection-abort-by-local"),
        Aborted,
        ABORT_ADVICE,
        "brc TRANSIENT_ERRORS (BlueZ)",
    ),
    row(
        Text("br-connection-canceled"),
        Aborted,
        ABORT_ADVICE,
        "brc TRANSIENT_ERRORS (BlueZ)",
    ),
    row(
        Text("le-connection-abort-by-remote"),
        Aborted,
        ABORT_ADVICE,
        "kernel reason string; brc leaves it generic",
    ),
    row(
        Text("le-connection-busy"),
        Aborted,
        BUSY_ADVICE,
        "kernel reason string",
    ),
    row(
        Text("org.bluez.Error.InProgress"),
        Aborted,
        BUSY_ADVICE,
        "kernel -EBUSY: one LE connection attempt per controller (brc #226, #233)",
    ),
    row(
        Text("Operation already in progress"),
        Aborted,
        BUSY_ADVICE,
        "BlueZ InProgress message text",
    ),
    row(
        Text("Software caused connection abort"),
        Aborted,
        ABORT_ADVICE,
        "ECONNABORTED from the kernel",
    ),
    row(
        Text("org.bluez.Error.NotReady"),
        Aborted,
        ABORT_ADVICE,
        "BlueZ: adapter not powered yet",
    ),
    row(
        Text("ESP_GATT_CONN_FAIL_ESTABLISH"),
        Aborted,
        ABORT_ADVICE,
        "brc TRANSIENT_ERRORS / MEDIUM",
    ),
    row(
        Text("ESP_GATT_CONN_TERMINATE_PEER_USER"),
        Aborted,
        ABORT_ADVICE,
        "brc TRANSIENT_ERRORS",
    ),
    row(
        Text("ESP_GATT_CONN_TERMINATE_LOCAL_HOST"),
        Aborted,
        ABORT_ADVICE,
        "brc TRANSIENT_ERRORS",
    ),
    row(
        Text("ESP_GATT_CONN_TIMEOUT"),
        Aborted,
        ABORT_ADVICE,
        "brc TRANSIENT_ERRORS_MEDIUM_BACKOFF",
    ),
    row(
        Text("ESP_GATT_ERROR"),
        Aborted,
        ABORT_ADVICE,
        "brc TRANSIENT_ERRORS_LONG_BACKOFF",
    ),
    esp_connect(0x3E, Aborted, ABORT_ADVICE, "ESP_GATT_CONN_FAIL_ESTABLISH"),
    esp_connect(
        0x13,
        Aborted,
        ABORT_ADVICE,
        "ESP_GATT_CONN_TERMINATE_PEER_USER",
    ),
    esp_connect(
        0x16,
        Aborted,
        ABORT_ADVICE,
        "ESP_GATT_CONN_TERMINATE_LOCAL_HOST",
    ),
    esp_connect(0x08, Aborted, ABORT_ADVICE, "ESP_GATT_CONN_TIMEOUT"),
    esp_connect(0x85, Aborted, ABORT_ADVICE, "ESP_GATT_ERROR (133)"),
    // A create-connection that the controller timed out: nobody answered, the device is not
    // advertising where this radio listens.
    row(
        Text("le-connection-timeout"),
        NotFound,
        NOT_FOUND_ADVICE,
        "kernel: LE create connection timed out",
    ),
];

/// Advice for failures no row matches.
pub(crate) const GENERIC_ADVICE: &str = "not a failure bluefleet recognises: it retries with \
     backoff up to the attempt budget; if it repeats, report the full text";
