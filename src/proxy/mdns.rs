//! The mDNS announcement of each virtual proxy as `_esphomelib._tcp`, so Home Assistant's
//! ESPHome integration discovers it (with `mdns-sd`).
//!
//! The TXT record carries what Home Assistant reads from a discovered ESPHome device: `mac`
//! (lower-case hex, no colons: the key of its config entry), `friendly_name`, `project_name`,
//! `project_version`, `version`, and `api_encryption` when the proxy has a key (so Home
//! Assistant asks for it). The announcement goes out only on the interface the proxy listens
//! on: loopback for a loopback listener, the one interface of a specific address, every
//! interface for `0.0.0.0`.
//!
//! mdns-sd's daemon joins the multicast group on every interface as it starts, before it can be
//! told to keep to loopback, so the ordinary tests pass `--no-mdns` and check [`service_info`];
//! `tests/proxy/mdns.rs` checks the real announcement with python-zeroconf inside a network
//! namespace whose only interface is loopback.

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

use super::identity::mac_text;
use super::server::Endpoint;
use super::ProxyError;

/// The DNS-SD type ESPHome devices announce.
const SERVICE_TYPE: &str = "_esphomelib._tcp.local.";

/// The record for one endpoint.
pub(crate) fn service_info(
    endpoint: &Endpoint,
    mac: [u8; 6],
    encrypted: bool,
) -> Result<ServiceInfo, ProxyError> {
    let mut properties = vec![
        ("mac", mac_text(mac).replace(':', "").to_lowercase()),
        ("friendly_name", endpoint.name.clone()),
        ("project_name", "bluefleet.hub".to_string()),
        ("project_version", env!("CARGO_PKG_VERSION").to_string()),
        ("version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    if encrypted {
        properties.push((
            "api_encryption",
            "Noise_NNpsk0_25519_ChaChaPoly_SHA256".to_string(),
        ));
    }
    let ip = endpoint.address.ip();
    let host = format!("{}.local.", endpoint.name);
    let info = if ip.is_unspecified() {
        ServiceInfo::new(
            SERVICE_TYPE,
            &endpoint.name,
            &host,
            "",
            endpoint.address.port(),
            &properties[..],
        )
        .map(ServiceInfo::enable_addr_auto)
    } else {
        ServiceInfo::new(
            SERVICE_TYPE,
            &endpoint.name,
            &host,
            ip,
            endpoint.address.port(),
            &properties[..],
        )
    };
    info.map_err(|err| ProxyError::Mdns(err.to_string()))
}

/// A running announcement; dropping it withdraws the records and stops the daemon.
pub(crate) struct Announcement {
    daemon: ServiceDaemon,
    names: Vec<String>,
}

impl std::fmt::Debug for Announcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcement")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// Announces every endpoint.
pub(crate) fn announce(
    records: Vec<(ServiceInfo, std::net::IpAddr)>,
) -> Result<Announcement, ProxyError> {
    let mdns = |err: mdns_sd::Error| ProxyError::Mdns(err.to_string());
    let daemon = ServiceDaemon::new().map_err(mdns)?;
    if let Some((_, ip)) = records.first() {
        if !ip.is_unspecified() {
            daemon.disable_interface(IfKind::All).map_err(mdns)?;
            let keep = if ip.is_loopback() {
                if ip.is_ipv4() {
                    IfKind::LoopbackV4
                } else {
                    IfKind::LoopbackV6
                }
            } else {
                IfKind::Addr(*ip)
            };
            daemon.enable_interface(keep).map_err(mdns)?;
        }
    }
    let mut names = Vec::new();
    for (info, _) in records {
        names.push(info.get_fullname().to_string());
        daemon.register(info).map_err(mdns)?;
    }
    Ok(Announcement { daemon, names })
}

impl Drop for Announcement {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.daemon.unregister(name);
        }
        let _ = self.daemon.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(address: &str) -> Endpoint {
        Endpoint {
            name: "bluefleet".into(),
            address: address.parse().unwrap(),
            mac: String::new(),
            radio: None,
        }
    }

    #[test]
    fn the_record_says_what_home_assistant_reads() {
        let mac = [0x1A, 0x50, 0x0A, 0x3B, 0xB9, 0x54];
        let info = service_info(&endpoint("127.0.0.1:6053"), mac, true).unwrap();
        assert_eq!(info.get_type(), "_esphomelib._tcp.local.");
        assert_eq!(info.get_fullname(), "bluefleet._esphomelib._tcp.local.");
        assert_eq!(info.get_hostname(), "bluefleet.local.");
        assert_eq!(info.get_port(), 6053);
        assert_eq!(info.get_property_val_str("mac"), Some("1a500a3bb954"));
        assert_eq!(
            info.get_property_val_str("project_name"),
            Some("bluefleet.hub")
        );
        assert!(info.get_property_val_str("api_encryption").is_some());
        assert!(info
            .get_addresses()
            .contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()));
        let plain = service_info(&endpoint("127.0.0.1:6053"), mac, false).unwrap();
        assert!(plain.get_property("api_encryption").is_none());
    }

    #[test]
    fn a_wildcard_listener_announces_the_hosts_addresses() {
        let info = service_info(&endpoint("0.0.0.0:6053"), [2; 6], false).unwrap();
        assert!(info.is_addr_auto());
    }
}
