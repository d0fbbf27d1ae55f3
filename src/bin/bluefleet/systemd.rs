//! Telling systemd how the daemon is doing (`Type=notify`): ready, reloading, stopping, and
//! the watchdog keep-alive.
//!
//! Every call is a no-op outside systemd (no `NOTIFY_SOCKET`), so `run` behaves the same in a
//! terminal. The watchdog interval comes from `WATCHDOG_USEC` (`WatchdogSec=` in the unit);
//! the daemon pings at half of it from its main loop, so a wedged loop gets the service
//! restarted.

use std::time::Duration;

/// Says the daemon is up (radios opened, devices managed).
pub fn ready(status: &str) {
    notify(&[Ready, Status(status)]);
}

/// Says a reload started; `reloaded` ends it.
pub fn reloading() {
    notify(&[Reloading]);
}

/// Says a reload ended.
pub fn reloaded(status: &str) {
    notify(&[Ready, Status(status)]);
}

/// Says the daemon is shutting down.
pub fn stopping() {
    notify(&[Stopping]);
}

/// The keep-alive.
pub fn alive() {
    notify(&[Watchdog]);
}

/// How often to send the keep-alive, when systemd asked for one.
pub fn watchdog_interval() -> Option<Duration> {
    watchdog_usec().map(|usec| Duration::from_micros(usec) / 2)
}

#[cfg(unix)]
use sd_notify::NotifyState::{Ready, Reloading, Status, Stopping, Watchdog};

#[cfg(unix)]
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(false, states) {
        tracing::debug!(%error, "systemd notification not sent");
    }
}

#[cfg(unix)]
fn watchdog_usec() -> Option<u64> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then_some(usec)
}

#[cfg(not(unix))]
mod off_unix {
    pub enum State<'a> {
        Ready,
        Reloading,
        Stopping,
        Watchdog,
        Status(&'a str),
    }
}
#[cfg(not(unix))]
use off_unix::State::{Ready, Reloading, Status, Stopping, Watchdog};

#[cfg(not(unix))]
fn notify(_: &[off_unix::State<'_>]) {}

#[cfg(not(unix))]
fn watchdog_usec() -> Option<u64> {
    None
}
