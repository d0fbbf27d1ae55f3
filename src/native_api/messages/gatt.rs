//! GATT messages of the Bluetooth proxy: service discovery, reads, writes, notifications.
//!
//! Field numbers from the research notes §1.5. A UUID is either `short_uuid` (a 16/32-bit SIG
//! value, sent to clients that said API >= 1.12) or `uuid = [high64, low64]`; missing words are
//! zero. One request shape (address + handle) serves several ids, so [`HandleRequest`] is
//! shared by reads, descriptor reads and service discovery (handle 0).

use bytes::Bytes;

/// Address + handle: `BluetoothGATTReadRequest` (73), `ReadDescriptorRequest` (76),
/// `GetServicesRequest` (70, handle unused), and the write/notify acknowledgements (83, 84).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HandleRequest {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(uint32, tag = "2")]
    pub handle: u32,
}

/// `BluetoothGATTWriteRequest` (75).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteRequest {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(uint32, tag = "2")]
    pub handle: u32,
    #[prost(bool, tag = "3")]
    pub response: bool,
    #[prost(bytes = "bytes", tag = "4")]
    pub data: Bytes,
}

/// Address + handle + data: `WriteDescriptorRequest` (77), `ReadResponse` (74),
/// `NotifyDataResponse` (79).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HandleData {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(uint32, tag = "2")]
    pub handle: u32,
    #[prost(bytes = "bytes", tag = "3")]
    pub data: Bytes,
}

/// `BluetoothGATTNotifyRequest` (78).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NotifyRequest {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(uint32, tag = "2")]
    pub handle: u32,
    #[prost(bool, tag = "3")]
    pub enable: bool,
}

/// `BluetoothGATTErrorResponse` (82).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GattError {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(uint32, tag = "2")]
    pub handle: u32,
    /// ESP-IDF `esp_gatt_status_t`, an `esp_err_t`, or ESPHome's −1 "not connected".
    #[prost(int32, tag = "3")]
    pub error: i32,
}

/// `BluetoothGATTGetServicesResponse` (71): one batch of services.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ServicesBatch {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(message, repeated, tag = "2")]
    pub services: Vec<Service>,
}

/// `BluetoothGATTService`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Service {
    #[prost(uint64, repeated, tag = "1")]
    pub uuid: Vec<u64>,
    #[prost(uint32, tag = "2")]
    pub handle: u32,
    #[prost(message, repeated, tag = "3")]
    pub characteristics: Vec<Characteristic>,
    #[prost(uint32, tag = "4")]
    pub short_uuid: u32,
}

/// `BluetoothGATTCharacteristic`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Characteristic {
    #[prost(uint64, repeated, tag = "1")]
    pub uuid: Vec<u64>,
    #[prost(uint32, tag = "2")]
    pub handle: u32,
    #[prost(uint32, tag = "3")]
    pub properties: u32,
    #[prost(message, repeated, tag = "4")]
    pub descriptors: Vec<Descriptor>,
    #[prost(uint32, tag = "5")]
    pub short_uuid: u32,
}

/// `BluetoothGATTDescriptor`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Descriptor {
    #[prost(uint64, repeated, tag = "1")]
    pub uuid: Vec<u64>,
    #[prost(uint32, tag = "2")]
    pub handle: u32,
    #[prost(uint32, tag = "3")]
    pub short_uuid: u32,
}
