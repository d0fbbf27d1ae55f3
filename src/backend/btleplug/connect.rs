//! Opening a btleplug connection: find the peripheral, connect within the deadline, discover
//! services, number them, and start the link's event task.
//!
//! The attempt runs as one task on the backend's runtime. The adapter's shared watch and the
//! peripheral's notifications are subscribed *before* connecting, so a link that drops during
//! discovery is still reported. Every failure after the connect succeeded disconnects first,
//! and [`Teardown`] does the same if the caller drops the `connect` future half-way (the
//! cancel-safety rule of `backend/mod.rs`): no attempt leaves the controller holding a link.

use std::sync::Arc;
use std::time::Duration;

use btleplug::api::{Central, Peripheral as _};
use btleplug::platform::{Adapter, Peripheral};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::{timeout, Instant};

use super::advert::address_of;
use super::driver::Driver;
use super::failure::from_btleplug;
use super::gatt::HandleMap;
use super::link::BtleplugLink;
use super::link_events::{forward, LinkWatch};
use super::scan::KnownPeripherals;
use super::watch::AdapterWatch;
use crate::backend::{ConnectRequest, Connection, Failure, FailureSource, FailureStage};
use crate::model::Address;

/// What an attempt needs from its radio.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    pub driver: Driver,
    pub adapter: Adapter,
    pub known: KnownPeripherals,
    pub watch: Arc<AdapterWatch>,
}

/// Runs one connection attempt; cancel-safe.
pub(crate) async fn open(attempt: Attempt, request: ConnectRequest) -> Result<Connection, Failure> {
    let task = attempt
        .driver
        .spawn(establish(attempt.clone(), request.address, request.timeout));
    let mut teardown = Teardown {
        attempt: Some(attempt),
        address: request.address,
        task: task.abort_handle(),
    };
    let outcome = task.await;
    teardown.attempt = None;
    outcome.map_err(|join| {
        Failure::new(
            FailureSource::Btleplug,
            FailureStage::Connect,
            format!("btleplug connect task ended early: {join}"),
        )
    })?
}

/// Stops a dropped attempt and disconnects whatever it got as far as.
struct Teardown {
    attempt: Option<Attempt>,
    address: Address,
    task: AbortHandle,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        self.task.abort();
        let address = self.address;
        let driver = attempt.driver.clone();
        driver.spawn(async move {
            if let Ok(peripheral) = find(&attempt, address).await {
                let _ = peripheral.disconnect().await;
            }
        });
    }
}

async fn establish(
    attempt: Attempt,
    address: Address,
    deadline: Duration,
) -> Result<Connection, Failure> {
    let started = Instant::now();
    let peripheral = find(&attempt, address).await?;
    let connect_failure = |error: btleplug::Error| {
        from_btleplug(FailureStage::Connect, &error).with_elapsed(started.elapsed())
    };
    let news = attempt
        .watch
        .subscribe(&attempt.driver, &attempt.adapter)
        .await
        .map_err(connect_failure)?;
    let notifications = peripheral.notifications().await.map_err(connect_failure)?;
    match timeout(deadline, peripheral.connect()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(connect_failure(error)),
        Err(_) => {
            let _ = peripheral.disconnect().await;
            return Err(timed_out(deadline));
        }
    }
    let left = deadline.saturating_sub(started.elapsed());
    match timeout(left, peripheral.discover_services()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            let _ = peripheral.disconnect().await;
            return Err(connect_failure(error));
        }
        Err(_) => {
            let _ = peripheral.disconnect().await;
            return Err(timed_out(deadline));
        }
    }
    let (table, handles) = HandleMap::number(&peripheral.services(), peripheral.mtu());
    let handles = Arc::new(handles);
    let requested = Arc::new(Notify::new());
    // Bounded with the other backends' policy: the oldest notification goes first (said with
    // `NotificationsDropped`, counted), `Disconnected` always arrives last.
    let (sender, events) = crate::backend::link_events();
    let watch = LinkWatch {
        peripheral: peripheral.clone(),
        handles: Arc::clone(&handles),
        requested: Arc::clone(&requested),
        notifications,
        news,
    };
    attempt.driver.spawn(forward(watch, sender));
    let link = BtleplugLink {
        driver: attempt.driver,
        peripheral,
        address,
        table,
        handles,
        requested,
        closed: Default::default(),
    };
    Ok(Connection {
        link: Box::new(link),
        events,
    })
}

fn timed_out(deadline: Duration) -> Failure {
    Failure::timeout(FailureSource::Btleplug, FailureStage::Connect, deadline)
}

/// The peripheral with this address: the one the scan saw, else any the adapter knows.
async fn find(attempt: &Attempt, address: Address) -> Result<Peripheral, Failure> {
    let known = attempt.known.get(&address).map(|id| id.value().clone());
    if let Some(id) = known {
        if let Ok(peripheral) = attempt.adapter.peripheral(&id).await {
            return Ok(peripheral);
        }
    }
    let all = attempt
        .adapter
        .peripherals()
        .await
        .map_err(|error| from_btleplug(FailureStage::Connect, &error))?;
    all.into_iter()
        .find(|peripheral| address_of(peripheral.address(), &peripheral.id()).0 == address)
        .ok_or_else(|| Failure {
            name: Some("btleplug.DeviceNotFound".into()),
            ..Failure::new(
                FailureSource::Btleplug,
                FailureStage::Connect,
                format!("device {address} not found: this adapter has not heard it"),
            )
        })
}
