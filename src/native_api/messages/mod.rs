//! The native API's messages: type ids, the prost structs, and [`Outgoing`], one encoded
//! message ready for framing.
//!
//! Hand-written prost derives (the build machine has no `protoc`) carrying only the fields
//! bluefleet reads or writes, in either direction; field numbers are those of ESPHome's
//! `api.proto` as vendored by aioesphomeapi 46.23.0 (research notes §1.4, §1.5). prost skips
//! unknown fields, so a peer that sends more is fine. How a received frame becomes a typed
//! message is each end's business (the client's `Incoming`, the server's `ClientMessage`):
//! they read different halves of the table.

pub(crate) mod bluetooth;
pub(crate) mod gatt;
pub(crate) mod session;

use prost::Message;

/// Message type ids (research notes §1.4 and §1.5).
pub(crate) mod id {
    pub const HELLO_REQUEST: u16 = 1;
    pub const HELLO_RESPONSE: u16 = 2;
    pub const AUTHENTICATION_REQUEST: u16 = 3;
    pub const AUTHENTICATION_RESPONSE: u16 = 4;
    pub const DISCONNECT_REQUEST: u16 = 5;
    pub const DISCONNECT_RESPONSE: u16 = 6;
    pub const PING_REQUEST: u16 = 7;
    pub const PING_RESPONSE: u16 = 8;
    pub const DEVICE_INFO_REQUEST: u16 = 9;
    pub const DEVICE_INFO_RESPONSE: u16 = 10;
    pub const LIST_ENTITIES_REQUEST: u16 = 11;
    pub const LIST_ENTITIES_DONE: u16 = 19;
    pub const SUBSCRIBE_STATES_REQUEST: u16 = 20;
    pub const SUBSCRIBE_ADVERTISEMENTS: u16 = 66;
    pub const DEVICE_REQUEST: u16 = 68;
    pub const CONNECTION_RESPONSE: u16 = 69;
    pub const GET_SERVICES_REQUEST: u16 = 70;
    pub const GET_SERVICES_RESPONSE: u16 = 71;
    pub const GET_SERVICES_DONE: u16 = 72;
    pub const READ_REQUEST: u16 = 73;
    pub const READ_RESPONSE: u16 = 74;
    pub const WRITE_REQUEST: u16 = 75;
    pub const READ_DESCRIPTOR_REQUEST: u16 = 76;
    pub const WRITE_DESCRIPTOR_REQUEST: u16 = 77;
    pub const NOTIFY_REQUEST: u16 = 78;
    pub const NOTIFY_DATA: u16 = 79;
    pub const SUBSCRIBE_CONNECTIONS_FREE: u16 = 80;
    pub const CONNECTIONS_FREE: u16 = 81;
    pub const GATT_ERROR: u16 = 82;
    pub const WRITE_RESPONSE: u16 = 83;
    pub const NOTIFY_RESPONSE: u16 = 84;
    pub const UNSUBSCRIBE_ADVERTISEMENTS: u16 = 87;
    pub const CLEAR_CACHE_RESPONSE: u16 = 88;
    pub const RAW_ADVERTISEMENTS: u16 = 93;
    pub const SCANNER_STATE: u16 = 126;
    pub const SCANNER_SET_MODE: u16 = 127;
    pub const DEVICE_CAPABILITIES_REQUEST: u16 = 149;
    pub const DEVICE_CAPABILITIES_RESPONSE: u16 = 150;
}

/// `BluetoothDeviceRequestType` values.
pub(crate) mod request_type {
    pub const DISCONNECT: u32 = 1;
    pub const CONNECT_V3_WITH_CACHE: u32 = 4;
    pub const CONNECT_V3_WITHOUT_CACHE: u32 = 5;
    pub const CLEAR_CACHE: u32 = 6;
}

/// `bluetooth_proxy_feature_flags` bits (research notes §2).
pub(crate) mod feature {
    pub const PASSIVE_SCAN: u32 = 1;
    pub const ACTIVE_CONNECTIONS: u32 = 1 << 1;
    pub const REMOTE_CACHING: u32 = 1 << 2;
    pub const CACHE_CLEARING: u32 = 1 << 4;
    pub const RAW_ADVERTISEMENTS: u32 = 1 << 5;
    pub const STATE_AND_MODE: u32 = 1 << 6;
}

/// One message to send: its type id and encoded payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub message_type: u16,
    pub payload: Vec<u8>,
}

impl Outgoing {
    /// Encodes a message.
    pub(crate) fn new(message_type: u16, message: &impl Message) -> Self {
        Self {
            message_type,
            payload: message.encode_to_vec(),
        }
    }

    /// A message with no fields (ping, device info request, ...).
    pub(crate) fn empty(message_type: u16) -> Self {
        Self {
            message_type,
            payload: Vec::new(),
        }
    }
}
