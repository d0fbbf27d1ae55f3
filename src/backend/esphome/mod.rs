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
//! runtime that makes it (the adapter actor's), and stops when the radio is dropped.

pub(crate) mod api;
mod config;
mod failure;
pub mod frame;
mod link;
mod noise;
mod router;
mod services;
mod session;
mod shared;
mod transport;

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

pub use config::{ConfigError, EsphomeConfig, DEFAULT_PORT};
pub use link::EsphomeLink;

use crate::backend::{
    ConnectRequest, Connection, Failure, Radio, RadioEvent, RadioInfo, RadioKind,
};
use crate::model::RadioId;
use session::Command;
use shared::Shared;

/// One ESPHome Bluetooth proxy.
#[derive(Debug)]
pub struct EsphomeRadio {
    shared: Arc<Shared>,
    config: EsphomeConfig,
    commands: mpsc::UnboundedSender<Command>,
    /// The receiver until the session task starts and takes it, then the task's handle.
    task: Mutex<TaskState>,
}

#[derive(Debug)]
enum TaskState {
    NotStarted(mpsc::UnboundedReceiver<Command>),
    Running(AbortHandle),
    Unavailable,
}

impl EsphomeRadio {
    /// A radio for this proxy. Nothing connects until the first `events()` or `connect()`.
    pub fn new(config: EsphomeConfig) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        Self {
            shared: Arc::new(Shared::new(RadioId::new(&config.name))),
            config,
            commands,
            task: Mutex::new(TaskState::NotStarted(receiver)),
        }
    }

    /// Starts the session task if it is not running; `false` when there is no tokio runtime.
    fn ensure_started(&self) -> bool {
        let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let TaskState::NotStarted(_) = &*task {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return false;
            };
            let TaskState::NotStarted(receiver) =
                std::mem::replace(&mut *task, TaskState::Unavailable)
            else {
                return false;
            };
            let handle = runtime.spawn(session::run(
                self.shared.clone(),
                self.config.clone(),
                receiver,
            ));
            *task = TaskState::Running(handle.abort_handle());
        }
        matches!(&*task, TaskState::Running(_))
    }
}

impl Drop for EsphomeRadio {
    fn drop(&mut self) {
        if let TaskState::Running(handle) =
            &*self.task.lock().unwrap_or_else(PoisonError::into_inner)
        {
            handle.abort();
        }
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
                crate::backend::FailureSource::Esphome,
                crate::backend::FailureStage::Connect,
                NO_RUNTIME,
            ));
        }
        link::open(
            &self.shared,
            &self.commands,
            request,
            self.config.request_timeout,
        )
        .await
    }
}
