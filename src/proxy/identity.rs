//! Who a virtual proxy says it is: name, MACs, version, feature flags, and the device-info and
//! capabilities answers built from them.
//!
//! Home Assistant keys an ESPHome config entry on `DeviceInfo.mac_address`, so each virtual
//! proxy needs a MAC that is stable across restarts and unique per hub and radio: it is derived
//! from the name with FNV-1a (a fixed hash, not the process-random one), with the
//! locally-administered bit set and the multicast bit clear, so it can never collide with a
//! vendor-assigned address. The Bluetooth MAC (the scanner's source id in habluetooth) is
//! derived the same way from a different salt.
//!
//! The feature flags say only what works here: passive scan and raw advertisements, GATT
//! connections with the client owning the service cache (v3, REMOTE_CACHING), cache clearing,
//! scanner state reports. No PAIRING and no CONNECTION_PARAMS_SETTING: bluefleet's radios do
//! not pair or set connection parameters on a client's behalf.

use crate::native_api::messages::feature;
use crate::native_api::messages::session::{
    BluetoothProxyCapabilities, DeviceCapabilitiesResponse, DeviceInfoResponse, HelloResponse,
};
use crate::native_api::responder::ResponderIdentity;

/// The API version the server speaks (ESPHome 2026.1 level: device info carries the flags).
pub(crate) const API_MAJOR: u32 = 1;
/// See [`API_MAJOR`].
pub(crate) const API_MINOR: u32 = 14;

/// The flags every bluefleet proxy reports.
pub(crate) const FEATURE_FLAGS: u32 = feature::PASSIVE_SCAN
    | feature::ACTIVE_CONNECTIONS
    | feature::REMOTE_CACHING
    | feature::CACHE_CLEARING
    | feature::RAW_ADVERTISEMENTS
    | feature::STATE_AND_MODE;

/// One virtual proxy's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The node name (`bluefleet-hub`, or `bluefleet-hub-kitchen` for one radio).
    pub name: String,
    /// The MAC Home Assistant keys the device on.
    pub mac: [u8; 6],
    /// The Bluetooth MAC, the advertisement source id.
    pub bluetooth_mac: [u8; 6],
}

/// FNV-1a, 64 bits: a fixed, documented hash, so the MAC is the same in every process.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn derive_mac(salt: &str, name: &str) -> [u8; 6] {
    let hash = fnv1a(format!("bluefleet/{salt}/{name}").as_bytes()).to_be_bytes();
    let mut mac = [0u8; 6];
    mac.copy_from_slice(hash.get(..6).unwrap_or(&[0; 6]));
    // Locally administered (bit 1 set), unicast (bit 0 clear).
    mac[0] = (mac[0] | 0x02) & !0x01;
    mac
}

/// `AA:BB:CC:DD:EE:FF`.
pub(crate) fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Identity {
    /// The identity of the proxy named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            mac: derive_mac("mac", &name),
            bluetooth_mac: derive_mac("bluetooth", &name),
            name,
        }
    }

    pub(crate) fn hello(&self) -> HelloResponse {
        HelloResponse {
            api_version_major: API_MAJOR,
            api_version_minor: API_MINOR,
            server_info: format!("bluefleet {}", env!("CARGO_PKG_VERSION")),
            name: self.name.clone(),
        }
    }

    pub(crate) fn device_info(&self, encrypted: bool) -> DeviceInfoResponse {
        DeviceInfoResponse {
            name: self.name.clone(),
            mac_address: mac_text(self.mac),
            // Not ESPHome firmware: report bluefleet's own version, honestly.
            esphome_version: env!("CARGO_PKG_VERSION").into(),
            compilation_time: String::new(),
            model: "hub".into(),
            project_name: "bluefleet.hub".into(),
            project_version: env!("CARGO_PKG_VERSION").into(),
            legacy_bluetooth_proxy_version: 5,
            manufacturer: "bluefleet".into(),
            friendly_name: self.name.clone(),
            bluetooth_proxy_feature_flags: FEATURE_FLAGS,
            bluetooth_mac_address: mac_text(self.bluetooth_mac),
            api_encryption_supported: encrypted,
        }
    }

    pub(crate) fn capabilities(&self) -> DeviceCapabilitiesResponse {
        DeviceCapabilitiesResponse {
            bluetooth_proxy: Some(BluetoothProxyCapabilities {
                feature_flags: FEATURE_FLAGS,
                mac_address: mac_text(self.bluetooth_mac),
            }),
        }
    }

    pub(crate) fn responder(&self) -> ResponderIdentity {
        ResponderIdentity {
            name: self.name.clone(),
            mac: mac_text(self.mac).replace(':', "").to_lowercase(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_stable_unique_and_locally_administered() {
        let hub = Identity::new("bluefleet-hub");
        assert_eq!(hub, Identity::new("bluefleet-hub"));
        let kitchen = Identity::new("bluefleet-hub-kitchen");
        assert_ne!(hub.mac, kitchen.mac);
        assert_ne!(hub.mac, hub.bluetooth_mac);
        for mac in [hub.mac, hub.bluetooth_mac, kitchen.mac] {
            assert_eq!(mac[0] & 0x03, 0x02, "{}", mac_text(mac));
        }
        // Pinned: a change here would make Home Assistant see a new device after an upgrade.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn device_info_names_the_project_with_a_dot_and_no_pairing() {
        let info = Identity::new("hub").device_info(true);
        assert_eq!(info.project_name, "bluefleet.hub");
        assert_eq!(info.project_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(info.bluetooth_proxy_feature_flags & (1 << 3), 0, "PAIRING");
        assert_eq!(
            info.bluetooth_proxy_feature_flags & (1 << 7),
            0,
            "CONNECTION_PARAMS"
        );
        assert_ne!(
            info.bluetooth_proxy_feature_flags & feature::REMOTE_CACHING,
            0
        );
        assert!(info.api_encryption_supported);
    }
}
