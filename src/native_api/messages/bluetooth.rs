//! Bluetooth proxy messages outside GATT: advertisements, device requests, slot reports.
//!
//! Field numbers from the research notes §1.5. `address` is always the peripheral MAC as a
//! 48-bit integer ([`crate::model::Address::from_u64`]). Repeated scalars arrive unpacked from
//! the firmware and packed from standard encoders; prost accepts both.

use bytes::Bytes;

/// `SubscribeBluetoothLEAdvertisementsRequest` (66).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SubscribeAdvertisements {
    /// Bit 0: raw advertisements.
    #[prost(uint32, tag = "1")]
    pub flags: u32,
}

/// One entry of a raw advertisement batch.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RawAdvertisement {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(sint32, tag = "2")]
    pub rssi: i32,
    /// ESP-IDF `esp_ble_addr_type_t`: 0 public, 1 random, 2/3 resolvable.
    #[prost(uint32, tag = "3")]
    pub address_type: u32,
    /// Advertisement and scan response AD structures, concatenated.
    #[prost(bytes = "bytes", tag = "4")]
    pub data: Bytes,
}

/// `BluetoothLERawAdvertisementsResponse` (93): a batch.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RawAdvertisements {
    #[prost(message, repeated, tag = "1")]
    pub advertisements: Vec<RawAdvertisement>,
}

/// `BluetoothDeviceRequest` (68): connect, disconnect, clear cache.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DeviceRequest {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    /// `BluetoothDeviceRequestType` (see [`super::request_type`]).
    #[prost(uint32, tag = "2")]
    pub request_type: u32,
    /// Deprecated but required by current firmware: always true.
    #[prost(bool, tag = "3")]
    pub has_address_type: bool,
    #[prost(uint32, tag = "4")]
    pub address_type: u32,
}

/// `BluetoothDeviceConnectionResponse` (69): connection state changes and connect answers.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ConnectionResponse {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(bool, tag = "2")]
    pub connected: bool,
    #[prost(uint32, tag = "3")]
    pub mtu: u32,
    /// An ESP-IDF reason or status code; 0 with `connected = false` can mean "no free slot".
    #[prost(int32, tag = "4")]
    pub error: i32,
}

/// `BluetoothConnectionsFreeResponse` (81): the proxy's slot report.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ConnectionsFree {
    #[prost(uint32, tag = "1")]
    pub free: u32,
    #[prost(uint32, tag = "2")]
    pub limit: u32,
    #[prost(uint64, repeated, tag = "3")]
    pub allocated: Vec<u64>,
}

/// `BluetoothDeviceClearCacheResponse` (88).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ClearCacheResponse {
    #[prost(uint64, tag = "1")]
    pub address: u64,
    #[prost(bool, tag = "2")]
    pub success: bool,
    #[prost(int32, tag = "3")]
    pub error: i32,
}

/// `BluetoothScannerStateResponse` (126).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ScannerState {
    /// 0 idle, 1 starting, 2 running, 3 failed, 4 stopping, 5 stopped.
    #[prost(uint32, tag = "1")]
    pub state: u32,
    /// 0 passive, 1 active.
    #[prost(uint32, tag = "2")]
    pub mode: u32,
    /// The mode the device was configured with (ESPHome 2025.9).
    #[prost(uint32, tag = "3")]
    pub configured_mode: u32,
}

/// `BluetoothScannerSetModeRequest` (127).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ScannerSetMode {
    /// 0 passive, 1 active.
    #[prost(uint32, tag = "1")]
    pub mode: u32,
}
