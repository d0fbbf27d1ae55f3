//! The words the session task, its router, the radio handle and the links speak to each
//! other: a [`Command`] to the session, what a request waits for ([`Expect`]), and what it gets
//! back ([`Reply`], through a [`ReplyTo`]).
//!
//! The ESPHome API has no request ids: an answer is recognised by its kind, address and
//! handle. These types name each kind of wait, so the router can match answers to requests and
//! the links can ask for exactly one kind of answer. Plain data at the bottom of the backend's
//! graph: `session.rs`, `router.rs`, `request.rs`, `link.rs` and `connect.rs` use it, and it
//! uses none of them.

use bytes::Bytes;
use tokio::sync::oneshot;

use super::api::gatt::Service;
use super::api::Outgoing;
use crate::backend::{Failure, FailureSource, FailureStage, ScanMode};

/// A request from the radio handle or a link.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send `message`; with `expect`, answer `reply` when the proxy answers, else at once.
    Request {
        generation: Option<u64>,
        message: Outgoing,
        expect: Option<Expect>,
        reply: ReplyTo,
    },
    /// A connect attempt gave up: release its slot.
    AbandonConnect { address: u64 },
    /// A link handle was dropped while open: release its slot.
    Release { address: u64, generation: u64 },
    /// Unsubscribe from advertisements and subscribe again (the watchdog's mildest step).
    RestartScan,
    /// End this session; the run loop opens a new one (the watchdog's heavier step).
    Reconnect,
    /// Ask the proxy's scanner for this mode now.
    SetScanMode(ScanMode),
}

impl Command {
    /// Answers a request with "the proxy is not connected" and why.
    pub(crate) fn fail(self, reason: &str) {
        if let Self::Request { reply, expect, .. } = self {
            let stage = match expect {
                Some(Expect::Connect { .. }) => FailureStage::Connect,
                _ => FailureStage::Gatt,
            };
            let text = format!("the proxy is not connected: {reason}");
            let _ = reply.send(Err(Failure::new(FailureSource::Esphome, stage, text)));
        }
    }
}

/// What a request waits for.
#[derive(Debug)]
pub(crate) enum Expect {
    /// `connected=true` (the link's events go to `events`) or `connected=false` (a failure).
    Connect {
        address: u64,
        events: crate::backend::LinkEventSender,
    },
    /// `connected=false` after our disconnect request.
    Disconnect { address: u64 },
    /// Service batches until `GetServicesDone`.
    Services { address: u64 },
    /// A read response (characteristic or descriptor).
    Read { address: u64, handle: u16 },
    /// A write acknowledgement (characteristic or descriptor).
    Write { address: u64, handle: u16 },
    /// A notify registration acknowledgement.
    Notify { address: u64, handle: u16 },
    /// A clear-cache answer.
    ClearCache { address: u64 },
}

impl Expect {
    pub(crate) fn address(&self) -> u64 {
        match self {
            Self::Connect { address, .. }
            | Self::Disconnect { address }
            | Self::Services { address }
            | Self::Read { address, .. }
            | Self::Write { address, .. }
            | Self::Notify { address, .. }
            | Self::ClearCache { address } => *address,
        }
    }

    /// The handle a GATT error for this request would name (service discovery uses 0).
    pub(crate) fn gatt_handle(&self) -> Option<u16> {
        match self {
            Self::Services { .. } => Some(0),
            Self::Read { handle, .. }
            | Self::Write { handle, .. }
            | Self::Notify { handle, .. } => Some(*handle),
            _ => None,
        }
    }

    /// Whether an answer naming this address and handle is for this request.
    pub(crate) fn is_for(&self, address: u64, handle: u32) -> bool {
        self.address() == address && self.gatt_handle().map(u32::from) == Some(handle)
    }

    pub(crate) fn operation(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connect",
            Self::Disconnect { .. } => "disconnect",
            Self::Services { .. } => "service discovery",
            Self::Read { .. } => "read",
            Self::Write { .. } => "write",
            Self::Notify { .. } => "notify registration",
            Self::ClearCache { .. } => "cache clearing",
        }
    }
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Reply {
    /// Connected with this MTU, in this session.
    Connected { mtu: u16, generation: u64 },
    /// Acknowledged (or sent, for requests that get no answer).
    Done,
    /// A value that was read.
    Data(Bytes),
    /// The discovered services.
    Services(Vec<Service>),
}

/// Where a request's answer goes.
pub(crate) type ReplyTo = oneshot::Sender<Result<Reply, Failure>>;
