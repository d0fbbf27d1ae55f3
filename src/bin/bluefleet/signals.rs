//! The daemon's signals: SIGTERM and SIGINT stop it cleanly, SIGHUP reloads hub.toml.
//!
//! systemd and Docker stop a service with SIGTERM, a terminal with Ctrl-C (SIGINT); both must
//! end in the same clean shutdown (every device disconnected), and exit 0. SIGHUP is the
//! conventional "re-read your configuration" (`systemctl reload`).

/// What a signal asks the daemon to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Shut down cleanly; the signal's name.
    Stop(&'static str),
    /// Re-read the hub file.
    Reload,
}

/// The signals the daemon listens to, registered once at start.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers the handlers (inside the runtime that will wait for them).
    #[cfg(unix)]
    pub fn register() -> Result<Self, String> {
        use tokio::signal::unix::{signal, SignalKind};
        let register = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot listen for {name}: {e}"))
        };
        Ok(Self {
            term: register(SignalKind::terminate(), "SIGTERM")?,
            int: register(SignalKind::interrupt(), "SIGINT")?,
            hup: register(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// Registers the handlers (Ctrl-C only off Unix).
    #[cfg(not(unix))]
    pub fn register() -> Result<Self, String> {
        Ok(Self {})
    }

    /// Waits for SIGTERM or SIGINT (a server without a file to reload ignores SIGHUP).
    pub async fn stopped(&mut self) {
        while let Request::Reload = self.next().await {}
    }

    /// The next request.
    #[cfg(unix)]
    pub async fn next(&mut self) -> Request {
        tokio::select! {
            biased;
            _ = self.term.recv() => Request::Stop("SIGTERM"),
            _ = self.int.recv() => Request::Stop("SIGINT"),
            _ = self.hup.recv() => Request::Reload,
        }
    }

    /// The next request.
    #[cfg(not(unix))]
    pub async fn next(&mut self) -> Request {
        let _ = tokio::signal::ctrl_c().await;
        Request::Stop("Ctrl-C")
    }
}
