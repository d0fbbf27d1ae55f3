//! The btleplug backend (cargo feature `btleplug`): local adapters on macOS, Windows and Linux.
//!
//! btleplug is the cross-platform path: CoreBluetooth on macOS, WinRT on Windows, and BlueZ
//! through libdbus on Linux (a second Linux path beside the zbus BlueZ backend). This module
//! puts btleplug behind the [`Radio`](crate::backend::Radio) / [`Link`](crate::backend::Link)
//! seam so the same fleet, slots, retries and subscriptions work wherever btleplug does.
//!
//! # Flow
//! - [`BtleplugRadio::discover_all`] lists the adapters (`radio.rs`); `bluefleet scan
//!   --backend btleplug` and hub programs start here, then hand the radios to
//!   [`FleetBuilder::radios`](crate::FleetBuilder::radios).
//! - `scan.rs` turns the adapter's events into `Up`/`Down` and batched adverts (`advert.rs`).
//! - `connect.rs` opens a link: connect with the request's deadline, discover services, number
//!   them with synthetic handles (`gatt.rs`), start the link's event task (`link_events.rs`),
//!   which hears disconnections through the radio's one shared adapter watch (`watch.rs`).
//! - `link.rs` runs GATT operations; `failure.rs` turns btleplug errors into
//!   [`Failure`](crate::Failure)s, digging BlueZ's D-Bus error name out where there is one.
//! - `driver.rs` owns the runtime every btleplug call runs on.
//!
//! What btleplug cannot do is listed in `docs/backends.md`.

mod advert;
mod connect;
mod driver;
mod failure;
mod gatt;
mod link;
mod link_events;
mod radio;
mod scan;
mod watch;

pub use radio::BtleplugRadio;

/// Settings for btleplug radios.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtleplugConfig {
    /// Connections each adapter may hold at once (btleplug cannot ask the controller).
    pub slot_limit: usize,
}

impl Default for BtleplugConfig {
    /// Five slots: a cautious figure for the 5–10 LE links a typical controller manages.
    fn default() -> Self {
        Self { slot_limit: 5 }
    }
}
