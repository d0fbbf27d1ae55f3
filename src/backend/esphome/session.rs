//! The task that keeps one proxy connected: handshake, hello, device info, subscriptions,
//! keepalive, and reconnecting with backoff when the proxy reboots or the network drops.
//!
//! Owns the `Command` channel the radio handle and its links talk through, and [`run`], the
//! task itself. Each session gets a fresh `Router` (requests and links of that session only);
//! when a session ends for any reason (the proxy closed, a protocol violation, missed pings)
//! the router tells every link `RadioDown`, the radio reports `Down`, and the task reconnects
//! after a doubling delay, reporting `Up` and a fresh slot report when it is back. Requests that
//! arrive while the proxy is down fail at once with the reason.
//!
//! Gotcha: the firmware answers BLE requests only on the connection that subscribed to
//! advertisements, so every session subscribes before it is reported `Up`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, Instant};

use super::api::bluetooth::{ScannerSetMode, SubscribeAdvertisements};
use super::api::session::{AuthenticationRequest, DisconnectRequest, HelloRequest};
use super::api::{feature, id, Incoming, Outgoing};
use super::config::EsphomeConfig;
use super::protocol::{Command, Reply};
use super::router::{Action, Router};
use super::shared::Shared;
use super::transport::{SessionError, Transport};
use crate::backend::{RadioEvent, ScanMode};

/// The API version bluefleet speaks (>= 1.12 gets 16/32-bit UUIDs in service lists).
const API_VERSION: (u32, u32) = (1, 12);
/// Missed-ping budget: no traffic for this many keepalive periods ends the session.
const KEEPALIVE_MISSES: f64 = 4.5;

/// How a session ended.
enum Ended {
    /// The radio handle is gone: stop for good.
    Stopped,
    /// Reconnect.
    Failed(SessionError),
}

/// Runs until the radio handle is dropped (`stop` resolves).
pub(crate) async fn run(
    shared: Arc<Shared>,
    config: EsphomeConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut delay = config.reconnect_min;
    loop {
        let attempt = tokio::select! {
            attempt = timeout(config.handshake_timeout, start(&config, shared.status().wanted_mode)) => attempt,
            _ = &mut stop => return,
        };
        let reason = match attempt {
            Ok(Ok((transport, features))) => {
                delay = config.reconnect_min;
                let generation = shared.set_up(features);
                tracing::info!(radio = %shared.id, features, "proxy session established");
                let session = Session {
                    shared: &shared,
                    config: &config,
                    generation,
                };
                match session.serve(transport, &mut commands, &mut stop).await {
                    Ended::Stopped => return,
                    Ended::Failed(err) => err.to_string(),
                }
            }
            Ok(Err(err)) => err.to_string(),
            Err(_) => format!(
                "no answer from {}:{} within {:?} (no hello and device info): is the proxy on \
                 and reachable?",
                config.host, config.port, config.handshake_timeout
            ),
        };
        tracing::warn!(radio = %shared.id, %reason, retry_in = ?delay, "proxy session down");
        shared.set_down(reason.clone());
        let retry_at = Instant::now() + delay;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(retry_at) => break,
                _ = &mut stop => return,
                Some(command) = commands.recv() => command.fail(&reason),
            }
        }
        delay = (delay * 2).min(config.reconnect_max);
    }
}

/// Opens the connection and runs hello, device info and the subscriptions. Returns the
/// transport and the proxy's feature flags.
async fn start(
    config: &EsphomeConfig,
    scan_mode: ScanMode,
) -> Result<(Transport, u32), SessionError> {
    let mut transport = Transport::open(config).await?;
    let hello = HelloRequest {
        client_info: "bluefleet".into(),
        api_version_major: API_VERSION.0,
        api_version_minor: API_VERSION.1,
    };
    transport
        .send(&Outgoing::new(id::HELLO_REQUEST, &hello))
        .await?;
    if let Some(password) = config.password() {
        // Pipelined, as the reference client does: old firmware answers only to reject it.
        let auth = AuthenticationRequest {
            password: password.to_string(),
        };
        let auth = Outgoing::new(id::AUTHENTICATION_REQUEST, &auth);
        transport.send(&auth).await?;
    }
    transport
        .send(&Outgoing::empty(id::DEVICE_INFO_REQUEST))
        .await?;
    let mut features = None;
    while features.is_none() {
        let frame = transport.receive().await?;
        match decode(&frame)? {
            Incoming::Hello(hello) if hello.api_version_major > 2 => {
                return Err(SessionError::Protocol(format!(
                    "the proxy speaks API {}.{}, which bluefleet does not understand",
                    hello.api_version_major, hello.api_version_minor
                )));
            }
            Incoming::Hello(hello) => {
                tracing::debug!(name = %hello.name, server = %hello.server_info, "hello")
            }
            Incoming::Authentication(answer) if answer.invalid_password => {
                return Err(SessionError::Protocol(
                    "the proxy rejected the API password".into(),
                ));
            }
            Incoming::DeviceInfo(info) => {
                features = Some(if info.bluetooth_proxy_feature_flags != 0 {
                    info.bluetooth_proxy_feature_flags
                } else {
                    legacy_features(info.legacy_bluetooth_proxy_version)
                });
            }
            Incoming::PingRequest => transport.send(&Outgoing::empty(id::PING_RESPONSE)).await?,
            Incoming::DisconnectRequest => return Err(SessionError::ProxyDisconnected),
            _ => {}
        }
    }
    let features = features.unwrap_or_default();
    if features & feature::RAW_ADVERTISEMENTS == 0 {
        return Err(SessionError::Protocol(
            "the proxy does not forward raw advertisements (no bluetooth_proxy, or ESPHome \
             older than 2022.12): enable bluetooth_proxy or update its firmware"
                .into(),
        ));
    }
    let subscribe = SubscribeAdvertisements { flags: 1 };
    transport
        .send(&Outgoing::new(id::SUBSCRIBE_ADVERTISEMENTS, &subscribe))
        .await?;
    if features & feature::ACTIVE_CONNECTIONS != 0 {
        transport
            .send(&Outgoing::empty(id::SUBSCRIBE_CONNECTIONS_FREE))
            .await?;
    }
    if features & feature::STATE_AND_MODE != 0 {
        transport.send(&set_mode(scan_mode)).await?;
    }
    Ok((transport, features))
}

/// `BluetoothScannerSetModeRequest` for `mode` (the proxy answers with a scanner state).
pub(crate) fn set_mode(mode: ScanMode) -> Outgoing {
    let mode = match mode {
        ScanMode::Passive => 0,
        ScanMode::Active => 1,
    };
    Outgoing::new(id::SCANNER_SET_MODE, &ScannerSetMode { mode })
}

/// Feature flags from the pre-1.9 proxy version number (research notes §2).
fn legacy_features(version: u32) -> u32 {
    [(1, 0b1), (2, 0b10), (3, 0b100), (4, 0b1000), (5, 0b1_0000)]
        .iter()
        .filter(|(min, _)| version >= *min)
        .fold(
            if version >= 1 {
                feature::RAW_ADVERTISEMENTS
            } else {
                0
            },
            |acc, (_, bit)| acc | bit,
        )
}

fn decode(frame: &super::frame::RawFrame) -> Result<Incoming, SessionError> {
    Incoming::decode(frame).map_err(|err| SessionError::Decode {
        message_type: frame.message_type,
        detail: err.to_string(),
    })
}

/// One established session.
struct Session<'a> {
    shared: &'a Shared,
    config: &'a EsphomeConfig,
    generation: u64,
}

impl Session<'_> {
    /// Serves the session until it fails or the radio is dropped.
    async fn serve(
        self,
        mut transport: Transport,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        stop: &mut oneshot::Receiver<()>,
    ) -> Ended {
        let Self {
            shared,
            config,
            generation,
        } = self;
        let mut router = Router::new(shared.id.clone(), generation);
        let mut last_heard = Instant::now();
        let mut keepalive = tokio::time::interval(config.keepalive);
        let dead_after = config.keepalive.mul_f64(KEEPALIVE_MISSES);
        let result: Result<(), SessionError> = loop {
            let actions = tokio::select! {
                frame = transport.receive() => {
                    let message = match frame.and_then(|frame| decode(&frame)) {
                        Ok(message) => message,
                        Err(err) => break Err(err),
                    };
                    last_heard = Instant::now();
                    match message {
                        Incoming::PingRequest => {
                            vec![Action::Send(Outgoing::empty(id::PING_RESPONSE))]
                        }
                        Incoming::DisconnectRequest => {
                            let _ = transport.send(&Outgoing::empty(id::DISCONNECT_RESPONSE)).await;
                            break Err(SessionError::ProxyDisconnected);
                        }
                        other => router.handle(other),
                    }
                }
                _ = &mut *stop => break Ok(()),
                Some(command) = commands.recv() => match command {
                    Command::Reconnect => break Err(SessionError::Recovery),
                    command => execute(&mut router, command),
                },
                _ = keepalive.tick() => {
                    let quiet = last_heard.elapsed();
                    if quiet >= dead_after {
                        let what = format!("no answer to keepalive pings for {quiet:?}");
                        break Err(SessionError::Timeout(what));
                    }
                    if quiet >= config.keepalive {
                        vec![Action::Send(Outgoing::empty(id::PING_REQUEST))]
                    } else {
                        Vec::new()
                    }
                }
            };
            if let Err(err) = perform(shared, &mut transport, actions).await {
                break Err(err);
            }
        };
        match result {
            Ok(()) => {
                router.shutdown("the radio was dropped");
                let goodbye = DisconnectRequest { reason: 0 };
                let _ = timeout(
                    Duration::from_secs(1),
                    transport.send(&Outgoing::new(id::DISCONNECT_REQUEST, &goodbye)),
                )
                .await;
                Ended::Stopped
            }
            Err(err) => {
                router.shutdown(&err.to_string());
                Ended::Failed(err)
            }
        }
    }
}

/// Registers a command with the router; returns what to send.
fn execute(router: &mut Router, command: Command) -> Vec<Action> {
    match command {
        Command::Request {
            generation,
            message,
            expect: Some(expect),
            reply,
        } => {
            if router.expect(generation, expect, reply) {
                vec![Action::Send(message)]
            } else {
                Vec::new()
            }
        }
        Command::Request {
            message,
            expect: None,
            reply,
            ..
        } => {
            let _ = reply.send(Ok(Reply::Done));
            vec![Action::Send(message)]
        }
        Command::AbandonConnect { address } => router.abandon_connect(address),
        Command::RestartScan => vec![
            Action::Send(Outgoing::empty(id::UNSUBSCRIBE_ADVERTISEMENTS)),
            Action::Send(Outgoing::new(
                id::SUBSCRIBE_ADVERTISEMENTS,
                &SubscribeAdvertisements { flags: 1 },
            )),
        ],
        Command::SetScanMode(mode) => vec![Action::Send(set_mode(mode))],
        // `serve` ends the session before a command gets here.
        Command::Reconnect => Vec::new(),
        Command::Release {
            address,
            generation,
        } => router.release(address, generation),
    }
}

async fn perform(
    shared: &Shared,
    transport: &mut Transport,
    actions: Vec<Action>,
) -> Result<(), SessionError> {
    for action in actions {
        match action {
            Action::Send(message) => transport.send(&message).await?,
            Action::Radio(RadioEvent::SlotsReported(report)) => shared.report_slots(report),
            Action::ScannerMode(mode) => shared.scanner_reported(mode),
            Action::Radio(event) => shared.emit(event),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_proxy_versions_map_to_feature_flags() {
        assert_eq!(legacy_features(0), 0);
        assert_eq!(legacy_features(1) & feature::ACTIVE_CONNECTIONS, 0);
        let active = legacy_features(5);
        assert_ne!(active & feature::ACTIVE_CONNECTIONS, 0);
        assert_ne!(active & feature::REMOTE_CACHING, 0);
        assert_ne!(active & feature::CACHE_CLEARING, 0);
    }
}
