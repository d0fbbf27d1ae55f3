//! [`ProxyServer`]: the listeners, one per virtual proxy, and what their sessions share.
//!
//! Aggregate mode opens one listener whose slots are every radio's; per-radio mode opens one
//! per radio (consecutive ports from the one asked, or each its own ephemeral port for port
//! 0), each with its own name and MAC and only that radio's adverts and slots. Either way all
//! sessions share one [`Holds`] registry and the one fleet, so connects stay serialised per
//! radio and the fleet keeps the slot truth.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::connection;
use super::holds::Holds;
use super::identity::{mac_text, Identity};
use super::mdns;
use super::registry::{ProxyDiagnostics, ProxyWatch, Registry};
use super::session::Keepalive;
use super::{ProxyConfig, ProxyError, ProxyMode};
use crate::model::RadioId;
use crate::Fleet;

/// What one listener's sessions share.
#[derive(Debug)]
pub(crate) struct Context {
    pub fleet: Fleet,
    pub identity: Arc<Identity>,
    /// `None`: every radio; else only this one.
    pub radio: Option<RadioId>,
    pub psk: Option<[u8; 32]>,
    pub keepalive: Keepalive,
    pub connect_timeout: Duration,
    pub op_timeout: Duration,
    /// 0 passive, 1 active: what the scanner-state reports say.
    pub scanner_mode: u32,
    pub holds: Arc<Holds>,
    pub registry: Arc<Registry>,
}

impl Context {
    /// Whether adverts of `radio` belong to this proxy.
    pub fn serves(&self, radio: &RadioId) -> bool {
        self.radio.as_ref().is_none_or(|mine| mine == radio)
    }

    /// Free slots on the radios this proxy serves that are up.
    pub fn free_slots(&self) -> u32 {
        let free: usize = self
            .fleet
            .slot_usage()
            .iter()
            .filter(|usage| usage.up && self.serves(&usage.radio))
            .map(|usage| usage.free)
            .sum();
        u32::try_from(free).unwrap_or(u32::MAX)
    }
}

/// One listening virtual proxy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    /// Its node name.
    pub name: String,
    /// Where it listens (the real port when 0 was asked).
    pub address: SocketAddr,
    /// The MAC Home Assistant keys it on.
    pub mac: String,
    /// The radio it stands for (per-radio mode).
    pub radio: Option<RadioId>,
}

/// A running proxy server. Dropping it stops accepting; [`ProxyServer::shutdown`] also says
/// goodbye to every client.
#[derive(Debug)]
pub struct ProxyServer {
    endpoints: Vec<Endpoint>,
    _mdns: Option<mdns::Announcement>,
    registry: Arc<Registry>,
    shutdown: watch::Sender<bool>,
    accept_loops: Vec<JoinHandle<()>>,
}

impl ProxyServer {
    /// Binds every listener and starts serving on the current tokio runtime.
    pub async fn start(fleet: &Fleet, config: &ProxyConfig) -> Result<Self, ProxyError> {
        let holds = Arc::new(Holds::default());
        let registry = Arc::new(Registry::default());
        let (shutdown, _) = watch::channel(false);
        let plan: Vec<(Identity, Option<RadioId>)> = match config.mode {
            ProxyMode::Aggregate => vec![(Identity::new(&config.name), None)],
            ProxyMode::PerRadio => {
                // Asked of the supervisor, so radios still being registered are counted.
                let diagnostics = fleet.diagnostics().await.map_err(ProxyError::Fleet)?;
                let mut radios: Vec<RadioId> =
                    diagnostics.radios.into_iter().map(|r| r.radio).collect();
                radios.sort();
                if radios.is_empty() {
                    return Err(ProxyError::NoRadios);
                }
                radios
                    .into_iter()
                    .map(|radio| {
                        (
                            Identity::new(format!("{}-{radio}", config.name)),
                            Some(radio),
                        )
                    })
                    .collect()
            }
        };
        let mut endpoints = Vec::new();
        let mut records = Vec::new();
        let mut accept_loops = Vec::new();
        for (index, (identity, radio)) in plan.into_iter().enumerate() {
            let mut listen = config.listen;
            if listen.port() != 0 {
                let port = u16::try_from(usize::from(listen.port()) + index)
                    .map_err(|_| ProxyError::PortRange(listen.port()))?;
                listen.set_port(port);
            }
            let listener = TcpListener::bind(listen)
                .await
                .map_err(|err| ProxyError::Bind(listen, err.to_string()))?;
            let address = listener
                .local_addr()
                .map_err(|err| ProxyError::Bind(listen, err.to_string()))?;
            let endpoint = Endpoint {
                name: identity.name.clone(),
                address,
                mac: mac_text(identity.mac),
                radio: radio.clone(),
            };
            if config.mdns {
                let record = mdns::service_info(&endpoint, identity.mac, config.psk.is_some())?;
                records.push((record, address.ip()));
            }
            endpoints.push(endpoint);
            let ctx = Arc::new(Context {
                fleet: fleet.clone(),
                identity: Arc::new(identity),
                radio,
                psk: config.psk,
                keepalive: config.keepalive,
                connect_timeout: config.connect_timeout,
                op_timeout: config.op_timeout,
                scanner_mode: 1,
                holds: Arc::clone(&holds),
                registry: Arc::clone(&registry),
            });
            let stop = shutdown.subscribe();
            accept_loops.push(tokio::spawn(accept_loop(listener, ctx, stop)));
        }
        let mdns = if records.is_empty() {
            None
        } else {
            // Discovery is a convenience: a host without multicast still serves the proxy.
            mdns::announce(records)
                .inspect_err(|err| tracing::warn!("not announced over mDNS: {err}"))
                .ok()
        };
        Ok(Self {
            endpoints,
            _mdns: mdns,
            registry,
            shutdown,
            accept_loops,
        })
    }

    /// The listening proxies.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The clients connected now and the recent refusals.
    pub fn diagnostics(&self) -> ProxyDiagnostics {
        self.registry.snapshot()
    }

    /// A handle on these diagnostics that outlives a borrow of the server.
    pub fn watch(&self) -> ProxyWatch {
        ProxyWatch {
            registry: Arc::clone(&self.registry),
        }
    }

    /// Stops accepting, sends every client a `DisconnectRequest` and releases what they hold.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for handle in &self.accept_loops {
            handle.abort();
        }
        // Give sessions a moment to say goodbye and release their connections.
        for _ in 0..50 {
            if self.registry.snapshot().clients.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for handle in &self.accept_loops {
            handle.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, ctx: Arc<Context>, stop: watch::Receiver<bool>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(connection::serve(
                    stream,
                    peer,
                    Arc::clone(&ctx),
                    stop.clone(),
                ));
            }
            Err(err) => {
                tracing::warn!(proxy = %ctx.identity.name, "accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
