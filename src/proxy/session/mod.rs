//! The sans-IO core of one client's session: what an ESPHome Bluetooth proxy answers, as a
//! pure state machine.
//!
//! [`Session::handle`] takes one [`Event`] (a client frame, an advertisement, a slot change,
//! the outcome of an action, a clock tick) and returns [`Output`]s: messages to send, actions
//! for the shell to run against the fleet (connect, read, subscribe...), or the end of the
//! session. The shell (`crate::proxy::connection`) owns the socket and the fleet handle; this
//! file owns the protocol rules, so they are tested without either (`tests.rs`):
//! - hello first; device info, capabilities, list entities (none) → done; ping both ways;
//!   disconnect; silence past the keepalive timeout ends the session;
//! - raw advertisements in batches of at most 16, flushed on every tick;
//! - slot reports `{free, limit, allocated}` as *this client* may use them: `allocated` is its
//!   own connections and `limit = free + allocated`, so the client's consistency check
//!   (`len(allocated) == limit − free`) holds while other clients share the pool;
//! - connects, disconnects, services, GATT and notify for the client's own connections only.

mod bluetooth;
mod client_message;
pub(crate) mod services;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use uuid::Uuid;

pub(crate) use client_message::ClientMessage;

use super::identity::Identity;
use crate::backend::WriteMode;
use crate::model::{Address, AddressKind, Advertisement, GattTable};
use crate::native_api::frame::RawFrame;
use crate::native_api::messages::bluetooth::{
    ConnectionsFree, RawAdvertisement, RawAdvertisements, ScannerState,
};
use crate::native_api::messages::id;
use crate::native_api::messages::session::DisconnectRequest;
use crate::native_api::messages::Outgoing;

/// The firmware's advertisement batch size.
pub(crate) const ADVERT_BATCH: usize = 16;
/// Scanner state RUNNING.
const SCANNER_RUNNING: u32 = 2;

/// Keepalive timings: ping after `ping_after` of silence, give up after `timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the server pings.
    pub ping_after: Duration,
    /// Silence after which the client counts as gone and loses its connections.
    pub timeout: Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        // aioesphomeapi pings every 20 s; the firmware drops a client after 150 s of silence.
        // 60 s frees a vanished client's slots sooner while a live client never gets near it.
        Self {
            ping_after: Duration::from_secs(20),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Something that happened.
#[derive(Debug)]
pub(crate) enum Event {
    /// A frame from the client.
    Frame(RawFrame),
    /// An advertisement heard by a radio this proxy serves.
    Advert(Advertisement),
    /// Slots free now on the radios this proxy serves.
    SlotsFree(u32),
    /// A connect finished: the table and MTU, or an ESP-IDF code.
    Connected {
        address: Address,
        outcome: Result<(Arc<GattTable>, u16), i32>,
    },
    /// A connection of this client dropped.
    LinkLost { address: Address, reason: i32 },
    /// A GATT action finished.
    OpDone {
        address: Address,
        handle: u32,
        reply: OpReply,
    },
    /// A notification or indication for a subscribed characteristic.
    Notification {
        address: Address,
        handle: u32,
        data: Bytes,
    },
    /// Time passed (the shell ticks about every 100 ms).
    Tick,
}

/// How a GATT action ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OpReply {
    /// A characteristic or descriptor value.
    Value(Bytes),
    /// A characteristic or descriptor write (or CCCD subscription) is done.
    Written,
    /// A write command went out: nothing to answer.
    Silent,
    /// Failed with this code.
    Failed(i32),
}

/// A characteristic, named the way the fleet's handles name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub service: Uuid,
    pub characteristic: Uuid,
}

impl Target {
    /// The characteristic in its service, as the fleet's handles name it.
    pub fn named(self) -> crate::model::CharacteristicRef {
        crate::model::CharacteristicRef::in_service(self.service, self.characteristic)
    }
}

/// Work for the shell.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    Connect(Address),
    /// Let go of a connection (the shell disconnects it if no one else holds it).
    Release(Address),
    Read {
        address: Address,
        handle: u32,
        target: Target,
    },
    Write {
        address: Address,
        handle: u32,
        target: Target,
        data: Bytes,
        mode: WriteMode,
    },
    ReadDescriptor {
        address: Address,
        handle: u32,
        characteristic: Uuid,
        descriptor: Uuid,
    },
    WriteDescriptor {
        address: Address,
        handle: u32,
        characteristic: Uuid,
        descriptor: Uuid,
        data: Bytes,
    },
    /// The client wrote the CCCD: notifications of `value_handle` should flow.
    Subscribe {
        address: Address,
        descriptor_handle: u32,
        value_handle: u32,
        target: Target,
    },
    Unsubscribe {
        address: Address,
        value_handle: u32,
    },
    ClearCache(Address),
}

/// What the session wants done.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Output {
    Send(Outgoing),
    Act(Action),
    /// End the session (after sending what came before).
    Close(String),
}

#[derive(Clone, Debug)]
enum Connection {
    Connecting,
    Connected { table: Arc<GattTable> },
}

/// What diagnostics show about a session.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionSummary {
    /// The client's own description (`Home Assistant 2026.11.0`, `aioesphomeapi`).
    pub client_info: String,
    /// Subscribed to advertisements.
    pub adverts: bool,
    /// Subscribed to slot reports.
    pub slot_reports: bool,
    /// Connections held (connecting or connected).
    pub connections: Vec<Address>,
    /// Requests received, by kind.
    pub requests: BTreeMap<&'static str, u64>,
}

/// One client's session state.
#[derive(Debug)]
pub(crate) struct Session {
    identity: Arc<Identity>,
    encrypted: bool,
    keepalive: Keepalive,
    hello_done: bool,
    client_info: String,
    client_minor: u32,
    adverts: bool,
    batch: Vec<RawAdvertisement>,
    slot_reports: bool,
    free: u32,
    last_report: Option<ConnectionsFree>,
    scanner_mode: u32,
    connections: BTreeMap<Address, Connection>,
    last_heard: Instant,
    ping_sent: bool,
    requests: BTreeMap<&'static str, u64>,
}

fn send(message_type: u16, message: &impl prost::Message) -> Output {
    Output::Send(Outgoing::new(message_type, message))
}

fn send_empty(message_type: u16) -> Output {
    Output::Send(Outgoing::empty(message_type))
}

impl Session {
    /// A session that has heard nothing yet; `free` is the slot count at its start and
    /// `scanner_mode` the scan mode in force (0 passive, 1 active).
    pub(crate) fn new(
        identity: Arc<Identity>,
        encrypted: bool,
        keepalive: Keepalive,
        free: u32,
        scanner_mode: u32,
        now: Instant,
    ) -> Self {
        Self {
            identity,
            encrypted,
            keepalive,
            hello_done: false,
            client_info: String::new(),
            client_minor: 0,
            adverts: false,
            batch: Vec::new(),
            slot_reports: false,
            free,
            last_report: None,
            scanner_mode,
            connections: BTreeMap::new(),
            last_heard: now,
            ping_sent: false,
            requests: BTreeMap::new(),
        }
    }

    /// Every address this client holds (the shell releases them when the session ends).
    pub(crate) fn held(&self) -> Vec<Address> {
        self.connections.keys().copied().collect()
    }

    pub(crate) fn summary(&self) -> SessionSummary {
        SessionSummary {
            client_info: self.client_info.clone(),
            adverts: self.adverts,
            slot_reports: self.slot_reports,
            connections: self.held(),
            requests: self.requests.clone(),
        }
    }

    /// Handles one event.
    pub(crate) fn handle(&mut self, event: Event, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        match event {
            Event::Frame(frame) => {
                self.last_heard = now;
                self.ping_sent = false;
                match ClientMessage::decode(&frame) {
                    Ok(message) => self.message(message, &mut out),
                    Err(err) => out.push(Output::Close(format!(
                        "message type {} does not decode: {err}",
                        frame.message_type
                    ))),
                }
            }
            Event::Advert(advert) => self.advert(advert, &mut out),
            Event::SlotsFree(free) => {
                self.free = free;
                self.report_slots(&mut out, false);
            }
            Event::Connected { address, outcome } => self.connected(address, outcome, &mut out),
            Event::LinkLost { address, reason } => self.link_lost(address, reason, &mut out),
            Event::OpDone {
                address,
                handle,
                reply,
            } => self.op_done(address, handle, reply, &mut out),
            Event::Notification {
                address,
                handle,
                data,
            } => self.notification(address, handle, data, &mut out),
            Event::Tick => self.tick(now, &mut out),
        }
        out
    }

    fn count(&mut self, kind: &'static str) {
        *self.requests.entry(kind).or_default() += 1;
    }

    fn message(&mut self, message: ClientMessage, out: &mut Vec<Output>) {
        if !self.hello_done
            && !matches!(
                message,
                ClientMessage::Hello(_)
                    | ClientMessage::PingRequest
                    | ClientMessage::DisconnectRequest
            )
        {
            out.push(Output::Close(format!(
                "{message:?} before HelloRequest: the protocol starts with hello"
            )));
            return;
        }
        match message {
            ClientMessage::Hello(hello) => {
                self.count("hello");
                self.hello_done = true;
                self.client_info = hello.client_info;
                self.client_minor = hello.api_version_minor;
                out.push(send(id::HELLO_RESPONSE, &self.identity.hello()));
            }
            ClientMessage::Authenticate | ClientMessage::SubscribeStates => {}
            ClientMessage::DeviceInfo => {
                self.count("device_info");
                out.push(send(
                    id::DEVICE_INFO_RESPONSE,
                    &self.identity.device_info(self.encrypted),
                ));
            }
            ClientMessage::DeviceCapabilities => {
                out.push(send(
                    id::DEVICE_CAPABILITIES_RESPONSE,
                    &self.identity.capabilities(),
                ));
            }
            ClientMessage::ListEntities => out.push(send_empty(id::LIST_ENTITIES_DONE)),
            ClientMessage::PingRequest => out.push(send_empty(id::PING_RESPONSE)),
            ClientMessage::PingResponse | ClientMessage::DisconnectResponse => {}
            ClientMessage::DisconnectRequest => {
                out.push(send_empty(id::DISCONNECT_RESPONSE));
                out.push(Output::Close("the client said goodbye".into()));
            }
            ClientMessage::SubscribeAdverts(request) => {
                self.count("subscribe_adverts");
                self.adverts = true;
                if request.flags & 1 == 0 {
                    tracing::info!(
                        client = %self.client_info,
                        "client asked for parsed advertisements; only raw ones exist (ESPHome >= 2025.8)"
                    );
                }
                out.push(self.scanner_state());
            }
            ClientMessage::UnsubscribeAdverts => {
                self.adverts = false;
                self.batch.clear();
            }
            ClientMessage::SubscribeSlots => {
                self.count("subscribe_slots");
                self.slot_reports = true;
                self.report_slots(out, true);
            }
            ClientMessage::SetScannerMode(_) => {
                // The hub decides how its radios scan; answer with the mode in force.
                out.push(self.scanner_state());
            }
            ClientMessage::Other(kind) => {
                tracing::debug!(kind, "ignoring a message this proxy does not implement");
            }
            bluetooth_request => self.bluetooth(bluetooth_request, out),
        }
    }

    fn scanner_state(&self) -> Output {
        send(
            id::SCANNER_STATE,
            &ScannerState {
                state: SCANNER_RUNNING,
                mode: self.scanner_mode,
                configured_mode: self.scanner_mode,
            },
        )
    }

    fn advert(&mut self, advert: Advertisement, out: &mut Vec<Output>) {
        if !self.adverts {
            return;
        }
        // Radios that deliver decoded fields only (BlueZ, btleplug) are re-encoded as AD bytes.
        let data = advert
            .raw
            .unwrap_or_else(|| Bytes::from(advert.data.to_bytes()));
        self.batch.push(RawAdvertisement {
            address: advert.address.to_u64(),
            rssi: i32::from(advert.rssi_dbm),
            address_type: match advert.address_kind {
                AddressKind::Public => 0,
                AddressKind::Random => 1,
            },
            data,
        });
        if self.batch.len() >= ADVERT_BATCH {
            self.flush_adverts(out);
        }
    }

    fn flush_adverts(&mut self, out: &mut Vec<Output>) {
        if self.batch.is_empty() {
            return;
        }
        let advertisements = std::mem::take(&mut self.batch);
        out.push(send(
            id::RAW_ADVERTISEMENTS,
            &RawAdvertisements { advertisements },
        ));
    }

    /// Sends the slot report if the client subscribed and it changed (or `always`).
    fn report_slots(&mut self, out: &mut Vec<Output>, always: bool) {
        if !self.slot_reports {
            return;
        }
        let allocated: Vec<u64> = self.connections.keys().map(Address::to_u64).collect();
        let report = ConnectionsFree {
            free: self.free,
            limit: self.free + allocated.len() as u32,
            allocated,
        };
        if always || self.last_report.as_ref() != Some(&report) {
            out.push(send(id::CONNECTIONS_FREE, &report));
            self.last_report = Some(report);
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.flush_adverts(out);
        let silent = now.saturating_duration_since(self.last_heard);
        if silent >= self.keepalive.timeout {
            out.push(Output::Close(format!(
                "no message from the client for {silent:?} (keepalive timeout)"
            )));
        } else if silent >= self.keepalive.ping_after && !self.ping_sent {
            self.ping_sent = true;
            out.push(send_empty(id::PING_REQUEST));
        }
    }

    /// The goodbye the server sends when it shuts down.
    pub(crate) fn goodbye() -> Outgoing {
        Outgoing::new(id::DISCONNECT_REQUEST, &DisconnectRequest { reason: 0 })
    }
}
