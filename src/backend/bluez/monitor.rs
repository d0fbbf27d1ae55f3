//! Passive scanning on BlueZ: BlueZ discovery is always active (it sends scan requests); the
//! only passive path is an `org.bluez.AdvertisementMonitor1` registered with the adapter's
//! `AdvertisementMonitorManager1` (BlueZ 5.56+, often only with `bluetoothd --experimental`).
//!
//! We export one `or_patterns` monitor under an application root that is an ObjectManager
//! (BlueZ reads the monitors from it), then register the root. Matching devices are reported
//! through the usual `Device1` property changes, so the event pump needs nothing else. An
//! `or_patterns` monitor needs patterns: ours match the Flags AD structure's common values, so
//! advertisers without Flags (some non-connectable beacons) are not heard passively.

use zbus::{ObjectPath, OwnedObjectPath};

use super::adapter::Adapter;
use super::proxies::{self, AdvertisementMonitorManager1Proxy};
use crate::model::RadioId;

/// Flags AD type (Bluetooth Core Supplement, Part A, 1.3).
const AD_FLAGS: u8 = 0x01;
/// Flags values seen on LE devices: LE General/Limited Discoverable with or without BR/EDR
/// Not Supported and the simultaneous-LE-BR/EDR bits.
const FLAG_VALUES: [u8; 6] = [0x02, 0x04, 0x05, 0x06, 0x1a, 0x1e];

/// The monitor object BlueZ calls back.
struct Monitor {
    radio: RadioId,
}

#[zbus::interface(name = "org.bluez.AdvertisementMonitor1")]
impl Monitor {
    fn release(&self) {
        tracing::warn!(radio = %self.radio, "BlueZ released the passive-scan monitor");
    }

    fn activate(&self) {
        tracing::info!(radio = %self.radio, "passive scanning active");
    }

    fn device_found(&self, device: OwnedObjectPath) {
        tracing::trace!(radio = %self.radio, device = %device.as_str(), "monitor: device found");
    }

    fn device_lost(&self, device: OwnedObjectPath) {
        tracing::trace!(radio = %self.radio, device = %device.as_str(), "monitor: device lost");
    }

    #[zbus(property, name = "Type")]
    fn monitor_type(&self) -> String {
        "or_patterns".into()
    }

    #[zbus(property)]
    fn patterns(&self) -> Vec<(u8, u8, Vec<u8>)> {
        FLAG_VALUES
            .iter()
            .map(|value| (0, AD_FLAGS, vec![*value]))
            .collect()
    }
}

/// The application root of this adapter's monitor.
pub(crate) fn root(adapter: &Adapter) -> String {
    format!("/org/bluefleet/monitor/{}", adapter.id)
}

/// Exports the monitor (once) and (re-)registers it; the error says why passive scanning is
/// not available.
pub(crate) async fn register(adapter: &Adapter) -> Result<(), String> {
    let name = &adapter.id;
    let manager =
        proxies::build::<AdvertisementMonitorManager1Proxy<'_>>(&adapter.conn, &adapter.path)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
    let types = manager.supported_monitor_types().await.map_err(|_| {
        format!(
            "BlueZ offers no AdvertisementMonitorManager1 on {name} (passive scanning needs \
             BlueZ 5.56 or later, usually bluetoothd --experimental)"
        )
    })?;
    if !types.iter().any(|t| t == "or_patterns") {
        return Err(format!(
            "BlueZ on {name} supports no or_patterns monitor (only {types:?})"
        ));
    }
    let root = root(adapter);
    let server = adapter.conn.object_server();
    let exported = async {
        server.at(root.as_str(), zbus::fdo::ObjectManager).await?;
        let monitor = Monitor {
            radio: name.clone(),
        };
        server.at(format!("{root}/all"), monitor).await
    };
    exported
        .await
        .map_err(|e| format!("cannot export the monitor on D-Bus: {e}"))?;
    let path = ObjectPath::try_from(root.as_str()).map_err(|e| e.to_string())?;
    // A restart (the watchdog's first step) registers afresh.
    let _ = manager.unregister_monitor(&path).await;
    manager
        .register_monitor(&path)
        .await
        .map_err(|e| format!("BlueZ refused the passive-scan monitor on {name}: {e}"))
}
