//! ESPHome Bluetooth proxies as radios: the native API over TCP, plaintext or Noise.
//!
//! Owns [`EsphomeRadio`] (one proxy: its advertisements, its slot reports, connections through
//! it) and re-exports [`EsphomeConfig`] and [`EsphomeLink`]. No Rust crate implements the
//! proxy's behaviour (one subscriber gets every answer, slots reported by the proxy, v3 connects
//! with a remote service cache, CCCDs written by the client, duplicate disconnect notices), so
//! this module speaks the protocol itself on prost and snow. Facts: the research notes
//! `shared/research/esphome-proxy.md`.
//!
//! Flow: `session.rs` runs one task per proxy (connect, handshake, hello, device info,
//! subscriptions, keepalive, reconnect with backoff) over `transport.rs` (`frame.rs` plaintext
//! or `noise.rs` framing) and decodes messages (`api`). `router.rs` matches answers to waiting
//! requests and notifications to links; `link.rs` turns `Link` calls into requests;
//! `failure.rs` names ESP-IDF codes for the classifier. The adapter actor sees only the
//! `Radio` / `Link` traits.
//!
//! Gotcha: the session task starts on the first `events()` or `connect()` call, on the tokio
//! runtime that makes it (the adapter actor's). Dropping the radio stops it: it sends the
//! proxy a `DisconnectRequest`, which makes the firmware drop every BLE link it held for us.

pub(crate) mod api;
/// The plaintext framing, shared with the proxy server (`crate::native_api::frame`).
pub use crate::native_api::frame;
mod config;
mod connect;
mod failure;
mod link;
mod protocol;
mod request;
mod router;
mod services;
mod session;
mod shared;
mod transport;

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::{mpsc, oneshot};

pub use config::{ConfigError, EsphomeConfig, DEFAULT_PORT};
pub use link::EsphomeLink;

use crate::backend::{
    ConnectRequest, Connection, Failure, FailureSource, FailureStage, Radio, RadioEvent, RadioInfo,
    RadioKind, RecoveryStep, ScanMode, ScanModeReport,
};
use crate::model::{Address, RadioId};
use protocol::Command;
use shared::Shared;

/// One ESPHome Bluetooth proxy.
#[derive(Debug)]
pub struct EsphomeRadio {
    shared: Arc<Shared>,
    config: EsphomeConfig,
    commands: mpsc::UnboundedSender<Command>,
    /// What the session task needs, until the first `events()` / `connect()` starts it.
    pending_start: Mutex<Option<(mpsc::UnboundedReceiver<Command>, oneshot::Receiver<()>)>>,
    /// Dropped with the radio: tells the session task to say goodbye to the proxy and stop
    /// (links hold command senders, so the command channel alone would keep it alive).
    _stop: oneshot::Sender<()>,
}

impl EsphomeRadio {
    /// A radio for this proxy. Nothing connects until the first `events()` or `connect()`.
    pub fn new(config: EsphomeConfig) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        Self {
            shared: Arc::new(Shared::new(RadioId::new(&config.name))),
            config,
            commands,
            pending_start: Mutex::new(Some((receiver, stopped))),
            _stop: stop,
        }
    }

    /// Asks the proxy to forget its cached services for `address` (proxies with the
    /// `CACHE_CLEARING` feature), so the next connect with cache rediscovers them. Use it when
    /// a device's cached table turned out to be wrong.
    pub async fn clear_cache(&self, address: Address) -> Result<(), Failure> {
        if !self.ensure_started() {
            return Err(Failure::new(
                FailureSource::Esphome,
                FailureStage::Gatt,
                NO_RUNTIME,
            ));
        }
        connect::clear_cache(
            &self.shared,
            &self.commands,
            address,
            self.config.request_timeout,
        )
        .await
    }

    /// Starts the session task if it is not running; `false` when there is no tokio runtime.
    fn ensure_started(&self) -> bool {
        let mut pending = self
            .pending_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pending.is_some() {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return false;
            };
            if let Some((receiver, stopped)) = pending.take() {
                let task =
                    session::run(self.shared.clone(), self.config.clone(), receiver, stopped);
                runtime.spawn(task);
            }
        }
        true
    }
}

const NO_RUNTIME: &str = "no tokio runtime to run the proxy session on";

#[async_trait]
impl Radio for EsphomeRadio {
    fn id(&self) -> RadioId {
        self.shared.id.clone()
    }

    fn info(&self) -> RadioInfo {
        RadioInfo {
            kind: RadioKind::EsphomeProxy,
            slot_limit: self.shared.status().slot_limit,
            reports_slots: true,
        }
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        if !self.ensure_started() {
            return Shared::unavailable(NO_RUNTIME.into());
        }
        self.shared.subscribe()
    }

    async fn connect(&self, request: ConnectRequest) -> Result<Connection, Failure> {
        if !self.ensure_started() {
            return Err(Failure::new(
                FailureSource::Esphome,
                FailureStage::Connect,
                NO_RUNTIME,
            ));
        }
        connect::open(
            &self.shared,
            &self.commands,
            request,
            self.config.request_timeout,
        )
        .await
    }

    fn recovery_steps(&self) -> Vec<RecoveryStep> {
        vec![RecoveryStep::RestartDiscovery, RecoveryStep::Reconnect]
    }

    /// Remembered for every session (sent after the subscription); sent at once when a
    /// session that can change modes is up.
    fn set_scan_mode(&self, wanted: ScanMode) -> Result<(), String> {
        self.shared.want_mode(wanted);
        let status = self.shared.status();
        if status.up && status.features & api::feature::STATE_AND_MODE != 0 {
            let _ = self.commands.send(Command::SetScanMode(wanted));
        }
        Ok(())
    }

    fn scan_mode(&self) -> Option<ScanModeReport> {
        let status = self.shared.status();
        let note = match status.scanner_mode {
            Some(mode) if mode != status.wanted_mode => {
                Some("the proxy's scanner runs the other mode".to_string())
            }
            Some(_) => None,
            None if !status.up => Some("no session with the proxy".to_string()),
            None if status.features & api::feature::STATE_AND_MODE == 0 => Some(
                "this proxy cannot report or change its scan mode (firmware without scanner \
                 state and mode): it scans as configured"
                    .to_string(),
            ),
            None => Some("the proxy has not reported its scanner mode yet".to_string()),
        };
        Some(ScanModeReport {
            wanted: status.wanted_mode,
            actual: status.scanner_mode,
            note,
        })
    }

    /// Hands the step to the session task (it runs between frames, in order).
    async fn recover(&self, step: RecoveryStep) -> Result<(), String> {
        let command = match step {
            RecoveryStep::RestartDiscovery => Command::RestartScan,
            RecoveryStep::Reconnect => Command::Reconnect,
            RecoveryStep::PowerCycle => {
                return Err(format!(
                    "{}: a proxy cannot be power-cycled from here",
                    self.id()
                ))
            }
        };
        if !self.ensure_started() {
            return Err(NO_RUNTIME.into());
        }
        self.commands
            .send(command)
            .map_err(|_| format!("{}: the proxy session has stopped", self.id()))
    }
}
