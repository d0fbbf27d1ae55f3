//! [`ClientMessage`]: one message from an API client, decoded by its type id (the server's half
//! of the message table in `crate::native_api::messages`).
//!
//! Messages the server has no use for (entity commands, voice assistant, Z-Wave...) decode as
//! [`ClientMessage::Other`] and are ignored, as ESPHome firmware ignores what it does not
//! implement. A payload that is not valid protobuf for its type is an error: the session
//! closes that client's connection, and only that one.

use prost::Message;

use crate::native_api::frame::RawFrame;
use crate::native_api::messages::bluetooth::{
    DeviceRequest, ScannerSetMode, SubscribeAdvertisements,
};
use crate::native_api::messages::gatt::{HandleData, HandleRequest, NotifyRequest, WriteRequest};
use crate::native_api::messages::id;
use crate::native_api::messages::session::HelloRequest;

/// One message from a client.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ClientMessage {
    Hello(HelloRequest),
    /// The legacy password (ids 3/4 are gone from ESPHome since 2026.1): ignored.
    Authenticate,
    DeviceInfo,
    DeviceCapabilities,
    ListEntities,
    SubscribeStates,
    PingRequest,
    PingResponse,
    DisconnectRequest,
    DisconnectResponse,
    SubscribeAdverts(SubscribeAdvertisements),
    UnsubscribeAdverts,
    SubscribeSlots,
    SetScannerMode(ScannerSetMode),
    Device(DeviceRequest),
    GetServices(HandleRequest),
    Read(HandleRequest),
    Write(WriteRequest),
    ReadDescriptor(HandleRequest),
    WriteDescriptor(HandleData),
    Notify(NotifyRequest),
    /// Something this server does not implement.
    Other(u16),
}

impl ClientMessage {
    /// Decodes a frame by its type.
    pub(crate) fn decode(frame: &RawFrame) -> Result<Self, prost::DecodeError> {
        let bytes = frame.payload.clone();
        Ok(match frame.message_type {
            id::HELLO_REQUEST => Self::Hello(Message::decode(bytes)?),
            id::AUTHENTICATION_REQUEST => Self::Authenticate,
            id::DEVICE_INFO_REQUEST => Self::DeviceInfo,
            id::DEVICE_CAPABILITIES_REQUEST => Self::DeviceCapabilities,
            id::LIST_ENTITIES_REQUEST => Self::ListEntities,
            id::SUBSCRIBE_STATES_REQUEST => Self::SubscribeStates,
            id::PING_REQUEST => Self::PingRequest,
            id::PING_RESPONSE => Self::PingResponse,
            id::DISCONNECT_REQUEST => Self::DisconnectRequest,
            id::DISCONNECT_RESPONSE => Self::DisconnectResponse,
            id::SUBSCRIBE_ADVERTISEMENTS => Self::SubscribeAdverts(Message::decode(bytes)?),
            id::UNSUBSCRIBE_ADVERTISEMENTS => Self::UnsubscribeAdverts,
            id::SUBSCRIBE_CONNECTIONS_FREE => Self::SubscribeSlots,
            id::SCANNER_SET_MODE => Self::SetScannerMode(Message::decode(bytes)?),
            id::DEVICE_REQUEST => Self::Device(Message::decode(bytes)?),
            id::GET_SERVICES_REQUEST => Self::GetServices(Message::decode(bytes)?),
            id::READ_REQUEST => Self::Read(Message::decode(bytes)?),
            id::WRITE_REQUEST => Self::Write(Message::decode(bytes)?),
            id::READ_DESCRIPTOR_REQUEST => Self::ReadDescriptor(Message::decode(bytes)?),
            id::WRITE_DESCRIPTOR_REQUEST => Self::WriteDescriptor(Message::decode(bytes)?),
            id::NOTIFY_REQUEST => Self::Notify(Message::decode(bytes)?),
            other => Self::Other(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn golden_requests_from_the_reference_client_decode() {
        // HelloRequest{"bluefleet", 1, 10} and a connect request, as aioesphomeapi encodes them
        // (research notes §1.6).
        let hello = RawFrame {
            message_type: 1,
            payload: Bytes::from_static(&[
                0x0a, 0x09, b'b', b'l', b'u', b'e', b'f', b'l', b'e', b'e', b't', 0x10, 0x01, 0x18,
                0x0a,
            ]),
        };
        let ClientMessage::Hello(h) = ClientMessage::decode(&hello).unwrap() else {
            panic!("not a hello");
        };
        assert_eq!(
            (h.client_info.as_str(), h.api_version_minor),
            ("bluefleet", 10)
        );
        let connect = RawFrame {
            message_type: 68,
            payload: Bytes::from_static(&[
                0x08, 0x81, 0x80, 0x80, 0xc0, 0x93, 0x98, 0x29, 0x10, 0x05, 0x18, 0x01,
            ]),
        };
        let ClientMessage::Device(d) = ClientMessage::decode(&connect).unwrap() else {
            panic!("not a device request");
        };
        assert_eq!((d.address, d.request_type), (0xA4C1_3800_0001, 5));
    }

    #[test]
    fn unknown_ids_are_other_and_garbage_is_an_error() {
        let unknown = RawFrame {
            message_type: 500,
            payload: Bytes::new(),
        };
        assert_eq!(
            ClientMessage::decode(&unknown),
            Ok(ClientMessage::Other(500))
        );
        let garbage = RawFrame {
            message_type: 68,
            payload: Bytes::from_static(&[0x0a, 0x05, 0x01]),
        };
        assert!(ClientMessage::decode(&garbage).is_err());
    }
}
