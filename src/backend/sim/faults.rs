//! How simulated radios fail: the real error names, codes and texts each radio kind uses.
//!
//! Owns every [`Failure`] the simulation produces, so the classifier sees the same words it
//! sees from hardware: BlueZ D-Bus errors for local controllers ([`Failure::dbus`]) and
//! ESP-IDF codes as an ESPHome proxy reports them ([`Failure::esp`]). Also draws injected
//! faults from a radio's rates. The texts come from `research/esphome-proxy.md` §3–4,
//! `research/performance-anchors.md` §1.4–1.5 and the classifier's own table.
//!
//! Gotcha: an ESPHome proxy answers "no free slot" with `connected=false, error=0` and nothing
//! else (code 0); the same code on a GATT answer means something unrelated, so every failure
//! carries its stage.

use std::time::Duration;

use rand::Rng;

use super::world::FaultRates;
use crate::backend::{Failure, FailureSource, FailureStage, RadioKind};
use crate::model::Address;
use crate::ErrorKind;

use FailureStage::{Connect, Gatt};
use RadioKind::{EsphomeProxy, LocalController};

const BLUEZ_FAILED: &str = "org.bluez.Error.Failed";

/// A failed connect as the simulation made it: the radio's words and the class it meant.
///
/// The simulation counts failures by `class` (`FailureCounts`) without asking the classifier,
/// as no backend does; the tests below check that the classifier reads each failure as meant.
#[derive(Debug)]
pub(crate) struct Fault {
    /// What the radio says.
    pub(crate) failure: Failure,
    /// The class the simulation meant.
    pub(crate) class: ErrorKind,
}

impl Fault {
    fn new(failure: Failure, class: ErrorKind) -> Self {
        Self { failure, class }
    }
}

/// How long a radio takes to refuse an attempt it refuses at once.
pub(crate) const FAST_REFUSAL: Duration = Duration::from_millis(20);

/// Draws whether this attempt suffers an injected fault. Always consumes exactly one draw.
pub(crate) fn draw(rates: &FaultRates, rng: &mut impl Rng) -> Option<ErrorKind> {
    let roll: f64 = rng.gen();
    let mut edge = 0.0;
    for (p, kind) in [
        (rates.not_found, ErrorKind::NotFound),
        (rates.out_of_slots, ErrorKind::OutOfSlots),
        (rates.aborted, ErrorKind::Aborted),
        (rates.generic, ErrorKind::Generic),
    ] {
        edge += p;
        if roll < edge {
            return Some(kind);
        }
    }
    None
}

/// A second attempt while one is in flight (kernel `-EBUSY` surfaced by BlueZ; ESP-IDF's
/// GATT client busy status on a proxy).
pub(crate) fn busy(kind: RadioKind) -> Failure {
    match kind {
        LocalController => Failure::dbus(
            Connect,
            "org.bluez.Error.InProgress",
            "Operation already in progress",
        ),
        EsphomeProxy => Failure::esp(Connect, 0x84, "ESP_GATT_BUSY", "Busy"),
    }
}

/// Every slot is taken: the radio's own limit.
pub(crate) fn no_free_slot(kind: RadioKind) -> Fault {
    let failure = match kind {
        LocalController => Failure::dbus(
            Connect,
            BLUEZ_FAILED,
            "le-connection-concurrent-connection-limit",
        ),
        EsphomeProxy => Failure {
            code: Some(0),
            ..Failure::new(FailureSource::Esphome, Connect, "Disconnected")
        },
    };
    Fault::new(failure, ErrorKind::OutOfSlots)
}

/// An injected fault of `class` after the attempt ran `elapsed` (not-found is handled as an
/// unreachable device by the caller, except on local controllers, where BlueZ has dropped the
/// device object).
pub(crate) fn injected(kind: RadioKind, class: ErrorKind, elapsed: Duration) -> Fault {
    let failure = match (kind, class) {
        (LocalController, ErrorKind::NotFound) => Failure::dbus(
            Connect,
            "org.freedesktop.DBus.Error.UnknownObject",
            "Method \"Connect\" with signature \"\" on interface \"org.bluez.Device1\" doesn't exist",
        ),
        (LocalController, ErrorKind::OutOfSlots) => Failure::dbus(
            Connect,
            BLUEZ_FAILED,
            "Connection Rejected due to Limited Resources (0x0d)",
        ),
        (EsphomeProxy, ErrorKind::OutOfSlots) => Failure::esp(
            Connect,
            0x100,
            "ESP_GATT_CONN_CONN_CANCEL",
            "Error ESP_GATT_CONN_CONN_CANCEL while connecting: Connection cancelled",
        ),
        (LocalController, ErrorKind::Aborted) => {
            Failure::dbus(Connect, BLUEZ_FAILED, "le-connection-abort-by-local")
        }
        (EsphomeProxy, ErrorKind::Aborted) => Failure::esp(
            Connect,
            0x3E,
            "ESP_GATT_CONN_FAIL_ESTABLISH",
            "Error ESP_GATT_CONN_FAIL_ESTABLISH while connecting: Connection failed to establish",
        ),
        (LocalController, _) => Failure::dbus(
            Connect,
            "org.freedesktop.DBus.Error.NoReply",
            "Did not receive a reply. Possible causes include: the remote application did not \
             send a reply, the message bus security policy blocked the reply, the reply timeout \
             expired, or the network connection was broken.",
        ),
        (EsphomeProxy, _) => Failure::esp(
            Connect,
            0x22,
            "ESP_GATT_CONN_LMP_TIMEOUT",
            "Error ESP_GATT_CONN_LMP_TIMEOUT while connecting: Connection failed due to LMP \
             response timeout",
        ),
    };
    Fault::new(failure.with_elapsed(elapsed), class)
}

/// The device never answered. `by_caller` says whose timeout ran out first: the caller's
/// (a timed-out failure in the radio's words) or the radio's own. Meant as not-found, except a
/// proxy's own give-up (`ESP_GATT_CONN_CONN_CANCEL`), which is meant as aborted, as the
/// classifier reads it after 8 s or more (a proxy world with a shorter `connect_timeout` would
/// be read as out-of-slots, as a Home Assistant client reads it; the counts keep the meaning).
pub(crate) fn unreachable(
    kind: RadioKind,
    address: Address,
    waited: Duration,
    by_caller: bool,
) -> Fault {
    let class = match (kind, by_caller) {
        (EsphomeProxy, false) => ErrorKind::Aborted,
        _ => ErrorKind::NotFound,
    };
    let failure = match (kind, by_caller) {
        (LocalController, true) => Failure::timeout(FailureSource::Bluez, Connect, waited),
        (EsphomeProxy, true) => Failure {
            timed_out: true,
            ..Failure::new(
                FailureSource::Esphome,
                Connect,
                format!(
                    "Timeout waiting for connect response while connecting to {address} after {}s",
                    waited.as_secs()
                ),
            )
        },
        (LocalController, false) => Failure::dbus(Connect, BLUEZ_FAILED, "le-connection-timeout"),
        (EsphomeProxy, false) => Failure::esp(
            Connect,
            0x100,
            "ESP_GATT_CONN_CONN_CANCEL",
            "Error ESP_GATT_CONN_CONN_CANCEL while connecting: Connection cancelled",
        ),
    };
    Fault::new(failure.with_elapsed(waited), class)
}

/// The radio is down (adapter unpowered, proxy offline) when an attempt starts or while it runs:
/// aborted on a local controller (BlueZ's not-ready), generic on a proxy (the client library's
/// own words, with no code to go by).
pub(crate) fn radio_down(kind: RadioKind, elapsed: Duration) -> Fault {
    let (failure, class) = match kind {
        LocalController => (
            Failure::dbus(Connect, "org.bluez.Error.NotReady", "Resource Not Ready"),
            ErrorKind::Aborted,
        ),
        EsphomeProxy => (
            Failure::new(
            FailureSource::Esphome,
            Connect,
                "Peripheral changed connection status while waiting for BluetoothDeviceConnectionResponse",
            ),
            ErrorKind::Generic,
        ),
    };
    Fault::new(failure.with_elapsed(elapsed), class)
}

/// A GATT operation on a link that has ended.
pub(crate) fn not_connected(kind: RadioKind) -> Failure {
    match kind {
        LocalController => Failure::dbus(Gatt, BLUEZ_FAILED, "Not connected"),
        EsphomeProxy => Failure::esp(Gatt, -1, "ESP_GATT_NOT_CONNECTED", "Not connected"),
    }
}

/// A GATT request the device answered with an ATT error.
pub(crate) fn att(kind: RadioKind, status: u8) -> Failure {
    let failure = match (kind, status) {
        (LocalController, 0x02) => {
            Failure::dbus(Gatt, "org.bluez.Error.NotPermitted", "Read not permitted")
        }
        (LocalController, 0x03) => {
            Failure::dbus(Gatt, "org.bluez.Error.NotPermitted", "Write not permitted")
        }
        (LocalController, _) => Failure::dbus(
            Gatt,
            BLUEZ_FAILED,
            format!("Operation failed with ATT error: 0x{status:02x}"),
        ),
        (EsphomeProxy, 0x01) => {
            Failure::esp(Gatt, 0x01, "ESP_GATT_INVALID_HANDLE", "Invalid handle")
        }
        (EsphomeProxy, 0x02) => {
            Failure::esp(Gatt, 0x02, "ESP_GATT_READ_NOT_PERMIT", "Read not permitted")
        }
        (EsphomeProxy, 0x03) => Failure::esp(
            Gatt,
            0x03,
            "ESP_GATT_WRITE_NOT_PERMIT",
            "Write not permitted",
        ),
        (EsphomeProxy, _) => Failure::esp(Gatt, i64::from(status), "ESP_GATT_ERROR", "Error"),
    };
    failure.with_att_status(status)
}

/// The words a link's `Disconnected` event carries when the link is lost.
pub(crate) fn link_lost_detail(kind: RadioKind) -> &'static str {
    match kind {
        LocalController => "org.bluez.Reason.Timeout: connection timeout (supervision timeout)",
        EsphomeProxy => "ESP_GATT_CONN_TIMEOUT (0x08): Connection failed due to timeout",
    }
}

/// The words for a link we closed.
pub(crate) fn requested_detail(kind: RadioKind) -> &'static str {
    match kind {
        LocalController => "org.bluez.Reason.Local: disconnected by local host",
        EsphomeProxy => {
            "ESP_GATT_CONN_TERMINATE_LOCAL_HOST (0x16): Connection terminated by local host"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;

    #[test]
    fn every_fault_classifies_as_meant() {
        let addr = Address::parse("A4:C1:38:00:00:01").unwrap();
        let secs = Duration::from_secs(20);
        let mut faults = Vec::new();
        for kind in [LocalController, EsphomeProxy] {
            faults.push(no_free_slot(kind));
            faults.push(radio_down(kind, Duration::ZERO));
            faults.push(radio_down(kind, secs));
            for class in [
                ErrorKind::NotFound,
                ErrorKind::OutOfSlots,
                ErrorKind::Aborted,
                ErrorKind::Generic,
            ] {
                if (kind, class) != (EsphomeProxy, ErrorKind::NotFound) {
                    faults.push(injected(kind, class, FAST_REFUSAL));
                }
            }
            for by_caller in [true, false] {
                faults.push(unreachable(kind, addr, secs, by_caller));
            }
        }
        for fault in &faults {
            let failure = &fault.failure;
            assert_eq!(classify(failure).kind, fault.class, "{failure}");
        }
        let meant = |f: &Fault| f.class;
        assert_eq!(
            meant(&unreachable(EsphomeProxy, addr, secs, false)),
            ErrorKind::Aborted
        );
        assert_eq!(
            meant(&unreachable(LocalController, addr, secs, false)),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn a_second_attempt_reads_as_aborted() {
        assert_eq!(classify(&busy(LocalController)).kind, ErrorKind::Aborted);
    }

    #[test]
    fn fault_draws_follow_the_rates() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let rates = FaultRates {
            aborted: 0.5,
            ..FaultRates::default()
        };
        let hits = (0..1000)
            .filter(|_| draw(&rates, &mut rng) == Some(ErrorKind::Aborted))
            .count();
        assert!((400..600).contains(&hits), "{hits}");
        assert_eq!(draw(&FaultRates::default(), &mut rng), None);
    }
}
