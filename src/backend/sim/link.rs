//! [`SimLink`]: one simulated connection, implementing [`Link`].
//!
//! Owns the GATT operations and their virtual cost: discovery costs `discovery_requests`
//! round trips of one connection interval each (skipped when the connect request carried a
//! cached table that matches the device, and run again after the device changed its table),
//! reads, writes with response, descriptor operations
//! and notify changes cost one round trip, writes without response cost none. Refusals are ATT
//! errors with `att_status` in the radio's own words (`faults::att`).
//!
//! Dropping rule: a `SimLink` dropped without `disconnect()` is ended by the radio one
//! supervision timeout later (the device's, default 420 ms), as real radios notice a silent
//! link; the slot comes back then, with `Disconnected { LinkLost }` on the event stream if
//! anyone still reads it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::faults;
use super::state::{Notifying, Shared};
use super::world::Attribute;
use crate::backend::{DisconnectCause, Failure, Link, RadioKind, WriteMode};
use crate::model::{Address, CharProps, GattTable};

/// One open simulated connection.
#[derive(Debug)]
pub struct SimLink {
    shared: Arc<Shared>,
    id: u64,
    device: usize,
    radio: usize,
    cached: Option<Arc<GattTable>>,
    /// The device's GATT version (plus one) that discovery ran on or the cache was accepted
    /// for (0: neither yet): `services()` calls for that version are free.
    discovered: AtomicU64,
    /// Set by `disconnect()`, so dropping does not schedule a supervision timeout.
    closed: AtomicBool,
}

/// What an operation does to an attribute once its round trip is over.
enum Op {
    Read,
    Write(Bytes),
}

impl SimLink {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: u64,
        device: usize,
        radio: usize,
        cached: Option<Arc<GattTable>>,
    ) -> Self {
        Self {
            shared,
            id,
            device,
            radio,
            cached,
            discovered: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn kind(&self) -> RadioKind {
        self.shared.radio_kind(self.radio)
    }

    fn interval(&self) -> Duration {
        self.shared
            .world
            .devices
            .get(self.device)
            .map_or(Duration::from_millis(30), |d| d.connection_interval)
    }

    fn is_open(&self) -> bool {
        self.shared.lock().links.contains_key(&self.id)
    }

    /// Waits `round_trips` connection intervals, then checks the link survived.
    async fn round_trips(&self, round_trips: u32) -> Result<(), Failure> {
        if !self.is_open() {
            return Err(faults::not_connected(self.kind()));
        }
        tokio::time::sleep(self.interval() * round_trips).await;
        if !self.is_open() {
            return Err(faults::not_connected(self.kind()));
        }
        Ok(())
    }

    /// What `handle` is in the table the device serves now.
    fn attribute(&self, handle: u16) -> Option<Attribute> {
        let state = self.shared.lock();
        state
            .devices
            .get(self.device)?
            .layout
            .attributes
            .get(&handle)
            .cloned()
    }

    /// The table the device serves now, and its version.
    fn served(&self) -> Option<(std::sync::Arc<super::world::GattLayout>, u64)> {
        let state = self.shared.lock();
        let d = state.devices.get(self.device)?;
        Some((std::sync::Arc::clone(&d.layout), d.gatt_version))
    }

    /// One acknowledged attribute operation: permission check, one round trip, apply.
    async fn attribute_op(
        &self,
        handle: u16,
        op: Op,
        needed: Option<CharProps>,
    ) -> Result<Bytes, Failure> {
        let kind = self.kind();
        let refusal = match (self.attribute(handle), &op, needed) {
            (None, ..) => Some(0x01),
            (Some(Attribute::Value { properties, .. }), _, Some(needed))
                if !properties.contains(needed) =>
            {
                Some(if matches!(op, Op::Read) { 0x02 } else { 0x03 })
            }
            _ => None,
        };
        self.round_trips(1).await?;
        self.count_gatt_round_trip();
        if let Some(status) = refusal {
            return Err(faults::att(kind, status));
        }
        let mut state = self.shared.lock();
        let forced = state
            .devices
            .get_mut(self.device)
            .and_then(|d| d.forced_gatt.pop_front());
        if let Some(status) = forced {
            return Err(faults::att(kind, status));
        }
        let values = state.devices.get_mut(self.device).map(|d| &mut d.values);
        match (op, values) {
            (Op::Read, Some(values)) => Ok(values
                .get(&handle)
                .cloned()
                .map(Bytes::from)
                .unwrap_or_default()),
            (Op::Write(value), Some(values)) => {
                values.insert(handle, value.to_vec());
                Ok(Bytes::new())
            }
            (_, None) => Err(faults::not_connected(kind)),
        }
    }

    fn count_gatt_round_trip(&self) {
        if let Some(d) = self.shared.lock().devices.get_mut(self.device) {
            d.stats.gatt_round_trips += 1;
        }
    }

    /// Starts or stops the generator of the characteristic whose CCCD was written.
    fn apply_cccd(&self, characteristic: u16, value: &[u8]) {
        let enable = value.first().is_some_and(|b| b & 0x03 != 0);
        let generator = match self.attribute(characteristic) {
            Some(Attribute::Value { generator, .. }) => generator,
            _ => None,
        };
        let mut state = self.shared.lock();
        let Some(link) = state.links.get_mut(&self.id) else {
            return;
        };
        match (enable, generator) {
            (true, Some(generator)) => {
                let next_due = tokio::time::Instant::now() + generator.every;
                link.notifying.entry(characteristic).or_insert(Notifying {
                    generator,
                    next_due,
                    step: 0,
                });
            }
            _ => {
                link.notifying.remove(&characteristic);
            }
        }
        link.wake.notify_one();
    }
}

#[async_trait]
impl Link for SimLink {
    fn address(&self) -> Address {
        self.shared
            .world
            .devices
            .get(self.device)
            .map(|d| d.address)
            .unwrap_or_else(|| Address::new([0; 6]))
    }

    fn mtu(&self) -> u16 {
        self.shared
            .world
            .devices
            .get(self.device)
            .map_or(23, |d| d.mtu)
    }

    async fn services(&self) -> Result<GattTable, Failure> {
        let Some((layout, version)) = self.served() else {
            return Err(faults::not_connected(self.kind()));
        };
        let mark = version + 1;
        let cache_matches = self
            .cached
            .as_deref()
            .is_some_and(|cached| cached.services == layout.table.services);
        if !self.is_open() {
            return Err(faults::not_connected(self.kind()));
        }
        let seen = self.discovered.load(Ordering::Relaxed);
        if seen == mark {
            return Ok(layout.table.clone());
        }
        if seen == 0 && cache_matches {
            self.discovered.store(mark, Ordering::Relaxed);
            if let Some(d) = self.shared.lock().devices.get_mut(self.device) {
                d.stats.cache_hits += 1;
            }
            return Ok(layout.table.clone());
        }
        let requests = self
            .shared
            .world
            .devices
            .get(self.device)
            .map_or(25, |d| d.discovery_requests);
        self.round_trips(requests).await?;
        if let Some(d) = self.shared.lock().devices.get_mut(self.device) {
            d.stats.discoveries += 1;
            d.stats.discovery_round_trips += u64::from(requests);
        }
        self.discovered.store(mark, Ordering::Relaxed);
        Ok(layout.table.clone())
    }

    async fn read(&self, handle: u16) -> Result<Bytes, Failure> {
        match self.attribute(handle) {
            Some(Attribute::Value { .. }) | None => {
                self.attribute_op(handle, Op::Read, Some(CharProps::READ))
                    .await
            }
            Some(Attribute::Descriptor { .. }) => Err(faults::att(self.kind(), 0x01)),
        }
    }

    async fn write(&self, handle: u16, value: Bytes, mode: WriteMode) -> Result<(), Failure> {
        if !matches!(self.attribute(handle), Some(Attribute::Value { .. }) | None) {
            return Err(faults::att(self.kind(), 0x01));
        }
        match mode {
            WriteMode::WithResponse => self
                .attribute_op(handle, Op::Write(value), Some(CharProps::WRITE))
                .await
                .map(drop),
            WriteMode::WithoutResponse => {
                let allowed = matches!(self.attribute(handle),
                    Some(Attribute::Value { properties, .. }) if properties.contains(CharProps::WRITE_WITHOUT_RESPONSE));
                if !self.is_open() {
                    return Err(faults::not_connected(self.kind()));
                }
                if allowed {
                    if let Some(d) = self.shared.lock().devices.get_mut(self.device) {
                        d.values.insert(handle, value.to_vec());
                    }
                }
                // A write command has no answer: a refused one is silently dropped, as on air.
                Ok(())
            }
        }
    }

    async fn read_descriptor(&self, handle: u16) -> Result<Bytes, Failure> {
        match self.attribute(handle) {
            Some(Attribute::Descriptor { .. }) => self.attribute_op(handle, Op::Read, None).await,
            _ => Err(faults::att(self.kind(), 0x01)),
        }
    }

    async fn write_descriptor(&self, handle: u16, value: Bytes) -> Result<(), Failure> {
        let Some(Attribute::Descriptor {
            uuid,
            characteristic,
        }) = self.attribute(handle)
        else {
            return Err(faults::att(self.kind(), 0x01));
        };
        self.attribute_op(handle, Op::Write(value.clone()), None)
            .await?;
        if uuid == super::world::CCCD_UUID {
            self.apply_cccd(characteristic, &value);
        }
        Ok(())
    }

    async fn set_notify(&self, handle: u16, enable: bool) -> Result<(), Failure> {
        let (properties, cccd) = match self.attribute(handle) {
            Some(Attribute::Value {
                properties, cccd, ..
            }) => (properties, cccd),
            _ => return Err(faults::att(self.kind(), 0x01)),
        };
        let value: &[u8] = match (enable, properties.contains(CharProps::NOTIFY)) {
            (false, _) => &[0x00, 0x00],
            (true, true) => &[0x01, 0x00],
            (true, false) => &[0x02, 0x00],
        };
        let notifies =
            properties.contains(CharProps::NOTIFY) || properties.contains(CharProps::INDICATE);
        match cccd {
            Some(cccd) if notifies => {
                self.write_descriptor(cccd, Bytes::copy_from_slice(value))
                    .await
            }
            _ => {
                self.round_trips(1).await?;
                self.count_gatt_round_trip();
                Err(faults::att(self.kind(), 0x03))
            }
        }
    }

    async fn disconnect(&self) -> Result<(), Failure> {
        self.closed.store(true, Ordering::Relaxed);
        let detail = faults::requested_detail(self.kind());
        let mut state = self.shared.lock();
        if !state.links.contains_key(&self.id) {
            if let Some(d) = state.devices.get_mut(self.device) {
                d.stats.disconnects_after_end += 1;
            }
        }
        state.end_link(&self.shared, self.id, DisconnectCause::Requested, detail);
        Ok(())
    }
}

impl Drop for SimLink {
    fn drop(&mut self) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        let shared = self.shared.clone();
        let id = self.id;
        let detail = faults::link_lost_detail(self.kind());
        let timeout = shared
            .world
            .devices
            .get(self.device)
            .map_or(Duration::ZERO, |d| d.supervision_timeout);
        let end = move || {
            shared
                .lock()
                .end_link(&shared, id, DisconnectCause::LinkLost, detail)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(timeout).await;
                    end();
                });
            }
            Err(_) => end(),
        }
    }
}
