//! One connection through a proxy: [`EsphomeLink`] (made by `connect.rs`).
//!
//! Owns the link's GATT table (the cached one, or the one
//! discovered once: the firmware frees its copy after sending it), and the GATT operations.
//! Notify is two steps on v3 proxies: register with the proxy, then write the CCCD ourselves
//! (`01 00` for notify, `02 00` for indicate-only), undoing the registration if the write fails.
//!
//! Requests go to the session task as [`Command`]s; answers come back on a oneshot with the
//! configured timeout. A link dropped while open releases its slot.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::api::gatt::{HandleData, HandleRequest, NotifyRequest, WriteRequest};
use super::api::{feature, id, request_type, Outgoing};
use super::protocol::Command;
use super::protocol::{Expect, Reply};
use super::request::{ask, device_request, esp, session_gone};
use super::services::to_table;
use crate::backend::{Failure, FailureSource, FailureStage, Link, WriteMode};
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

impl EsphomeLink {
    /// A link for a connection the proxy just confirmed.
    pub(crate) fn new(
        address: Address,
        mtu: u16,
        generation: u64,
        features: u32,
        request_timeout: Duration,
        commands: mpsc::UnboundedSender<Command>,
        cached: Option<GattTable>,
    ) -> Self {
        Self {
            address,
            mtu,
            generation,
            features,
            request_timeout,
            commands,
            table: Mutex::new(cached),
        }
    }

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

    /// A read of a characteristic or a descriptor: both are answered with the handle's data.
    async fn read_handle(&self, message_type: u16, handle: u16) -> Result<Bytes, Failure> {
        let message = self.handle_request(message_type, handle);
        let expect = Expect::Read {
            address: self.key(),
            handle,
        };
        match self.request(message, Some(expect)).await? {
            Reply::Data(data) => Ok(data),
            other => Err(esp(
                FailureStage::Gatt,
                format!("unexpected answer to read: {other:?}"),
            )),
        }
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
        self.read_handle(id::READ_REQUEST, handle).await
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
        self.read_handle(id::READ_DESCRIPTOR_REQUEST, handle).await
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
                let notify = props.contains(CharProps::NOTIFY);
                let value: &'static [u8] = if notify { &[1, 0] } else { &[2, 0] };
                self.write_descriptor(cccd.handle, Bytes::from_static(value)).await
            }
            None => Err(esp(
                FailureStage::Gatt,
                format!("characteristic 0x{handle:04x} has no client characteristic configuration descriptor"),
            )),
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
