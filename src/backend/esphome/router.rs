//! Matches the proxy's messages to the requests waiting for them and to the open links.
//!
//! Owns, for one session with one proxy, the waiting requests ([`Expect`] + a oneshot reply)
//! and the open links (address → event sender). The ESPHome API has no request ids: answers
//! are recognised by kind, address and handle, first come first served. Connection notices
//! end links (the firmware sends `connected=false` twice per drop, the second is ignored, so
//! nothing is counted twice); a `connected=true` nobody waits for is a connect we abandoned
//! and is released at once so its slot comes back (the duplicate is absorbed, not taken for
//! the answer to the next connect); a slot report whose `allocated` list lacks
//! an open link ends that link. When the session ends, every link gets `RadioDown` and every
//! waiter a failure.
//!
//! Sans-IO: the session loop feeds it [`Incoming`] messages and commands and performs the
//! [`Action`]s it returns (`router_tests.rs` drives it with no socket).

use std::collections::{HashMap, HashSet};

use tokio::time::Instant;

use super::api::bluetooth::{ConnectionResponse, ConnectionsFree, RawAdvertisements};
use super::api::gatt::{GattError, Service};
use super::api::{request_type, Incoming, Outgoing};
use super::failure::{connect_refused, disconnect_cause, gatt_error};
use super::protocol::{Expect, Reply, ReplyTo};
use super::request::device_request;
use crate::backend::{
    DisconnectCause, Failure, FailureSource, FailureStage, LinkEvent, RadioEvent, SlotReport,
};
use crate::model::{Address, AddressKind, Advertisement, RadioId};

/// Something the session loop must do.
#[derive(Debug, PartialEq)]
pub(crate) enum Action {
    /// Send this message to the proxy.
    Send(Outgoing),
    /// Report this upward.
    Radio(RadioEvent),
    /// The proxy's scanner reported this mode (0 passive, 1 active).
    ScannerMode(u32),
}

#[derive(Debug)]
struct Waiter {
    expect: Expect,
    reply: ReplyTo,
    started: Instant,
    services: Vec<Service>,
}

#[derive(Debug)]
struct OpenLink {
    events: crate::backend::LinkEventSender,
    disconnect_requested: bool,
}

/// The per-session matching state.
#[derive(Debug)]
pub(crate) struct Router {
    radio: RadioId,
    generation: u64,
    waiters: Vec<Waiter>,
    links: HashMap<u64, OpenLink>,
    /// Links that ended on the first of the firmware's two `connected=false` notices
    /// (DISCONNECT_EVT, then CLOSE_EVT): the second is absorbed here, or it would fail the
    /// next connect to that address. Cleared by a slot report that no longer lists them.
    closing: HashSet<u64>,
}

/// Asks the proxy to disconnect `address`, giving its slot back.
fn release(address: u64) -> Action {
    Action::Send(device_request(
        address,
        request_type::DISCONNECT,
        AddressKind::Public,
    ))
}

impl Router {
    /// A router for session number `generation` of radio `radio`.
    pub(crate) fn new(radio: RadioId, generation: u64) -> Self {
        Self {
            radio,
            generation,
            waiters: Vec::new(),
            links: HashMap::new(),
            closing: HashSet::new(),
        }
    }

    /// Registers a request. `generation` is the link's session (`None` for a connect): a
    /// request from a link of an earlier session, or for a link that already ended, fails.
    pub(crate) fn expect(
        &mut self,
        generation: Option<u64>,
        expect: Expect,
        reply: ReplyTo,
    ) -> bool {
        let address = expect.address();
        let link_open =
            generation.is_none_or(|g| g == self.generation) && self.links.contains_key(&address);
        if generation.is_some() && !link_open {
            // Disconnecting a link that already ended has nothing left to do.
            let result = match expect {
                Expect::Disconnect { .. } => Ok(Reply::Done),
                _ => Err(Failure::new(
                    FailureSource::Esphome,
                    FailureStage::Gatt,
                    format!(
                        "{} failed: the link to {} has already ended",
                        expect.operation(),
                        Address::from_u64(address)
                    ),
                )),
            };
            let _ = reply.send(result);
            return false;
        }
        if let (Expect::Disconnect { .. }, Some(link)) = (&expect, self.links.get_mut(&address)) {
            link.disconnect_requested = true;
        }
        self.waiters.push(Waiter {
            expect,
            reply,
            started: Instant::now(),
            services: Vec::new(),
        });
        true
    }

    /// Gives up a connect attempt (timed out or cancelled): the slot is released.
    pub(crate) fn abandon_connect(&mut self, address: u64) -> Vec<Action> {
        self.waiters
            .retain(|w| !matches!(w.expect, Expect::Connect { address: a, .. } if a == address));
        vec![release(address)]
    }

    /// A link handle was dropped without disconnecting: release its slot if it is still open.
    pub(crate) fn release(&mut self, address: u64, generation: u64) -> Vec<Action> {
        match self.links.get_mut(&address) {
            Some(link) if generation == self.generation && !link.disconnect_requested => {
                link.disconnect_requested = true;
                vec![release(address)]
            }
            _ => Vec::new(),
        }
    }

    /// Handles one message from the proxy.
    pub(crate) fn handle(&mut self, message: Incoming) -> Vec<Action> {
        let mut actions = self.prune_abandoned();
        match message {
            Incoming::Adverts(batch) => actions.extend(self.adverts(batch)),
            Incoming::SlotsFree(report) => actions.extend(self.slots(report)),
            Incoming::Connection(notice) => actions.extend(self.connection_notice(notice)),
            Incoming::Services(batch) => {
                let waiting = self.waiters.iter_mut().find(|w| {
                    matches!(w.expect, Expect::Services { .. })
                        && w.expect.address() == batch.address
                });
                if let Some(waiter) = waiting {
                    waiter.services.extend(batch.services);
                }
            }
            Incoming::ServicesDone { address } => {
                let done =
                    |e: &Expect| matches!(e, Expect::Services { .. }) && e.address() == address;
                if let Some(waiter) = self.take(done) {
                    let _ = waiter.reply.send(Ok(Reply::Services(waiter.services)));
                }
            }
            Incoming::Read(read) => {
                let (address, handle) = (read.address, read.handle);
                let wanted =
                    |e: &Expect| matches!(e, Expect::Read { .. }) && e.is_for(address, handle);
                self.answer(wanted, Reply::Data(read.data));
            }
            Incoming::WriteAck(ack) => {
                let wanted = |e: &Expect| {
                    matches!(e, Expect::Write { .. }) && e.is_for(ack.address, ack.handle)
                };
                self.answer(wanted, Reply::Done);
            }
            Incoming::NotifyAck(ack) => {
                let wanted = |e: &Expect| {
                    matches!(e, Expect::Notify { .. }) && e.is_for(ack.address, ack.handle)
                };
                self.answer(wanted, Reply::Done);
            }
            Incoming::NotifyData(data) => {
                let handle = u16::try_from(data.handle);
                match (self.links.get(&data.address), handle) {
                    (Some(link), Ok(handle)) => {
                        let value = data.data;
                        let _ = link.events.send(LinkEvent::Notification { handle, value });
                    }
                    _ => tracing::debug!(radio = %self.radio, "notification for no open link"),
                }
            }
            Incoming::GattError(error) => self.gatt_failed(error),
            Incoming::ClearCache(answer) => {
                let wanted = |e: &Expect| {
                    matches!(e, Expect::ClearCache { .. }) && e.address() == answer.address
                };
                if let Some(waiter) = self.take(wanted) {
                    let result = if answer.success {
                        Ok(Reply::Done)
                    } else {
                        Err(gatt_error("cache clearing", 0, answer.error))
                    };
                    let _ = waiter.reply.send(result);
                }
            }
            Incoming::Scanner(state) => {
                let (state, mode) = (state.state, state.mode);
                tracing::debug!(radio = %self.radio, state, mode, "scanner state");
                actions.push(Action::ScannerMode(mode));
            }
            other => tracing::debug!(radio = %self.radio, message = ?other, "message not used"),
        }
        actions
    }

    /// A `BluetoothDeviceConnectionResponse`: a connect's answer, a link's end, a duplicate
    /// end, or a late `connected=true` for an attempt we gave up.
    fn connection_notice(&mut self, notice: ConnectionResponse) -> Option<Action> {
        let address = notice.address;
        let logged = Address::from_u64(address);
        let is_connect = |e: &Expect| matches!(e, Expect::Connect { .. }) && e.address() == address;
        if !notice.connected && self.closing.remove(&address) {
            tracing::debug!(radio = %self.radio, address = %logged, "second disconnect absorbed");
        } else if let Some(waiter) = self.take(is_connect) {
            return self.connect_answered(waiter, notice);
        } else if !notice.connected {
            let is_disconnect =
                |e: &Expect| matches!(e, Expect::Disconnect { .. }) && e.address() == address;
            while let Some(waiter) = self.take(is_disconnect) {
                let _ = waiter.reply.send(Ok(Reply::Done));
            }
            self.end_link(address, notice.error);
        } else if !self.links.contains_key(&address) {
            tracing::debug!(radio = %self.radio, address = %logged, "late connected=true released");
            return Some(release(address));
        }
        None
    }

    /// Ends the session: every link learns the radio went down, every waiter fails.
    pub(crate) fn shutdown(&mut self, reason: &str) {
        for (_, link) in self.links.drain() {
            let _ = link.events.send(LinkEvent::Disconnected {
                cause: DisconnectCause::RadioDown,
                detail: reason.to_string(),
            });
        }
        for waiter in self.waiters.drain(..) {
            let stage = match waiter.expect {
                Expect::Connect { .. } => FailureStage::Connect,
                _ => FailureStage::Gatt,
            };
            let _ = waiter.reply.send(Err(Failure::new(
                FailureSource::Esphome,
                stage,
                format!(
                    "{} failed: the proxy connection was lost: {reason}",
                    waiter.expect.operation()
                ),
            )));
        }
    }

    fn take(&mut self, wanted: impl Fn(&Expect) -> bool) -> Option<Waiter> {
        let index = self.waiters.iter().position(|w| wanted(&w.expect))?;
        Some(self.waiters.remove(index))
    }

    fn answer(&mut self, wanted: impl Fn(&Expect) -> bool, reply: Reply) {
        if let Some(waiter) = self.take(wanted) {
            let _ = waiter.reply.send(Ok(reply));
        }
    }

    /// Waiters whose caller gave up are dropped; an abandoned connect releases its slot.
    fn prune_abandoned(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        self.waiters.retain(|waiter| {
            let open = !waiter.reply.is_closed();
            if let (false, Expect::Connect { address, .. }) = (open, &waiter.expect) {
                actions.push(release(*address));
            }
            open
        });
        actions
    }

    fn connect_answered(&mut self, waiter: Waiter, notice: ConnectionResponse) -> Option<Action> {
        let Expect::Connect { address, events } = waiter.expect else {
            return None;
        };
        if !notice.connected {
            let failure = connect_refused(notice.error, waiter.started.elapsed());
            let _ = waiter.reply.send(Err(failure));
            return None;
        }
        let mtu = u16::try_from(notice.mtu).unwrap_or(u16::MAX);
        let generation = self.generation;
        if waiter
            .reply
            .send(Ok(Reply::Connected { mtu, generation }))
            .is_err()
        {
            // The caller left between our send and this answer: give the slot back.
            return Some(release(address));
        }
        let link = OpenLink {
            events,
            disconnect_requested: false,
        };
        self.links.insert(address, link);
        None
    }

    fn end_link(&mut self, address: u64, error: i32) {
        let Some(link) = self.links.remove(&address) else {
            let address = Address::from_u64(address);
            tracing::debug!(radio = %self.radio, %address, "repeated disconnect ignored");
            return;
        };
        self.closing.insert(address);
        let (cause, detail) = disconnect_cause(error, link.disconnect_requested);
        let _ = link.events.send(LinkEvent::Disconnected {
            cause,
            detail: detail.clone(),
        });
        while let Some(waiter) = self.take(|e| e.address() == address && e.gatt_handle().is_some())
        {
            let _ = waiter.reply.send(Err(Failure::esp(
                FailureStage::Gatt,
                -1,
                "ESP_GATT_NOT_CONNECTED",
                format!(
                    "{} failed: {} disconnected ({detail})",
                    waiter.expect.operation(),
                    Address::from_u64(address)
                ),
            )));
        }
    }

    fn gatt_failed(&mut self, error: GattError) {
        let waiter = self.take(|e| e.is_for(error.address, error.handle));
        match waiter {
            Some(waiter) => {
                let handle = waiter.expect.gatt_handle().unwrap_or_default();
                let failure = gatt_error(waiter.expect.operation(), handle, error.error);
                let _ = waiter.reply.send(Err(failure));
            }
            None => {
                tracing::debug!(radio = %self.radio, ?error, "GATT error for no waiting request")
            }
        }
    }

    fn adverts(&self, batch: RawAdvertisements) -> Option<Action> {
        let now = Instant::now();
        let adverts: Vec<Advertisement> = batch
            .advertisements
            .into_iter()
            .filter_map(|raw| {
                let address = Address::from_u64(raw.address);
                let rssi = i16::try_from(raw.rssi).unwrap_or(i16::MIN);
                match Advertisement::from_raw(address, self.radio.clone(), rssi, now, raw.data) {
                    Ok(mut advert) => {
                        advert.address_kind = if raw.address_type % 2 == 1 {
                            AddressKind::Random
                        } else {
                            AddressKind::Public
                        };
                        Some(advert)
                    }
                    Err(err) => {
                        let radio = &self.radio;
                        tracing::debug!(%radio, %address, %err, "malformed advert skipped");
                        None
                    }
                }
            })
            .collect();
        (!adverts.is_empty()).then(|| Action::Radio(RadioEvent::Adverts(adverts)))
    }

    fn slots(&mut self, report: ConnectionsFree) -> Option<Action> {
        let free = report.free as usize;
        let limit = report.limit as usize;
        // Older firmware sends no list; trust the list only when it adds up.
        if report.allocated.len() + free == limit {
            let stale: Vec<u64> = self
                .links
                .keys()
                .filter(|address| !report.allocated.contains(address))
                .copied()
                .collect();
            for address in stale {
                let logged = Address::from_u64(address);
                tracing::debug!(radio = %self.radio, address = %logged, "not in allocated: ended");
                self.end_link(address, 0);
            }
        }
        self.closing
            .retain(|address| report.allocated.contains(address));
        let allocated = report
            .allocated
            .iter()
            .map(|a| Address::from_u64(*a))
            .collect();
        Some(Action::Radio(RadioEvent::SlotsReported(SlotReport {
            free,
            limit,
            allocated,
        })))
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.shutdown("the proxy session ended");
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
