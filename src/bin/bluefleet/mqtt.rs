//! The MQTT bridge beside a command's own work (`run` with `[mqtt]`, `demo --mqtt`): started
//! with the fleet, stopped (hub marked offline) when the command's work ends. Without the
//! `mqtt` feature, asking for it is a one-line error.

use std::future::Future;

use bluefleet::config::DeviceConfig;
use bluefleet::Fleet;

/// Runs `work` with the bridge beside it (or alone without `[mqtt]`), in `cluster` if given.
/// A bridge that fails to start ends the command with its error.
#[cfg(feature = "mqtt")]
pub async fn alongside<T>(
    fleet: &Fleet,
    config: Option<bluefleet::mqtt::MqttConfig>,
    cluster: Option<bluefleet::mqtt::ClusterConfig>,
    devices: Vec<DeviceConfig>,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let Some(config) = config else {
        return work.await;
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bridge = bluefleet::mqtt::serve(fleet.clone(), config, cluster, devices, async {
        let _ = stopped.await;
    });
    let mut bridge = std::pin::pin!(bridge);
    let mut work = std::pin::pin!(work);
    tokio::select! {
        biased;
        ended = &mut bridge => Err(match ended {
            Ok(()) => "the MQTT bridge stopped".to_string(),
            Err(e) => format!("mqtt: {e}"),
        }),
        outcome = &mut work => {
            let _ = stop.send(());
            bridge.await.map_err(|e| format!("mqtt: {e}"))?;
            outcome
        }
    }
}

/// `demo --mqtt HOST:PORT`: `work` with a bridge to that broker for the world's kept devices.
#[cfg(feature = "mqtt")]
pub async fn demo_alongside<T>(
    fleet: &Fleet,
    broker: Option<&str>,
    world: &bluefleet::sim::World,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let config = match broker {
        Some(broker) => {
            Some(bluefleet::mqtt::config::from_host_port(broker).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    alongside(fleet, config, None, demo_devices(world), work).await
}

#[cfg(not(feature = "mqtt"))]
pub async fn demo_alongside<T>(
    _: &Fleet,
    broker: Option<&str>,
    _: &bluefleet::sim::World,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    if broker.is_some() {
        return Err("--mqtt: this binary was built without the `mqtt` feature".into());
    }
    work.await
}

/// The devices `run` itself keeps connected and subscribes to: with `[cluster]`, none of the
/// kept-connected ones (the cluster connects them, on the hub that holds their claim).
#[cfg(feature = "mqtt")]
pub fn own_devices(config: &bluefleet::config::HubConfig) -> Vec<DeviceConfig> {
    let clustered = config.cluster.is_some();
    config
        .devices
        .iter()
        .cloned()
        .map(|mut device| {
            if clustered && device.keep_connected {
                device.keep_connected = false;
                device.subscribe.clear();
            }
            device
        })
        .collect()
}

#[cfg(not(feature = "mqtt"))]
pub fn own_devices(config: &bluefleet::config::HubConfig) -> Vec<DeviceConfig> {
    config.devices.clone()
}

/// The world's kept-connected devices as hub-file entries, decoding the SIG values it knows.
#[cfg(feature = "mqtt")]
fn demo_devices(world: &bluefleet::sim::World) -> Vec<DeviceConfig> {
    use bluefleet::config::{Decode, SubscriptionConfig};
    use bluefleet::model::uuid::short_form;
    world
        .devices
        .iter()
        .filter(|spec| spec.keep_connected)
        .map(|spec| DeviceConfig {
            address: spec.address,
            name: spec.name.clone(),
            keep_connected: true,
            decode: bluefleet::config::AdvertDecoding::Off,
            bindkey: None,
            subscribe: spec
                .subscribe
                .iter()
                .map(|uuid| {
                    let (decode, scale, unit) = match short_form(uuid) {
                        Some(0x2A6E) => (Decode::Sint16, 0.01, "°C"),
                        Some(0x2A6F) => (Decode::Uint16, 0.01, "%"),
                        Some(0x2A19) => (Decode::Uint8, 1.0, "%"),
                        _ => (Decode::Hex, 1.0, ""),
                    };
                    SubscriptionConfig {
                        unit: unit.into(),
                        ..SubscriptionConfig::new(uuid.to_string(), decode, scale)
                    }
                })
                .collect(),
        })
        .collect()
}
