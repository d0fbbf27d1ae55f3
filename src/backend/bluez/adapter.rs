//! [`Adapter`]: what one local controller's radio, event pumps and connect attempts share.
//!
//! Plain data (the bus connection, the adapter's path and name, its configured slot limit, the
//! scan mode) in its own file so the pieces that use it (`scan.rs`, `connect.rs`, `link.rs`,
//! `monitor.rs`, `recovery.rs`) and the radio that owns it (`radio.rs`) depend on it, not on
//! one another.

use std::sync::atomic::AtomicUsize;

use zbus::Connection;

use crate::backend::ScanModeReport;
use crate::model::RadioId;

/// What one adapter needs, shared by the radio, its event pumps and its connect attempts.
#[derive(Debug)]
pub(crate) struct Adapter {
    /// The connection to the bus BlueZ is on.
    pub conn: Connection,
    /// The radio's name: the adapter's last path segment (`hci0`).
    pub id: RadioId,
    /// `/org/bluez/hciN`.
    pub path: String,
    /// Connection slots, from configuration.
    pub slot_limit: usize,
    /// Event pumps running; the last one to end stops discovery.
    pub pumps: AtomicUsize,
    /// The scan mode asked for and the one running (`monitor.rs`, `scan.rs`).
    pub scan: std::sync::Mutex<ScanModeReport>,
}
