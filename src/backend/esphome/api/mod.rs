//! [`Incoming`]: one message from a proxy, decoded by its type id (the client's half of the
//! message table in `crate::native_api::messages`, re-exported here for the backend).
//!
//! Anything else the proxy sends (entity states, logs, messages newer
//! than this code) decodes as [`Incoming::Other`] and is skipped by the session, as the
//! protocol requires: a proxy may push messages the client never asked for.
//!
//! Sits between framing (`frame.rs` / `noise.rs`, which yield `(type, payload)`) and the session
//! and router, which act on [`Incoming`] values and build [`Outgoing`] ones.

pub(crate) use crate::native_api::messages::{
    bluetooth, feature, gatt, id, request_type, session, Outgoing,
};

use prost::Message;

use crate::native_api::frame::RawFrame;

/// One message from the proxy, decoded by its type id.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Incoming {
    Hello(session::HelloResponse),
    Authentication(session::AuthenticationResponse),
    DeviceInfo(session::DeviceInfoResponse),
    DisconnectRequest,
    DisconnectResponse,
    PingRequest,
    PingResponse,
    Adverts(bluetooth::RawAdvertisements),
    Connection(bluetooth::ConnectionResponse),
    SlotsFree(bluetooth::ConnectionsFree),
    Services(gatt::ServicesBatch),
    ServicesDone {
        address: u64,
    },
    Read(gatt::HandleData),
    WriteAck(gatt::HandleRequest),
    NotifyAck(gatt::HandleRequest),
    NotifyData(gatt::HandleData),
    GattError(gatt::GattError),
    ClearCache(bluetooth::ClearCacheResponse),
    Scanner(bluetooth::ScannerState),
    /// A message bluefleet does not use; skipped.
    Other(u16),
}

impl Incoming {
    /// Decodes a frame's payload by its type. A payload that is not valid protobuf for its
    /// type is an error (the session closes the connection on it).
    pub(crate) fn decode(frame: &RawFrame) -> Result<Self, prost::DecodeError> {
        let bytes = frame.payload.clone();
        Ok(match frame.message_type {
            id::HELLO_RESPONSE => Self::Hello(Message::decode(bytes)?),
            id::AUTHENTICATION_RESPONSE => Self::Authentication(Message::decode(bytes)?),
            id::DEVICE_INFO_RESPONSE => Self::DeviceInfo(Message::decode(bytes)?),
            id::DISCONNECT_REQUEST => Self::DisconnectRequest,
            id::DISCONNECT_RESPONSE => Self::DisconnectResponse,
            id::PING_REQUEST => Self::PingRequest,
            id::PING_RESPONSE => Self::PingResponse,
            id::RAW_ADVERTISEMENTS => Self::Adverts(Message::decode(bytes)?),
            id::CONNECTION_RESPONSE => Self::Connection(Message::decode(bytes)?),
            id::CONNECTIONS_FREE => Self::SlotsFree(Message::decode(bytes)?),
            id::GET_SERVICES_RESPONSE => Self::Services(Message::decode(bytes)?),
            id::GET_SERVICES_DONE => {
                let done: gatt::HandleRequest = Message::decode(bytes)?;
                Self::ServicesDone {
                    address: done.address,
                }
            }
            id::READ_RESPONSE => Self::Read(Message::decode(bytes)?),
            id::WRITE_RESPONSE => Self::WriteAck(Message::decode(bytes)?),
            id::NOTIFY_RESPONSE => Self::NotifyAck(Message::decode(bytes)?),
            id::NOTIFY_DATA => Self::NotifyData(Message::decode(bytes)?),
            id::GATT_ERROR => Self::GattError(Message::decode(bytes)?),
            id::CLEAR_CACHE_RESPONSE => Self::ClearCache(Message::decode(bytes)?),
            id::SCANNER_STATE => Self::Scanner(Message::decode(bytes)?),
            other => Self::Other(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(message_type: u16, payload: &[u8]) -> RawFrame {
        RawFrame {
            message_type,
            payload: Bytes::copy_from_slice(payload),
        }
    }

    #[test]
    fn golden_device_request_matches_the_reference_encoding() {
        let request = bluetooth::DeviceRequest {
            address: 0xA4C1_3800_0001,
            request_type: request_type::CONNECT_V3_WITHOUT_CACHE,
            has_address_type: true,
            address_type: 0,
        };
        let out = Outgoing::new(id::DEVICE_REQUEST, &request);
        let expected = [
            0x08, 0x81, 0x80, 0x80, 0xc0, 0x93, 0x98, 0x29, 0x10, 0x05, 0x18, 0x01,
        ];
        assert_eq!(out.payload, expected);
    }

    #[test]
    fn slot_reports_decode_in_firmware_and_packed_forms() {
        let unpacked = [
            0x08, 0x02, 0x10, 0x03, 0x18, 0x81, 0x80, 0x80, 0xc0, 0x93, 0x98, 0x29,
        ];
        let packed = [
            0x08, 0x02, 0x10, 0x03, 0x1a, 0x07, 0x81, 0x80, 0x80, 0xc0, 0x93, 0x98, 0x29,
        ];
        for payload in [&unpacked[..], &packed[..]] {
            let Incoming::SlotsFree(report) = Incoming::decode(&frame(81, payload)).unwrap() else {
                panic!("not a slot report");
            };
            assert_eq!((report.free, report.limit), (2, 3));
            assert_eq!(report.allocated, vec![0xA4C1_3800_0001]);
        }
    }

    #[test]
    fn negative_errors_and_failed_connects_decode() {
        let payload = [
            0x08, 0x81, 0x80, 0x80, 0xc0, 0x93, 0x98, 0x29, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        let Incoming::GattError(err) = Incoming::decode(&frame(82, &payload)).unwrap() else {
            panic!("not a GATT error");
        };
        assert_eq!(err.error, -1);
        let payload = [
            0x08, 0x81, 0x80, 0x80, 0xc0, 0x93, 0x98, 0x29, 0x20, 0x80, 0x02,
        ];
        let Incoming::Connection(conn) = Incoming::decode(&frame(69, &payload)).unwrap() else {
            panic!("not a connection response");
        };
        assert!(!conn.connected);
        assert_eq!(conn.error, 256);
    }

    #[test]
    fn unknown_types_are_skipped_and_garbage_payloads_are_errors() {
        assert_eq!(
            Incoming::decode(&frame(999, &[1, 2, 3])),
            Ok(Incoming::Other(999))
        );
        assert!(Incoming::decode(&frame(69, &[0x0a, 0x05, 0x01])).is_err());
    }
}
