//! [`BtleplugLink`]: one open btleplug connection, implementing [`Link`].
//!
//! Operations name characteristics and descriptors by the synthetic handles of
//! [`HandleMap`]; the link looks up btleplug's object and runs the call on the backend's
//! runtime. Every btleplug error becomes a [`Failure`] through `failure.rs`. Descriptor reads
//! and writes go through btleplug's descriptor calls; where a platform lacks one, btleplug
//! says `NotSupported` and the fleet reports `Error::Unsupported`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use btleplug::api::{Peripheral as _, WriteType};
use btleplug::platform::Peripheral;
use bytes::Bytes;
use tokio::sync::Notify;

use super::driver::Driver;
use super::failure::from_btleplug;
use super::gatt::HandleMap;
use crate::backend::{Failure, FailureSource, FailureStage, Link, WriteMode};
use crate::model::{Address, GattTable};

/// One open connection.
#[derive(Debug)]
pub(crate) struct BtleplugLink {
    pub(crate) driver: Driver,
    pub(crate) peripheral: Peripheral,
    pub(crate) address: Address,
    pub(crate) table: GattTable,
    pub(crate) handles: Arc<HandleMap>,
    /// Tells the event task that the user asked to disconnect.
    pub(crate) requested: Arc<Notify>,
    /// Set once `disconnect` was called; a link dropped without it disconnects itself.
    pub(crate) closed: AtomicBool,
}

impl Drop for BtleplugLink {
    /// Nobody can use a dropped link (its device actor stopped or crashed), so it must not keep
    /// holding the controller's connection: disconnect in the background.
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.requested.notify_one();
        let peripheral = self.peripheral.clone();
        self.driver.spawn(async move {
            if let Err(error) = peripheral.disconnect().await {
                tracing::debug!(%error, "disconnecting a dropped btleplug link");
            }
        });
    }
}

fn no_such(what: &str, handle: u16) -> Failure {
    Failure::new(
        FailureSource::Btleplug,
        FailureStage::Gatt,
        format!("no {what} with handle 0x{handle:04x} on this connection"),
    )
}

impl BtleplugLink {
    fn characteristic(&self, handle: u16) -> Result<btleplug::api::Characteristic, Failure> {
        self.handles
            .characteristic(handle)
            .cloned()
            .ok_or_else(|| no_such("characteristic", handle))
    }

    fn descriptor(&self, handle: u16) -> Result<btleplug::api::Descriptor, Failure> {
        self.handles
            .descriptor(handle)
            .cloned()
            .ok_or_else(|| no_such("descriptor", handle))
    }
}

fn gatt_failure(error: btleplug::Error) -> Failure {
    from_btleplug(FailureStage::Gatt, &error)
}

#[async_trait]
impl Link for BtleplugLink {
    fn address(&self) -> Address {
        self.address
    }

    fn mtu(&self) -> u16 {
        self.table.mtu
    }

    async fn services(&self) -> Result<GattTable, Failure> {
        Ok(self.table.clone())
    }

    async fn read(&self, handle: u16) -> Result<Bytes, Failure> {
        let characteristic = self.characteristic(handle)?;
        let peripheral = self.peripheral.clone();
        let reading = async move {
            let value = peripheral
                .read(&characteristic)
                .await
                .map_err(gatt_failure)?;
            Ok(Bytes::from(value))
        };
        self.driver.run(FailureStage::Gatt, reading).await
    }

    async fn write(&self, handle: u16, value: Bytes, mode: WriteMode) -> Result<(), Failure> {
        let characteristic = self.characteristic(handle)?;
        let peripheral = self.peripheral.clone();
        let write_type = match mode {
            WriteMode::WithResponse => WriteType::WithResponse,
            WriteMode::WithoutResponse => WriteType::WithoutResponse,
        };
        let writing = async move {
            peripheral
                .write(&characteristic, &value, write_type)
                .await
                .map_err(gatt_failure)
        };
        self.driver.run(FailureStage::Gatt, writing).await
    }

    async fn read_descriptor(&self, handle: u16) -> Result<Bytes, Failure> {
        let descriptor = self.descriptor(handle)?;
        let peripheral = self.peripheral.clone();
        let reading = async move {
            let value = peripheral
                .read_descriptor(&descriptor)
                .await
                .map_err(gatt_failure)?;
            Ok(Bytes::from(value))
        };
        self.driver.run(FailureStage::Gatt, reading).await
    }

    async fn write_descriptor(&self, handle: u16, value: Bytes) -> Result<(), Failure> {
        let descriptor = self.descriptor(handle)?;
        let peripheral = self.peripheral.clone();
        let writing = async move {
            peripheral
                .write_descriptor(&descriptor, &value)
                .await
                .map_err(gatt_failure)
        };
        self.driver.run(FailureStage::Gatt, writing).await
    }

    async fn set_notify(&self, handle: u16, enable: bool) -> Result<(), Failure> {
        let characteristic = self.characteristic(handle)?;
        let peripheral = self.peripheral.clone();
        let switching = async move {
            let result = if enable {
                peripheral.subscribe(&characteristic).await
            } else {
                peripheral.unsubscribe(&characteristic).await
            };
            result.map_err(gatt_failure)
        };
        self.driver.run(FailureStage::Gatt, switching).await
    }

    async fn disconnect(&self) -> Result<(), Failure> {
        self.closed.store(true, Ordering::Release);
        self.requested.notify_one();
        let peripheral = self.peripheral.clone();
        let closing = async move {
            peripheral
                .disconnect()
                .await
                .map_err(|error| from_btleplug(FailureStage::Link, &error))
        };
        self.driver.run(FailureStage::Link, closing).await
    }
}
