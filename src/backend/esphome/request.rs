//! Helpers for asking the session task: [`ask`] sends a request and hands back where its
//! answer will arrive; also builds `BluetoothDeviceRequest`s and the failures a request ends
//! with when the proxy or the session is gone.
//!
//! The vocabulary it speaks (`Command`, `Expect`, `Reply`) is `protocol.rs`; the radio handle
//! and the links call this, and this calls nothing but the session's command channel.

use tokio::sync::{mpsc, oneshot};

use super::api::bluetooth::DeviceRequest;
use super::api::{id, Outgoing};
use super::protocol::{Command, Expect, Reply};
use crate::backend::{Failure, FailureSource, FailureStage};
use crate::model::AddressKind;

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
