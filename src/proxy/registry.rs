//! Diagnostics of a proxy server: every client connected now (address, since, what it
//! subscribed to, the connections it holds, what it asked for) and the last refused
//! handshakes with the client's address.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use serde::Serialize;

use super::holds::ClientId;
use super::session::SessionSummary;
use crate::model::RadioId;

/// How many refusals diagnostics remember.
const REFUSALS_KEPT: usize = 16;

/// One connected client.
#[derive(Clone, Debug, Serialize)]
pub struct ClientDiagnostics {
    /// The session's id.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Which virtual proxy it talks to.
    pub proxy: String,
    /// The radio that proxy stands for (per-radio mode); `None`: every radio.
    pub radio: Option<RadioId>,
    /// When it connected.
    pub since: SystemTime,
    /// Whether the session is encrypted.
    pub encrypted: bool,
    /// Subscriptions, connections and requests.
    #[serde(flatten)]
    pub session: SessionSummary,
}

/// A client turned away at the handshake.
#[derive(Clone, Debug, Serialize)]
pub struct Refusal {
    /// The client's address.
    pub peer: SocketAddr,
    /// Why (wrong key, plaintext client, timeout...).
    pub reason: String,
    /// When.
    pub at: SystemTime,
}

/// What a proxy server's diagnostics show.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProxyDiagnostics {
    /// Clients connected now, by session id.
    pub clients: Vec<ClientDiagnostics>,
    /// The most recent refusals, oldest first.
    pub refused: Vec<Refusal>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: ClientId,
    clients: BTreeMap<ClientId, ClientDiagnostics>,
    refused: VecDeque<Refusal>,
}

/// The live registry, shared by every session of a server.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a client that completed its handshake; returns its session id.
    pub(crate) fn open(
        &self,
        peer: SocketAddr,
        proxy: &str,
        radio: Option<RadioId>,
        encrypted: bool,
    ) -> ClientId {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.clients.insert(
            id,
            ClientDiagnostics {
                id,
                peer,
                proxy: proxy.to_string(),
                radio,
                since: SystemTime::now(),
                encrypted,
                session: SessionSummary::default(),
            },
        );
        id
    }

    pub(crate) fn update(&self, id: ClientId, summary: SessionSummary) {
        if let Some(client) = self.lock().clients.get_mut(&id) {
            client.session = summary;
        }
    }

    pub(crate) fn close(&self, id: ClientId) {
        self.lock().clients.remove(&id);
    }

    pub(crate) fn refused(&self, peer: SocketAddr, reason: String) {
        let mut inner = self.lock();
        if inner.refused.len() == REFUSALS_KEPT {
            inner.refused.pop_front();
        }
        inner.refused.push_back(Refusal {
            peer,
            reason,
            at: SystemTime::now(),
        });
    }

    pub(crate) fn snapshot(&self) -> ProxyDiagnostics {
        let inner = self.lock();
        ProxyDiagnostics {
            clients: inner.clients.values().cloned().collect(),
            refused: inner.refused.iter().cloned().collect(),
        }
    }
}

/// A handle on a running server's diagnostics that other tasks and threads can keep (the
/// live page's sampler, the status lines of `bluefleet proxy`).
#[derive(Clone, Debug)]
pub struct ProxyWatch {
    pub(crate) registry: Arc<Registry>,
}

impl ProxyWatch {
    /// The clients connected now and the recent refusals.
    pub fn diagnostics(&self) -> ProxyDiagnostics {
        self.registry.snapshot()
    }
}
