//! What the radio handle, its links and the session task share: the proxy's status and the
//! current event subscriber.
//!
//! Owns [`Shared`]. The session task writes the status (up or down and why, the feature flags,
//! the slot report, the session generation) and emits [`RadioEvent`]s; the handle reads the
//! status without a round trip (`info()`, the connect pre-checks) and hands out event streams.
//! Locks are `std` mutexes held only for a copy or a channel send, never across an await.
//!
//! Events travel on the bounded radio channel ([`crate::backend::radio_events`]): a consumer
//! that stops reading costs the oldest adverts (announced as `AdvertsDropped`), never a state
//! change (`Up`, `Down`, slot reports: the newest of each kind is kept), nor unbounded memory.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::backend::{radio_events, RadioEvent, RadioEventSender, ScanMode, SlotReport};
use crate::model::RadioId;
use futures::stream::{self, BoxStream, StreamExt};

/// The slot limit assumed until the proxy's first report (ESPHome's default).
pub(crate) const DEFAULT_SLOT_LIMIT: usize = 3;

/// The proxy as last seen.
#[derive(Clone, Debug)]
pub(crate) struct Status {
    /// Whether a session is established.
    pub up: bool,
    /// Why it is down (when it is).
    pub down_reason: String,
    /// Whether the first contact has ended (until then the state is not known, only "not yet").
    pub contacted: bool,
    /// Feature flags of the current session.
    pub features: u32,
    /// The proxy's last slot report (of the current session).
    pub slots: Option<SlotReport>,
    /// The limit from the proxy's latest report, kept across sessions.
    pub slot_limit: usize,
    /// Counts sessions; links remember theirs.
    pub generation: u64,
    /// The scan mode bluefleet asks the proxy for.
    pub wanted_mode: ScanMode,
    /// The scanner mode the proxy last reported in this session (`None`: not reported).
    pub scanner_mode: Option<ScanMode>,
}

#[derive(Debug)]
struct Sinks {
    events: RadioEventSender,
}

/// State shared by the handle, its links and the session task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub id: RadioId,
    status: Mutex<Status>,
    sinks: Mutex<Option<Sinks>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(id: RadioId) -> Self {
        Self {
            id,
            status: Mutex::new(Status {
                up: false,
                down_reason: "not connected to the proxy yet".into(),
                contacted: false,
                features: 0,
                slots: None,
                slot_limit: DEFAULT_SLOT_LIMIT,
                generation: 0,
                wanted_mode: ScanMode::Active,
                scanner_mode: None,
            }),
            sinks: Mutex::new(None),
        }
    }

    pub(crate) fn status(&self) -> Status {
        lock(&self.status).clone()
    }

    /// A new event stream replacing the previous one; it starts with the current state, or,
    /// while the first contact is under way, with that contact's outcome (so a consumer never
    /// mistakes "not tried yet" for a failure).
    pub(crate) fn subscribe(&self) -> BoxStream<'static, RadioEvent> {
        let (control, events) = radio_events();
        let status = self.status();
        if status.up {
            let _ = control.send(RadioEvent::Up);
        } else if status.contacted {
            let _ = control.send(RadioEvent::Down {
                reason: status.down_reason,
            });
        }
        if let (true, Some(report)) = (status.up, status.slots) {
            let _ = control.send(RadioEvent::SlotsReported(report));
        }
        *lock(&self.sinks) = Some(Sinks { events: control });
        events
    }

    /// A stream that only says why the radio cannot run.
    pub(crate) fn unavailable(reason: String) -> BoxStream<'static, RadioEvent> {
        stream::iter([RadioEvent::Down { reason }]).boxed()
    }

    /// A session is established.
    pub(crate) fn set_up(&self, features: u32) -> u64 {
        let generation = {
            let mut status = lock(&self.status);
            status.up = true;
            status.contacted = true;
            status.features = features;
            status.slots = None;
            status.scanner_mode = None;
            status.generation += 1;
            status.generation
        };
        self.emit(RadioEvent::Up);
        generation
    }

    /// The session ended or could not start. Reports `Down` when the radio was up or the
    /// reason changed (a proxy that stays unreachable is not reported on every retry).
    pub(crate) fn set_down(&self, reason: String) {
        let changed = {
            let mut status = lock(&self.status);
            let changed = status.up || !status.contacted || status.down_reason != reason;
            status.up = false;
            status.contacted = true;
            status.slots = None;
            status.scanner_mode = None;
            status.down_reason.clone_from(&reason);
            changed
        };
        if changed {
            self.emit(RadioEvent::Down { reason });
        }
    }

    /// The mode to ask the proxy for from now on.
    pub(crate) fn want_mode(&self, mode: ScanMode) {
        lock(&self.status).wanted_mode = mode;
    }

    /// Records the mode in the proxy's scanner-state message (0 passive, 1 active).
    pub(crate) fn scanner_reported(&self, mode: u32) {
        let mode = match mode {
            0 => Some(ScanMode::Passive),
            1 => Some(ScanMode::Active),
            _ => None,
        };
        lock(&self.status).scanner_mode = mode;
    }

    /// Records and reports a slot report.
    pub(crate) fn report_slots(&self, report: SlotReport) {
        {
            let mut status = lock(&self.status);
            status.slot_limit = report.limit;
            status.slots = Some(report.clone());
        }
        self.emit(RadioEvent::SlotsReported(report));
    }

    /// Sends an event to the current subscriber, if any.
    pub(crate) fn emit(&self, event: RadioEvent) {
        let sinks = lock(&self.sinks);
        let Some(sinks) = sinks.as_ref() else {
            return;
        };
        sinks.events.send(event);
    }
}
