//! The MQTT bridge beside a command's own work (`run` with `[mqtt]`, `demo --mqtt`): started
//! with the fleet, stopped (hub marked offline) when the command's work ends.

use std::future::Future;

use bluefleet::config::DeviceConfig;
use bluefleet::mqtt::MqttConfig;
use bluefleet::Fleet;

/// Runs `work` with the bridge beside it (or alone when `config` is `None`). A bridge that
/// fails to start ends the command with its error.
pub async fn alongside<T>(
    fleet: &Fleet,
    config: Option<MqttConfig>,
    devices: Vec<DeviceConfig>,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let Some(config) = config else {
        return work.await;
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bridge = bluefleet::mqtt::serve(fleet.clone(), config, devices, async {
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
