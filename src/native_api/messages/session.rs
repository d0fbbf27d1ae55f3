//! Session messages of the native API: hello, device info, ping, disconnect.
//!
//! Hand-written prost structs (no `protoc` on the build machine) carrying only the fields
//! bluefleet reads or writes; field numbers are those of ESPHome's `api.proto` as vendored by
//! aioesphomeapi 46.23.0 (research notes §1.4). Unknown fields are skipped by prost.

/// `HelloRequest` (1): the first message a client sends.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloRequest {
    #[prost(string, tag = "1")]
    pub client_info: String,
    #[prost(uint32, tag = "2")]
    pub api_version_major: u32,
    #[prost(uint32, tag = "3")]
    pub api_version_minor: u32,
}

/// `HelloResponse` (2).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloResponse {
    #[prost(uint32, tag = "1")]
    pub api_version_major: u32,
    #[prost(uint32, tag = "2")]
    pub api_version_minor: u32,
    #[prost(string, tag = "3")]
    pub server_info: String,
    #[prost(string, tag = "4")]
    pub name: String,
}

/// `DeviceInfoResponse` (10): who the device is and what its Bluetooth proxy can do.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DeviceInfoResponse {
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub mac_address: String,
    #[prost(string, tag = "4")]
    pub esphome_version: String,
    #[prost(string, tag = "5")]
    pub compilation_time: String,
    #[prost(string, tag = "6")]
    pub model: String,
    /// `manufacturer.model`: Home Assistant splits it at the dot.
    #[prost(string, tag = "8")]
    pub project_name: String,
    #[prost(string, tag = "9")]
    pub project_version: String,
    /// Deprecated since API 1.9, still the only source of the flags before it.
    #[prost(uint32, tag = "11")]
    pub legacy_bluetooth_proxy_version: u32,
    #[prost(string, tag = "12")]
    pub manufacturer: String,
    #[prost(string, tag = "13")]
    pub friendly_name: String,
    #[prost(uint32, tag = "15")]
    pub bluetooth_proxy_feature_flags: u32,
    #[prost(string, tag = "18")]
    pub bluetooth_mac_address: String,
    #[prost(bool, tag = "19")]
    pub api_encryption_supported: bool,
}

/// `BluetoothProxyCapabilities`, inside [`DeviceCapabilitiesResponse`].
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BluetoothProxyCapabilities {
    #[prost(uint32, tag = "1")]
    pub feature_flags: u32,
    #[prost(string, tag = "2")]
    pub mac_address: String,
}

/// `DeviceCapabilitiesResponse` (150, API >= 1.15): the same flags as device info.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DeviceCapabilitiesResponse {
    #[prost(message, optional, tag = "1")]
    pub bluetooth_proxy: Option<BluetoothProxyCapabilities>,
}

/// `DisconnectRequest` (5), either direction.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DisconnectRequest {
    #[prost(uint32, tag = "1")]
    pub reason: u32,
}

/// `AuthenticationRequest` (3): the legacy API password, removed from ESPHome in 2026.1.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AuthenticationRequest {
    #[prost(string, tag = "1")]
    pub password: String,
}

/// `AuthenticationResponse` (4): older firmware sends it only to reject a password.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AuthenticationResponse {
    #[prost(bool, tag = "1")]
    pub invalid_password: bool,
}
