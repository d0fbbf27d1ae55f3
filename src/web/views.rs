//! The rows of the live page's five views, as the JSON API and the SSE stream carry them.
//!
//! Plain data with no behaviour: the journal fills them, the server serialises them, the page's
//! script and the SVG report read them. Times are seconds since the fleet started (virtual
//! seconds on the simulated radio), so a seed gives the same rows in any process.

use serde::Serialize;

use crate::adverts::proximity::Zone;
use crate::backend::{RadioKind, ScanModeReport};
use crate::model::{Address, RadioId};

/// One radio in the radios view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RadioRow {
    /// Its name.
    pub radio: RadioId,
    /// Controller or proxy.
    pub kind: RadioKind,
    /// `scanning`, `quiet` (up but no advert for a while), `recovering` (the radio watchdog is
    /// stepping through its recovery ladder) or `down`.
    pub state: &'static str,
    /// Slots the fleet holds there.
    pub slots_used: usize,
    /// Slots other clients hold there.
    pub slots_foreign: usize,
    /// Its slot limit.
    pub slot_limit: usize,
    /// Who holds the fleet's slots, by name.
    pub holders: Vec<Holder>,
    /// Connect attempts waiting for or holding the radio's connect gate.
    pub connect_queue: usize,
    /// Adverts per second over the last ten seconds.
    pub adverts_per_s: f64,
    /// Seconds since its last advert; `None` before the first.
    pub last_advert_age_s: Option<f64>,
    /// Attempts started there in all.
    pub attempts: u64,
    /// Proxy clients this radio serves (all of them in aggregate mode, its own virtual
    /// proxy's in per-radio mode); `None` when no proxy is served.
    pub clients_served: Option<usize>,
    /// What the radio watchdog did (`step 1 of 2 (restart discovery)` while recovering);
    /// `None` for a radio without one.
    pub recovery: Option<String>,
    /// The scan mode asked for and the one the radio confirms, as diagnostics report it
    /// (`None`: the radio says nothing about its scan mode).
    pub scan_mode: Option<ScanModeReport>,
    /// The same in words: `passive`, `active (wanted passive: …)`, `unknown (wanted …)`.
    pub scan_mode_words: Option<String>,
    /// Adverts its bounded event channel dropped because ingestion fell behind.
    pub adverts_dropped: u64,
}

/// A slot holder, named for people.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holder {
    /// Its address.
    pub address: Address,
    /// Its name (the address when it has none).
    pub name: String,
}

/// One lease: a device holding a slot on a radio from `start_s` until `end_s`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lease {
    /// Stable id (its index in the journal).
    pub id: usize,
    /// The radio.
    pub radio: RadioId,
    /// The holder.
    pub device: Address,
    /// When the slot was first seen held.
    pub start_s: f64,
    /// When it was first seen free again; `None` while held.
    pub end_s: Option<f64>,
}

/// One finished connection attempt on a radio, as a tick on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tick {
    /// The radio.
    pub radio: RadioId,
    /// When it finished.
    pub at_s: f64,
    /// `ok`, `not-found`, `out-of-slots`, `aborted` or `generic`.
    pub class: &'static str,
}

/// A slot held with no connection behind it, or a device holding two slots.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alarm {
    /// Stable id.
    pub id: usize,
    /// `stuck-slot` or `double-holder`.
    pub kind: &'static str,
    /// The radio (for a double holder, the second radio).
    pub radio: RadioId,
    /// The device.
    pub device: Address,
    /// Since when.
    pub since_s: f64,
    /// Until when; `None` while it lasts.
    pub until_s: Option<f64>,
}

/// One managed or heard device in the devices view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceRow {
    /// Its address.
    pub address: Address,
    /// Its name (the address when it has none).
    pub name: String,
    /// Whether the fleet manages it.
    pub managed: bool,
    /// The fleet's state label (`connected`, `backoff`, ...), or `heard` when unmanaged.
    pub state: &'static str,
    /// The radio it is connected or connecting through.
    pub radio: Option<RadioId>,
    /// Smoothed RSSI per radio that hears it, dBm (rounded).
    pub rssi: Vec<(RadioId, Option<i32>)>,
    /// The radio that hears it best.
    pub best_radio: Option<RadioId>,
    /// The best radio's smoothed RSSI, dBm (rounded).
    pub best_rssi: Option<i32>,
    /// Proximity zone.
    pub zone: Option<Zone>,
    /// Advert interval learned from the gaps between its adverts, seconds.
    pub interval_s: Option<f64>,
    /// When it will count as gone if no advert arrives, seconds since start.
    pub gone_at_s: Option<f64>,
    /// Subscribers to its notifications.
    pub subscribers: usize,
    /// Notification values its subscribers missed (lag).
    pub lagged: u64,
    /// Its last value, as text.
    pub last_value: Option<String>,
    /// What its adverts decode to (`bthome (BTHome sensor): temperature 21.3 °C, …`), or why
    /// they do not.
    pub readings: Option<String>,
    /// The end of its backoff, seconds since start.
    pub backoff_until_s: Option<f64>,
    /// Connections so far.
    pub connections: u64,
}

/// One finished connection attempt of a device, with what was known when it ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttemptRow {
    /// Stable id.
    pub id: usize,
    /// When it ended.
    pub at_s: f64,
    /// The device.
    pub device: Address,
    /// Its name.
    pub name: String,
    /// The radio it ran on.
    pub radio: Option<RadioId>,
    /// Attempt number since the last success.
    pub attempt: u32,
    /// `connected` or `failed`.
    pub outcome: &'static str,
    /// `ok` or the failure's class.
    pub class: &'static str,
    /// The backend's words for the failure.
    pub error: Option<String>,
    /// What bluefleet does next, as `bluefleet explain` says it.
    pub explanation: String,
    /// When the next attempt may start, seconds since start.
    pub next_retry_s: Option<f64>,
    /// Every radio and what it looked like for this device then.
    pub considered: Vec<Considered>,
}

/// A radio as the fleet saw it for one attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Considered {
    /// The radio.
    pub radio: RadioId,
    /// `chosen (−63 dBm, 2 free)`, or why it was passed over (`down`, `last heard it 40 s
    /// ago`, `14 dB below the best radio`), as the device judged it when it queued.
    pub verdict: String,
}

/// One advert in the monitor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdvertRow {
    /// Stable id.
    pub id: u64,
    /// When it was heard.
    pub at_s: f64,
    /// The advertiser.
    pub address: Address,
    /// The radio that heard it.
    pub radio: RadioId,
    /// RSSI, dBm.
    pub rssi: i16,
    /// The raw AD bytes in hex, when the radio delivered bytes.
    pub raw_hex: Option<String>,
    /// The decoded fields, one `key=value` per field.
    pub fields: Vec<String>,
}

/// Fleet-wide figures for the page's header.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Header {
    /// Seconds since start.
    pub now_s: f64,
    /// Devices heard.
    pub devices_heard: usize,
    /// Adverts ingested.
    pub adverts_ingested: u64,
    /// Whether the run has finished (the page then shows its final state).
    pub finished: bool,
    /// Whether the server accepts commands.
    pub commands: bool,
    /// Attempt events the page's listener missed (it fell behind the fleet).
    pub attempt_events_missed: u64,
    /// What the fleet's bounded queues dropped since the start, so the page can say so.
    pub losses: Losses,
}

/// Everything the fleet's bounded queues dropped, fleet-wide (each drop was also announced
/// to its consumer; docs/architecture.md, "Backpressure").
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Losses {
    /// Adverts radios' event channels dropped (the sum of the radios' rows).
    pub adverts_dropped: u64,
    /// Notifications links' event channels dropped.
    pub notifications_dropped: u64,
    /// Adverts not handed to a managed device's full mailbox.
    pub device_adverts_dropped: u64,
    /// Adverts advert watchers lost (announced to each as `Lagged`).
    pub watcher_adverts_lost: u64,
    /// Items lost by consumers of the fleet-wide advert feeds.
    pub feed_lost: u64,
}

/// One client of `bluefleet proxy` (a Home Assistant instance, a script), in the clients view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientRow {
    /// The session's id.
    pub id: u64,
    /// The client's address.
    pub peer: String,
    /// The virtual proxy it talks to.
    pub proxy: String,
    /// The radio that proxy stands for (per-radio mode); `None`: every radio.
    pub radio: Option<RadioId>,
    /// When it connected, seconds since the Unix epoch (real time: clients are processes).
    pub since_unix_s: f64,
    /// How it describes itself (`Home Assistant 2026.11.0`).
    pub client_info: String,
    /// Whether the session is encrypted.
    pub encrypted: bool,
    /// Subscribed to advertisements.
    pub adverts: bool,
    /// Subscribed to slot reports.
    pub slot_reports: bool,
    /// The connections it holds, named.
    pub connections: Vec<Holder>,
    /// What it asked, by request kind.
    pub requests: Vec<(String, u64)>,
}

/// A client the proxy turned away at the handshake.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefusalRow {
    /// The client's address.
    pub peer: String,
    /// Why (wrong key, plaintext client...).
    pub reason: String,
    /// When, seconds since the Unix epoch.
    pub at_unix_s: f64,
}
