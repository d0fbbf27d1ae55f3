//! One connection through a proxy: [`EsphomeLink`], and [`open`], the v3 connect that makes it.
//!
//! Owns the connect decision (with the remote service cache when the caller has the services
//! and the proxy can cache, else without), the link's GATT table (the cached one, or the one
//! discovered once: the firmware frees its copy after sending it), and the GATT operations.
//! Notify is two steps on v3 proxies: register with the proxy, then write the CCCD ourselves
//! (`01 00` for notify, `02 00` for indicate-only), undoing the registration if the write fails.
//!
//! Requests go to the session task as [`Command`]s; answers come back on a oneshot with the
//! configured timeout. A link dropped while open releases its slot; a connect that times out
//! or is cancelled releases the half-made connection.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, Instant};
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::api::gatt::{HandleData, HandleRequest, NotifyRequest, WriteRequest};
use super::api::{feature, id, request_type, Outgoing};
use super::router::{device_request, Expect, Reply};
use super::services::to_table;
use super::session::Command;
use super::shared::Shared;
use crate::backend::{
    ConnectRequest, Connection, Failure, FailureSource, FailureStage, Link, WriteMode,
};
use crate::model::uuid::uuid_from_u16;
use crate::model::{Address, CharProps, GattTable};

/// Client Characteristic Configuration descriptor.
const CCCD: u16 = 0x2902;

/// An open connection through an ESPHome proxy.
#[derive(Debug)]
pub struct EsphomeLink {
    address: Address,
    mtu: u16,
    generation: u64,
    features: u32,
    request_timeout: Duration,
    commands: mpsc::UnboundedSender<Command>,
    /// The cached table handed to `connect`, or the one discovered on this link.
    table: Mutex<Option<GattTable>>,
}

fn esp(stage: FailureStage, text: impl Into<String>) -> Failure {
    Failure::new(FailureSource::Esphome, stage, text)
}

fn session_gone(stage: FailureStage) -> Failure {
    esp(stage, "the proxy session task has stopped")
}

/// Sends a command and waits for its answer.
async fn ask(
    commands: &mpsc::UnboundedSender<Command>,
    generation: Option<u64>,
    message: Outgoing,
    expect: Option<Expect>,
    stage: FailureStage,
) -> Result<oneshot::Receiver<Result<Reply, Failure>>, Failure> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(Command::Request {
            generation,
            message,
            expect,
            reply,
        })
        .map_err(|_| session_gone(stage))?;
    Ok(answer)
}

/// Opens a connection (the radio's `connect`).
pub(crate) async fn open(
    shared: &Shared,
    commands: &mpsc::UnboundedSender<Command>,
    request: ConnectRequest,
    request_timeout: Duration,
) -> Result<Connection, Failure> {
    let status = shared.status();
    let refuse = |text: String| Err(esp(FailureStage::Connect, text));
    if !status.up {
        return refuse(format!(
            "the proxy is not connected: {}",
            status.down_reason
        ));
    }
    if status.features & feature::ACTIVE_CONNECTIONS == 0 {
        return refuse(
            "the proxy does not accept connections (bluetooth_proxy: active: false)".into(),
        );
    }
    if status.features & feature::REMOTE_CACHING == 0 {
        return refuse("the proxy's firmware is too old for v3 connections: update ESPHome".into());
    }
    let address = request.address.to_u64();
    let kind = if request.cached_services.is_some() {
        request_type::CONNECT_V3_WITH_CACHE
    } else {
        request_type::CONNECT_V3_WITHOUT_CACHE
    };
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let message = device_request(address, kind, request.address_kind);
    let expect = Expect::Connect {
        address,
        events: events_tx,
    };
    let answer = ask(commands, None, message, Some(expect), FailureStage::Connect).await?;
    let (mtu, generation) = match timeout(request.timeout, answer).await {
        Ok(Ok(Ok(Reply::Connected { mtu, generation }))) => (mtu, generation),
        Ok(Ok(Ok(other))) => return refuse(format!("unexpected answer to connect: {other:?}")),
        Ok(Ok(Err(failure))) => return Err(failure),
        Ok(Err(_)) => return Err(session_gone(FailureStage::Connect)),
        Err(_) => {
            let _ = commands.send(Command::AbandonConnect { address });
            let mut failure = Failure::timeout(
                FailureSource::Esphome,
                FailureStage::Connect,
                request.timeout,
            );
            failure.text = format!(
                "no connect answer from the proxy for {} within {:?}",
                request.address, request.timeout
            );
            return Err(failure.with_elapsed(started.elapsed()));
        }
    };
    let table = request.cached_services.map(|cached| GattTable {
        mtu,
        ..(*cached).clone()
    });
    let link = EsphomeLink {
        address: request.address,
        mtu,
        generation,
        features: status.features,
        request_timeout,
        commands: commands.clone(),
        table: Mutex::new(table),
    };
    Ok(Connection {
        link: Box::new(link),
        events: UnboundedReceiverStream::new(events_rx).boxed(),
    })
}

impl EsphomeLink {
    fn table(&self) -> Option<GattTable> {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends a GATT request and waits for its answer (or just sends, with `expect: None`).
    async fn request(&self, message: Outgoing, expect: Option<Expect>) -> Result<Reply, Failure> {
        let answer = ask(
            &self.commands,
            Some(self.generation),
            message,
            expect,
            FailureStage::Gatt,
        )
        .await?;
        match timeout(self.request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(session_gone(FailureStage::Gatt)),
            Err(_) => Err(Failure::timeout(
                FailureSource::Esphome,
                FailureStage::Gatt,
                self.request_timeout,
            )),
        }
    }

    fn key(&self) -> u64 {
        self.address.to_u64()
    }

    fn handle_request(&self, message_type: u16, handle: u16) -> Outgoing {
        let request = HandleRequest {
            address: self.key(),
            handle: u32::from(handle),
        };
        Outgoing::new(message_type, &request)
    }

    async fn register_notify(&self, handle: u16, enable: bool) -> Result<(), Failure> {
        let request = NotifyRequest {
            address: self.key(),
            handle: u32::from(handle),
            enable,
        };
        let expect = Expect::Notify {
            address: self.key(),
            handle,
        };
        self.request(Outgoing::new(id::NOTIFY_REQUEST, &request), Some(expect))
            .await
            .map(drop)
    }

    /// Asks the proxy to forget its cached services for this device (`CACHE_CLEARING`
    /// proxies), and forgets this link's copy.
    pub async fn clear_cache(&self) -> Result<(), Failure> {
        *self.table.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if self.features & feature::CACHE_CLEARING == 0 {
            return Err(esp(
                FailureStage::Gatt,
                "the proxy cannot clear its service cache (no CACHE_CLEARING feature)",
            ));
        }
        let message = device_request(
            self.key(),
            request_type::CLEAR_CACHE,
            crate::model::AddressKind::Public,
        );
        self.request(
            message,
            Some(Expect::ClearCache {
                address: self.key(),
            }),
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl Link for EsphomeLink {
    fn address(&self) -> Address {
        self.address
    }

    fn mtu(&self) -> u16 {
        self.mtu
    }

    async fn services(&self) -> Result<GattTable, Failure> {
        if let Some(table) = self.table() {
            return Ok(table);
        }
        let message = self.handle_request(id::GET_SERVICES_REQUEST, 0);
        let Reply::Services(services) = self
            .request(
                message,
                Some(Expect::Services {
                    address: self.key(),
                }),
            )
            .await?
        else {
            return Err(esp(
                FailureStage::Gatt,
                "unexpected answer to service discovery",
            ));
        };
        if services.is_empty() {
            return Err(esp(
                FailureStage::Gatt,
                format!("the proxy returned no services for {}", self.address),
            ));
        }
        let table = to_table(&services, self.mtu)?;
        *self.table.lock().unwrap_or_else(PoisonError::into_inner) = Some(table.clone());
        Ok(table)
    }

    async fn read(&self, handle: u16) -> Result<Bytes, Failure> {
        let message = self.handle_request(id::READ_REQUEST, handle);
        match self
            .request(
                message,
                Some(Expect::Read {
                    address: self.key(),
                    handle,
                }),
            )
            .await?
        {
            Reply::Data(data) => Ok(data),
            other => Err(esp(
                FailureStage::Gatt,
                format!("unexpected answer to read: {other:?}"),
            )),
        }
    }

    async fn write(&self, handle: u16, value: Bytes, mode: WriteMode) -> Result<(), Failure> {
        let response = mode == WriteMode::WithResponse;
        let request = WriteRequest {
            address: self.key(),
            handle: u32::from(handle),
            response,
            data: value,
        };
        let expect = response.then_some(Expect::Write {
            address: self.key(),
            handle,
        });
        self.request(Outgoing::new(id::WRITE_REQUEST, &request), expect)
            .await
            .map(drop)
    }

    async fn read_descriptor(&self, handle: u16) -> Result<Bytes, Failure> {
        let message = self.handle_request(id::READ_DESCRIPTOR_REQUEST, handle);
        match self
            .request(
                message,
                Some(Expect::Read {
                    address: self.key(),
                    handle,
                }),
            )
            .await?
        {
            Reply::Data(data) => Ok(data),
            other => Err(esp(
                FailureStage::Gatt,
                format!("unexpected answer to read: {other:?}"),
            )),
        }
    }

    async fn write_descriptor(&self, handle: u16, value: Bytes) -> Result<(), Failure> {
        let request = HandleData {
            address: self.key(),
            handle: u32::from(handle),
            data: value,
        };
        let expect = Expect::Write {
            address: self.key(),
            handle,
        };
        self.request(
            Outgoing::new(id::WRITE_DESCRIPTOR_REQUEST, &request),
            Some(expect),
        )
        .await
        .map(drop)
    }

    async fn set_notify(&self, handle: u16, enable: bool) -> Result<(), Failure> {
        let table = self.services().await?;
        let characteristic = table.characteristic_by_handle(handle).ok_or_else(|| {
            esp(
                FailureStage::Gatt,
                format!(
                    "{} has no characteristic with value handle 0x{handle:04x}",
                    self.address
                ),
            )
        })?;
        let props = characteristic.properties;
        if enable && !props.contains(CharProps::NOTIFY) && !props.contains(CharProps::INDICATE) {
            return Err(esp(
                FailureStage::Gatt,
                format!("characteristic 0x{handle:04x} can neither notify nor indicate"),
            ));
        }
        self.register_notify(handle, enable).await?;
        if !enable || self.features & feature::REMOTE_CACHING == 0 {
            return Ok(());
        }
        // v3 proxies do not write the CCCD: without it the peripheral sends nothing.
        let cccd = characteristic
            .descriptors
            .iter()
            .find(|d| d.uuid == uuid_from_u16(CCCD));
        let written = match cccd {
            Some(cccd) => {
                let value: &'static [u8] = if props.contains(CharProps::NOTIFY) { &[1, 0] } else { &[2, 0] };
                self.write_descriptor(cccd.handle, Bytes::from_static(value)).await
            }
            None => Err(esp(FailureStage::Gatt, format!("characteristic 0x{handle:04x} has no client characteristic configuration descriptor"))),
        };
        if written.is_err() {
            let _ = self.register_notify(handle, false).await;
        }
        written
    }

    async fn disconnect(&self) -> Result<(), Failure> {
        let message = device_request(
            self.key(),
            request_type::DISCONNECT,
            crate::model::AddressKind::Public,
        );
        self.request(
            message,
            Some(Expect::Disconnect {
                address: self.key(),
            }),
        )
        .await
        .map(drop)
    }
}

impl Drop for EsphomeLink {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Release {
            address: self.key(),
            generation: self.generation,
        });
    }
}
