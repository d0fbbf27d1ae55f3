//! The device actor's whole protocol: what handles and the Supervisor may ask of it.
//!
//! Requests carry a oneshot responder; a handle that gave up (timed out, dropped) simply closes
//! it, and the actor skips requests whose responder is closed — "receiver gone" is normal.

use std::sync::Arc;

use actix::Message;
use bytes::Bytes;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::backend::{LinkEvent, WriteMode};
pub use crate::model::CharacteristicRef;
use crate::model::{Advertisement, GattTable};

/// The Supervisor forwards every advertisement of this device (shared with watchers).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct AdvertSeen(pub Arc<Advertisement>);

/// Keep the device connected (true) or only connect on demand (false); refused when the
/// device accepts no connections.
#[derive(Message, Debug)]
#[rtype(result = "crate::Result<()>")]
pub struct SetKeepConnected(pub bool);

/// Connect with this address kind from now on (`None`: the advertised one).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SetAddressKind(pub Option<crate::model::AddressKind>);

/// Disconnect everything and stop (fleet shutdown).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Shutdown;

/// A radio was removed from the fleet: drop a link or attempt through it.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RadioRemoved(pub crate::model::RadioId);

/// Fault injection for tests and the fault-schedule harness: the actor panics in its handler.
#[cfg(feature = "testing")]
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Crash;

/// What a request asks.
#[derive(Clone, Debug)]
pub enum Operation {
    /// Be connected.
    Connect,
    /// Close the connection and stop wanting one.
    Disconnect,
    /// The GATT table.
    Services,
    /// The negotiated ATT MTU of the link.
    Mtu,
    /// Read a characteristic.
    Read(CharacteristicRef),
    /// Write a characteristic.
    Write(CharacteristicRef, Bytes, WriteMode),
    /// Read a descriptor of a characteristic.
    ReadDescriptor(CharacteristicRef, Uuid),
    /// Write a descriptor of a characteristic.
    WriteDescriptor(CharacteristicRef, Uuid, Bytes),
    /// Subscribe to a characteristic with a queue of this capacity.
    Subscribe(CharacteristicRef, usize),
}

impl Operation {
    /// A short name for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Disconnect => "disconnect",
            Self::Services => "services",
            Self::Mtu => "mtu",
            Self::Read(_) => "read",
            Self::Write(..) => "write",
            Self::ReadDescriptor(..) => "read descriptor",
            Self::WriteDescriptor(..) => "write descriptor",
            Self::Subscribe(..) => "subscribe",
        }
    }
}

/// What a request produced.
#[derive(Debug)]
pub enum Outcome {
    /// Done, nothing to return.
    Done,
    /// The GATT table.
    Services(Arc<GattTable>),
    /// A value read.
    Value(Bytes),
    /// The link's MTU.
    Mtu(u16),
    /// A subscription's place (its queue; dropping it unsubscribes).
    Subscribed(super::subscribers::Registration),
}

/// A request and where to send its result.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Request {
    /// What to do.
    pub operation: Operation,
    /// Where the result goes.
    pub reply: oneshot::Sender<crate::Result<Outcome>>,
}

/// A link event, tagged with the connection it belongs to (stale ones are ignored).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct LinkMessage {
    /// Which connection of this device.
    pub generation: u64,
    /// What happened.
    pub event: LinkEvent,
}
