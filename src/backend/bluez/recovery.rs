//! Recovery steps on a BlueZ controller: restart this client's discovery session, or turn the
//! adapter off and on (`Powered`), which ends its links and makes the event pump report
//! `Down` then `Up` (and start discovery again).

use super::adapter::Adapter;
use super::proxies::{self, Adapter1Proxy};
use super::scan;
use crate::backend::RecoveryStep;

pub(crate) async fn recover(adapter: &Adapter, step: RecoveryStep) -> Result<(), String> {
    let name = &adapter.id;
    match step {
        RecoveryStep::RestartDiscovery => {
            // "No discovery started" is fine: the point is that it runs afterwards.
            scan::stop_discovery(adapter).await;
            scan::start_scanning(adapter).await;
            let report = adapter.scan_report().clone();
            match report.actual {
                Some(_) => Ok(()),
                None => Err(format!(
                    "{name}: cannot scan again: {}",
                    report.note.unwrap_or_default()
                )),
            }
        }
        RecoveryStep::PowerCycle => {
            let proxy = proxies::build::<Adapter1Proxy<'_>>(&adapter.conn, &adapter.path)
                .await
                .map_err(|e| format!("{name}: cannot reach the adapter: {e}"))?;
            proxy
                .set_powered(false)
                .await
                .map_err(|e| format!("{name}: cannot power the adapter off: {e}"))?;
            proxy
                .set_powered(true)
                .await
                .map_err(|e| format!("{name}: powered off, but cannot power it on again: {e}"))
        }
        RecoveryStep::Reconnect => Err(format!(
            "{name}: a local controller has no session to reconnect"
        )),
    }
}
