//! The live page and the report: what the radios, slots, attempts and devices did, over time.
//!
//! - [`journal`]: the sans-IO model — fleet samples and adverts in, view rows and deltas out.
//! - [`views`]: the rows the JSON API, the SSE stream and the page share.
//! - `server` (feature `web`): the axum shell (`/`, `/api/*`, `/api/events`), on a thread of
//!   its own.
//! - [`report`]: the same journal drawn as a self-contained `report.html` of SVG pictures.
//!
//! A driver (the demo, the hub daemon) owns the fleet: it samples it into the journal and
//! carries out the [`Command`]s the page sends, so the page never touches the fleet itself.

pub mod journal;
pub mod report;
#[cfg(feature = "web")]
#[cfg_attr(docsrs, doc(cfg(feature = "web")))]
pub mod server;
pub mod views;

pub use journal::Journal;
#[cfg(feature = "web")]
#[cfg_attr(docsrs, doc(cfg(feature = "web")))]
pub use server::WebServer;

use crate::model::Address;

/// What the page may ask of the driver, when the config allows commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Take a simulated radio down.
    RadioDown(String),
    /// Bring a simulated radio back up.
    RadioUp(String),
    /// Disconnect a device (a kept-connected one reconnects).
    Disconnect(Address),
}
