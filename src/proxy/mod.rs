//! `bluefleet proxy`: the fleet served as an ESPHome Bluetooth proxy, so Home Assistant (and
//! anything else built on aioesphomeapi and bleak-esphome) uses every radio's slots through
//! bluefleet's scheduling with no change on its side.
//!
//! The server speaks the native API (plaintext, or Noise with a key) from the device's side:
//! hello, device info, raw advertisements, slot reports, connects, GATT and notifications.
//! Facts about what clients expect: the research notes `shared/research/esphome-proxy.md`
//! §1–§4 and design §9.
//!
//! Flow: `server.rs` listens (one listener in aggregate mode, one per radio in per-radio
//! mode) → `connection.rs` is the IO shell of one client (socket, `transport.rs`, and tasks
//! that run actions against the [`Fleet`](crate::Fleet)) → `session` is the sans-IO protocol
//! core. `identity.rs` says who each virtual proxy is, `failure_words.rs` turns bluefleet's
//! errors into ESP-IDF codes, `holds.rs` shares device connections between clients,
//! `registry.rs` keeps per-client diagnostics, `mdns.rs` announces `_esphomelib._tcp`.

mod config;
mod connection;
mod failure_words;
mod holds;
mod identity;
mod mdns;
mod registry;
mod server;
mod session;
mod transport;

pub use config::{ProxyConfig, ProxyError, ProxyMode};
pub use identity::Identity;
pub use registry::{ClientDiagnostics, ProxyDiagnostics, ProxyWatch, Refusal};
pub use server::{Endpoint, ProxyServer};
pub use session::{Keepalive, SessionSummary};
