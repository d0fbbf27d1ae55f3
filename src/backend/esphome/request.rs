//! What a request to the proxy waits for ([`Expect`]) and what it gets back ([`Reply`]).
//!
//! The ESPHome API has no request ids: an answer is recognised by its kind, address and
//! handle. These types name each kind of wait, so the router can match answers to requests and
//! the links can ask for exactly one kind of answer. Also builds `BluetoothDeviceRequest`s.

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::api::bluetooth::DeviceRequest;
use super::api::gatt::Service;
use super::api::{id, Outgoing};
use super::session::Command;
use crate::backend::{Failure, FailureSource, FailureStage};
use crate::model::AddressKind;

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

/// A `BluetoothDeviceRequest` (connect, disconnect, clear cache) for this address.
pub(crate) fn device_request(address: u64, kind: u32, address_kind: AddressKind) -> Outgoing {
    let request = DeviceRequest {
        address,
        request_type: kind,
        has_address_type: true,
        address_type: u32::from(address_kind == AddressKind::Random),
    };
    Outgoing::new(id::DEVICE_REQUEST, &request)
}

/// A failure in the proxy's vocabulary with no code.
pub(crate) fn esp(stage: FailureStage, text: impl Into<String>) -> Failure {
    Failure::new(FailureSource::Esphome, stage, text)
}

pub(crate) fn session_gone(stage: FailureStage) -> Failure {
    esp(stage, "the proxy session task has stopped")
}

/// Sends a command and waits for its answer.
pub(crate) async fn ask(
    commands: &mpsc::UnboundedSender<Command>,
    generation: Option<u64>,
    message: Outgoing,
    expect: Option<Expect>,
    stage: FailureStage,
) -> Result<oneshot::Receiver<Result<Reply, Failure>>, Failure> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(Command::Request {
            generation,
            message,
            expect,
            reply,
        })
        .map_err(|_| session_gone(stage))?;
    Ok(answer)
}
