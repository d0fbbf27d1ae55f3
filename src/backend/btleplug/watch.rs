//! [`AdapterWatch`]: one subscription to an adapter's events, shared by all of its links.
//!
//! Each link must hear when its peripheral disconnects, and btleplug reports that only on the
//! adapter's event stream. On Linux every such stream is a D-Bus match whose events cost a
//! BlueZ round trip each (btleplug re-reads the device on every RSSI or advert change), so one
//! stream per link would multiply the D-Bus traffic by the number of links. Instead one task
//! per radio watches the adapter and broadcasts only what links need: a peripheral
//! disconnected, the adapter powered off, or the watch ended. It starts with the first link,
//! stops at the first news no link is left to hear, and the next link starts it again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use btleplug::api::{Central, CentralEvent, CentralState};
use btleplug::platform::{Adapter, PeripheralId};
use futures::StreamExt;
use tokio::sync::{broadcast, Mutex};

use super::driver::Driver;

/// News queued per link; only disconnections and power changes are sent, so a link that
/// falls this far behind has bigger problems (and re-checks its own state, see `link_events`).
const NEWS_QUEUE: usize = 256;

/// What links hear from the shared watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AdapterNews {
    /// This peripheral's link ended.
    Disconnected(PeripheralId),
    /// The adapter powered off: every link through it is gone.
    PoweredOff,
    /// btleplug's adapter event stream ended.
    Ended,
}

#[derive(Debug)]
struct Running {
    sender: broadcast::Sender<AdapterNews>,
    ended: Arc<AtomicBool>,
}

/// The shared watch of one radio.
#[derive(Debug, Default)]
pub(crate) struct AdapterWatch {
    running: Mutex<Option<Running>>,
}

impl AdapterWatch {
    /// A receiver of the adapter's news, starting the watch if it is not running. Subscribe
    /// before connecting, so nothing that happens during the attempt is missed.
    pub(crate) async fn subscribe(
        &self,
        driver: &Driver,
        adapter: &Adapter,
    ) -> Result<broadcast::Receiver<AdapterNews>, btleplug::Error> {
        let mut running = self.running.lock().await;
        if let Some(live) = running
            .as_ref()
            .filter(|r| !r.ended.load(Ordering::Acquire))
        {
            return Ok(live.sender.subscribe());
        }
        let mut events = adapter.events().await?;
        let (sender, receiver) = broadcast::channel(NEWS_QUEUE);
        let ended = Arc::new(AtomicBool::new(false));
        let news = sender.clone();
        let ended_flag = Arc::clone(&ended);
        driver.spawn(async move {
            while let Some(event) = events.next().await {
                let item = match event {
                    CentralEvent::DeviceDisconnected(id) => AdapterNews::Disconnected(id),
                    CentralEvent::StateUpdate(CentralState::PoweredOff) => AdapterNews::PoweredOff,
                    _ => continue,
                };
                if news.send(item).is_err() {
                    break; // no link is listening: stop, the next link starts a new watch
                }
            }
            ended_flag.store(true, Ordering::Release);
            let _ = news.send(AdapterNews::Ended);
        });
        *running = Some(Running { sender, ended });
        Ok(receiver)
    }
}
