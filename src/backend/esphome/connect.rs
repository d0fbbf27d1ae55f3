//! Opening connections through a proxy (the radio's `connect`) and proxy-level device
//! requests (clearing the proxy's service cache).
//!
//! Owns the connect decision: always a v3 connect, with the proxy's remote service cache when
//! the caller has the services (`ConnectRequest::cached_services`) and without it otherwise,
//! refused up front when the proxy is down or cannot connect. Owns the cancel rules too: a
//! connect that times out sends `AbandonConnect`, and one whose future is dropped leaves a
//! closed reply channel that the router prunes; either way the half-made connection is
//! released so no slot leaks.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

use super::api::{feature, request_type};
use super::link::EsphomeLink;
use super::protocol::Command;
use super::protocol::{Expect, Reply};
use super::request::{ask, device_request, esp, session_gone};
use super::shared::Shared;
use crate::backend::{ConnectRequest, Connection, Failure, FailureSource, FailureStage};
use crate::model::{Address, AddressKind, GattTable};

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
    let (events_tx, events_rx) = crate::backend::link_events();
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
    let link = EsphomeLink::new(
        request.address,
        mtu,
        generation,
        status.features,
        request_timeout,
        commands.clone(),
        table,
    );
    Ok(Connection {
        link: Box::new(link),
        events: events_rx,
    })
}

/// Asks the proxy to forget its cached services for a device (proxies with `CACHE_CLEARING`),
/// so the next connect with cache discovers afresh.
pub(crate) async fn clear_cache(
    shared: &Shared,
    commands: &mpsc::UnboundedSender<Command>,
    address: Address,
    request_timeout: Duration,
) -> Result<(), Failure> {
    let status = shared.status();
    if !status.up {
        let reason = format!("the proxy is not connected: {}", status.down_reason);
        return Err(esp(FailureStage::Gatt, reason));
    }
    if status.features & feature::CACHE_CLEARING == 0 {
        let text = "the proxy cannot clear its service cache (no CACHE_CLEARING feature)";
        return Err(esp(FailureStage::Gatt, text));
    }
    let key = address.to_u64();
    let message = device_request(key, request_type::CLEAR_CACHE, AddressKind::Public);
    let expect = Expect::ClearCache { address: key };
    let answer = ask(commands, None, message, Some(expect), FailureStage::Gatt).await?;
    match timeout(request_timeout, answer).await {
        Ok(Ok(result)) => result.map(drop),
        Ok(Err(_)) => Err(session_gone(FailureStage::Gatt)),
        Err(_) => Err(Failure::timeout(
            FailureSource::Esphome,
            FailureStage::Gatt,
            request_timeout,
        )),
    }
}
