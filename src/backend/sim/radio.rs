//! [`SimRadio`]: one simulated controller or proxy, implementing [`Radio`].
//!
//! Owns the connect path. An attempt is decided up front under the state lock (busy? slot
//! free? device reachable? injected fault?), then waits its virtual latency while watching for
//! the radio going down, then finishes under the lock again. The radio enforces its own slot
//! limit and refuses a second concurrent attempt, with the real texts from `faults.rs`.
//!
//! Cancel safety: the attempt's slot reservation and in-flight mark live in an
//! [`AttemptGuard`]; dropping the `connect` future at any `.await` drops the guard, which gives
//! both back (and a proxy reports the freed slot) at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use rand::Rng;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::faults::{self, Fault};
use super::link::SimLink;
use super::link_task;
use super::state::{domain, stream, LinkRecord, Shared};
use super::stats::Traced;
use crate::backend::{
    ConnectRequest, Connection, Failure, Radio, RadioEvent, RadioInfo, RadioKind, RecoveryStep,
    ScanMode, ScanModeReport,
};
use crate::model::RadioId;
use crate::ErrorKind;

/// One simulated radio; cheap to share (`Arc<dyn Radio>`).
#[derive(Debug)]
pub struct SimRadio {
    shared: Arc<Shared>,
    index: usize,
}

impl SimRadio {
    pub(crate) fn new(shared: Arc<Shared>, index: usize) -> Self {
        Self { shared, index }
    }

    fn kind(&self) -> RadioKind {
        self.shared.radio_kind(self.index)
    }
}

/// How an accepted attempt will end, decided when it starts.
enum Plan {
    Succeed,
    Fail(Fault),
}

/// Holds an attempt's in-flight mark and slot reservation; gives both back when dropped
/// unless the slot has become a link's.
struct AttemptGuard {
    shared: Arc<Shared>,
    radio: usize,
    token: u64,
    slot_is_links: bool,
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if let Some(r) = state.radios.get_mut(self.radio) {
            r.in_flight = r.in_flight.saturating_sub(1);
        }
        if !self.slot_is_links {
            state.free_slot(&self.shared, self.radio, self.token);
        }
    }
}

#[async_trait]
impl Radio for SimRadio {
    fn id(&self) -> RadioId {
        self.shared
            .radio_ids
            .get(self.index)
            .cloned()
            .unwrap_or_else(|| RadioId::new("?"))
    }

    fn info(&self) -> RadioInfo {
        let slot_limit = self
            .shared
            .world
            .radios
            .get(self.index)
            .map_or(0, |r| r.slot_limit);
        RadioInfo {
            kind: self.kind(),
            slot_limit,
            reports_slots: self.kind() == RadioKind::EsphomeProxy,
        }
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let (tx, rx) = crate::backend::radio_events();
        let mut state = self.shared.lock();
        let up = state.radios.get(self.index).is_some_and(|r| r.up);
        let first = if up {
            RadioEvent::Up
        } else {
            RadioEvent::Down {
                reason: "radio is down".into(),
            }
        };
        let _ = tx.send(first);
        if up && self.kind() == RadioKind::EsphomeProxy {
            if let Some(report) = state.slot_report(&self.shared, self.index) {
                let _ = tx.send(RadioEvent::SlotsReported(report));
            }
        }
        if let Some(r) = state.radios.get_mut(self.index) {
            r.subscribers.push(tx);
        }
        rx
    }

    fn set_scan_mode(&self, wanted: ScanMode) -> Result<(), String> {
        if let Some(r) = self.shared.lock().radios.get_mut(self.index) {
            r.scan_mode = wanted;
        }
        Ok(())
    }

    fn scan_mode(&self) -> Option<ScanModeReport> {
        let mode = self.shared.lock().radios.get(self.index)?.scan_mode;
        Some(ScanModeReport {
            wanted: mode,
            actual: Some(mode),
            note: None,
        })
    }

    fn recovery_steps(&self) -> Vec<RecoveryStep> {
        match self.kind() {
            RadioKind::LocalController => {
                vec![RecoveryStep::RestartDiscovery, RecoveryStep::PowerCycle]
            }
            RadioKind::EsphomeProxy => {
                vec![RecoveryStep::RestartDiscovery, RecoveryStep::Reconnect]
            }
        }
    }

    /// Clears a stuck scanner when the step is heavy enough; a power cycle or reconnect takes
    /// the radio down and up first, ending its links, as on real hardware.
    async fn recover(&self, step: RecoveryStep) -> Result<(), String> {
        if !self.recovery_steps().contains(&step) {
            return Err(format!("{} cannot {step}", self.id()));
        }
        let mut state = self.shared.lock();
        if step.weight() > 1 {
            state.radio_down(
                &self.shared,
                self.index,
                &format!("{step} by the radio watchdog"),
            );
            state.radio_up(&self.shared, self.index);
        }
        if let Some(r) = state.radios.get_mut(self.index) {
            if r.stuck.is_some_and(|cure| cure.weight() <= step.weight()) {
                r.stuck = None;
            }
        }
        Ok(())
    }

    async fn connect(&self, request: ConnectRequest) -> Result<Connection, Failure> {
        let shared = &self.shared;
        let (radio, kind) = (self.index, self.kind());
        let started = Instant::now();
        let mut down_epoch = shared.down_epochs.get(radio).map(|tx| tx.subscribe());
        let (token, plan, delay) = match self.begin(&request) {
            Ok(begun) => begun,
            Err(refusal) => return Err(refusal),
        };
        let guard = AttemptGuard {
            shared: shared.clone(),
            radio,
            token,
            slot_is_links: false,
        };
        let went_down = async {
            match &mut down_epoch {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let plan = tokio::select! {
            // Fixed branch order: tokio's default random order is not seeded by us.
            biased;
            () = tokio::time::sleep(delay) => plan,
            true = went_down => Plan::Fail(faults::radio_down(kind, started.elapsed())),
        };
        let mut guard = guard;
        let fault = match plan {
            Plan::Fail(fault) => fault,
            Plan::Succeed => match self.finish(&request, token) {
                Ok(connection) => {
                    guard.slot_is_links = true;
                    return Ok(connection);
                }
                Err(fault) => fault,
            },
        };
        self.count_failure(&request, &fault);
        Err(fault.failure)
    }
}

impl SimRadio {
    /// Decides the attempt under the lock: refuses at once (busy, down) or returns its slot
    /// token, plan and how long it runs.
    fn begin(&self, request: &ConnectRequest) -> Result<(u64, Plan, Duration), Failure> {
        let shared = &self.shared;
        let (radio, kind) = (self.index, self.kind());
        let Some(spec) = shared.world.radios.get(radio) else {
            return Err(faults::radio_down(kind, Duration::ZERO).failure);
        };
        let at = shared.elapsed();
        let device = shared.device_index(request.address);
        let mut state = shared.lock();
        let keyed_latency = device.and_then(|d| {
            let connection = state.devices.get(d).map_or(0, |s| s.stats.connects);
            shared
                .world
                .drawn_connect_latency(shared.seed, radio, d, connection)
        });
        let radio_id = shared
            .radio_ids
            .get(radio)
            .cloned()
            .unwrap_or_else(|| RadioId::new("?"));
        let Some(r) = state.radios.get_mut(radio) else {
            return Err(faults::radio_down(kind, Duration::ZERO).failure);
        };
        if !r.up {
            let fault = faults::radio_down(kind, Duration::ZERO);
            drop(state);
            self.count_failure(request, &fault);
            return Err(fault.failure);
        }
        if spec.serialises_attempts && r.in_flight > 0 {
            r.stats.concurrent_rejections += 1;
            r.stats.max_concurrent_attempts = r.stats.max_concurrent_attempts.max(r.in_flight + 1);
            state.record(
                shared,
                Traced::ConnectRefusedBusy {
                    radio: radio_id,
                    device: request.address,
                },
            );
            return Err(faults::busy(kind));
        }
        r.in_flight += 1;
        r.stats.connect_attempts += 1;
        r.stats.max_concurrent_attempts = r.stats.max_concurrent_attempts.max(r.in_flight);
        // Draw the same numbers on every attempt so one fault does not shift later draws.
        let injected = faults::draw(&spec.faults, &mut r.rng);
        let latency = keyed_latency.unwrap_or_else(|| {
            r.rng
                .gen_range(spec.connect_latency.min..=spec.connect_latency.max)
        });
        let forced = r.forced.pop_front();
        let slots_full = r.slots.len() >= spec.slot_limit;
        let token = state.next_token();
        state.record(
            shared,
            Traced::ConnectStarted {
                radio: radio_id,
                device: request.address,
            },
        );
        if slots_full {
            return Ok((
                token,
                Plan::Fail(faults::no_free_slot(kind)),
                faults::FAST_REFUSAL,
            ));
        }
        state.take_slot(shared, radio, token, request.address);
        // A connect naming the wrong address kind reaches nobody, as on a real radio.
        let connectable = device
            .and_then(|d| shared.world.devices.get(d))
            .is_some_and(|d| d.connectable && d.address_kind == request.address_kind);
        let reachable =
            connectable && device.is_some_and(|d| state.reachable(shared, d, radio, at));
        let give_up = |waited: Duration, by_caller| {
            faults::unreachable(kind, request.address, waited, by_caller)
        };
        let unreachable_plan = || {
            let by_caller = request.timeout <= spec.connect_timeout;
            let waited = request.timeout.min(spec.connect_timeout);
            (Plan::Fail(give_up(waited, by_caller)), waited)
        };
        let (plan, delay) = match (forced.or(injected), reachable) {
            (Some(ErrorKind::NotFound), _) if kind == RadioKind::LocalController => (
                Plan::Fail(faults::injected(
                    kind,
                    ErrorKind::NotFound,
                    faults::FAST_REFUSAL,
                )),
                faults::FAST_REFUSAL,
            ),
            (Some(ErrorKind::NotFound), _) | (_, false) => unreachable_plan(),
            (Some(ErrorKind::OutOfSlots), true) => (
                Plan::Fail(faults::injected(
                    kind,
                    ErrorKind::OutOfSlots,
                    faults::FAST_REFUSAL,
                )),
                faults::FAST_REFUSAL,
            ),
            (Some(class), true) => (Plan::Fail(faults::injected(kind, class, latency)), latency),
            (None, true) => (Plan::Succeed, latency),
        };
        if delay > request.timeout {
            return Ok((
                token,
                Plan::Fail(give_up(request.timeout, true)),
                request.timeout,
            ));
        }
        Ok((token, plan, delay))
    }

    /// Turns a successful attempt into a link, unless the world changed meanwhile.
    fn finish(&self, request: &ConnectRequest, token: u64) -> Result<Connection, Fault> {
        let shared = &self.shared;
        let (radio, kind) = (self.index, self.kind());
        let at = shared.elapsed();
        let Some(device) = shared.device_index(request.address) else {
            return Err(faults::unreachable(kind, request.address, at, true));
        };
        let mut state = shared.lock();
        let still_held = state
            .radios
            .get(radio)
            .is_some_and(|r| r.up && r.slots.iter().any(|(t, _)| *t == token));
        if !still_held {
            return Err(faults::radio_down(kind, Duration::ZERO));
        }
        if !state.reachable(shared, device, radio, at) {
            return Err(faults::injected(kind, ErrorKind::Aborted, Duration::ZERO));
        }
        let (events_tx, events_rx) = crate::backend::link_events();
        let wake = Arc::new(Notify::new());
        state.links.insert(
            token,
            LinkRecord {
                device,
                radio,
                events: events_tx,
                notifying: Default::default(),
                wake: wake.clone(),
            },
        );
        let connects = match state.devices.get_mut(device) {
            Some(d) => {
                d.stats.connects += 1;
                d.stats.connects
            }
            None => 0,
        };
        if let Some(r) = state.radios.get_mut(radio) {
            r.stats.successes += 1;
        }
        let radio_id = shared
            .radio_ids
            .get(radio)
            .cloned()
            .unwrap_or_else(|| RadioId::new("?"));
        state.record(
            shared,
            Traced::Connected {
                radio: radio_id,
                device: request.address,
            },
        );
        drop(state);
        let rng = stream(
            shared.seed,
            domain::LINK,
            ((device as u64) << 24) | connects,
        );
        tokio::spawn(link_task::run(shared.clone(), token, wake, rng));
        let link = SimLink::new(
            shared.clone(),
            token,
            device,
            radio,
            request.cached_services.clone(),
        );
        Ok(Connection {
            link: Box::new(link),
            events: events_rx,
        })
    }

    fn count_failure(&self, request: &ConnectRequest, fault: &Fault) {
        let failure = &fault.failure;
        let mut state = self.shared.lock();
        let radio_id = self
            .shared
            .radio_ids
            .get(self.index)
            .cloned()
            .unwrap_or_else(|| RadioId::new("?"));
        if let Some(r) = state.radios.get_mut(self.index) {
            r.stats.failures.bump(fault.class);
            *r.stats
                .failures_by_text
                .entry(failure.to_string())
                .or_default() += 1;
        }
        let text = failure.to_string();
        state.record(
            &self.shared,
            Traced::ConnectFailed {
                radio: radio_id,
                device: request.address,
                failure: text,
            },
        );
    }
}
