//! What `bluefleet proxy` says about its clients while it serves: a line when a client
//! arrives or what it holds or asked changes, one when it leaves, one per refused handshake
//! (`--json`: the same as one JSON object a line). Read from the server's diagnostics once a
//! second, so a busy client costs at most a line a second.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bluefleet::proxy::{ClientDiagnostics, ProxyWatch, Refusal};
use serde_json::json;

/// How often the diagnostics are read.
const EVERY: Duration = Duration::from_secs(1);

/// `hh:mm:ss UTC` of a wall-clock time.
fn utc(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Seconds since the Unix epoch.
pub fn unix_s(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One client in words.
pub fn describe(client: &ClientDiagnostics) -> String {
    let summary = &client.session;
    let mut wants = Vec::new();
    if summary.adverts {
        wants.push("adverts".to_string());
    }
    if summary.slot_reports {
        wants.push("slot reports".to_string());
    }
    let holds = if summary.connections.is_empty() {
        "holds nothing".to_string()
    } else {
        let held: Vec<String> = summary.connections.iter().map(|a| a.to_string()).collect();
        format!("holds {}", held.join(", "))
    };
    let asked: Vec<String> = summary
        .requests
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    format!(
        "client {} on {} since {} ({}{}): {}; {}; asked {}",
        client.peer,
        client.proxy,
        utc(client.since),
        if summary.client_info.is_empty() {
            "no hello yet"
        } else {
            &summary.client_info
        },
        if client.encrypted { ", encrypted" } else { "" },
        if wants.is_empty() {
            "no subscriptions".to_string()
        } else {
            wants.join(" and ")
        },
        holds,
        if asked.is_empty() {
            "nothing".to_string()
        } else {
            asked.join(", ")
        },
    )
}

/// A refusal in words.
fn refusal(refused: &Refusal) -> String {
    format!(
        "refused {} at {}: {}",
        refused.peer,
        utc(refused.at),
        refused.reason
    )
}

/// What was last printed, to print only changes.
#[derive(Default)]
struct Printed {
    /// By session id: its address and its last line.
    clients: BTreeMap<u64, (String, String)>,
    refused: BTreeSet<(String, u128)>,
}

impl Printed {
    /// The lines (or JSON objects) that are new since the last call.
    fn changes(&mut self, watch: &ProxyWatch, as_json: bool) -> Vec<String> {
        let now = watch.diagnostics();
        let mut out = Vec::new();
        let present: BTreeSet<u64> = now.clients.iter().map(|c| c.id).collect();
        let left: Vec<u64> = self
            .clients
            .keys()
            .filter(|id| !present.contains(id))
            .copied()
            .collect();
        for id in left {
            let (peer, _) = self.clients.remove(&id).unwrap_or_default();
            out.push(if as_json {
                json!({"client_left": {"id": id, "peer": peer}}).to_string()
            } else {
                format!("client {peer} left")
            });
        }
        for client in &now.clients {
            let line = describe(client);
            if self.clients.get(&client.id).map(|(_, last)| last) != Some(&line) {
                out.push(if as_json {
                    json!({ "client": client }).to_string()
                } else {
                    line.clone()
                });
                self.clients
                    .insert(client.id, (client.peer.to_string(), line));
            }
        }
        for refused in &now.refused {
            let key = (
                refused.peer.to_string(),
                refused
                    .at
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            if self.refused.insert(key) {
                out.push(if as_json {
                    json!({ "refused": refused }).to_string()
                } else {
                    refusal(refused)
                });
            }
        }
        out
    }
}

/// Prints client changes once a second until the task is dropped.
pub async fn follow(watch: ProxyWatch, as_json: bool) {
    let mut printed = Printed::default();
    let mut every = tokio::time::interval(EVERY);
    loop {
        every.tick().await;
        let lines = printed.changes(&watch, as_json);
        if lines.is_empty() {
            continue;
        }
        let mut stdout = std::io::stdout().lock();
        for line in lines {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }
}
