//! Where the actors run: the caller's actix System, or one of our own on a background thread.
//!
//! A hub may be an actix program, a plain tokio program, or synchronous code. When the caller
//! is already on an actix arbiter (as tests and the demo are, on a paused clock), the actors
//! start there. Otherwise a thread runs a System for them, and the last `Fleet` clone to go
//! stops it. Handles only send messages and await oneshot replies, so they work from any
//! runtime either way.

use std::sync::Arc;
use std::thread::JoinHandle;

use actix::prelude::*;

use crate::supervisor::Supervisor;

/// Keeps our own actor thread alive while any `Fleet` clone exists.
#[derive(Debug)]
pub(crate) struct OwnSystem {
    system: System,
    thread: Option<JoinHandle<()>>,
}

impl Drop for OwnSystem {
    fn drop(&mut self) {
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the Supervisor where it can run; returns its address and, when we made one, the
/// guard of our own System.
pub(crate) fn start_supervisor(
    make: impl FnOnce() -> Supervisor + Send + 'static,
) -> crate::Result<(Addr<Supervisor>, Option<Arc<OwnSystem>>)> {
    if actix::Arbiter::try_current().is_some() {
        return Ok((make().start(), None));
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("bluefleet-actors".into())
        .spawn(move || {
            let runner = System::new();
            runner.block_on(async move {
                let _ = sender.send((make().start(), System::current()));
            });
            let _ = runner.run();
        })
        .map_err(|e| crate::Error::ActorGone {
            what: format!("actor thread ({e})"),
        })?;
    let (addr, system) = receiver.recv().map_err(|_| crate::Error::ActorGone {
        what: "actor thread".into(),
    })?;
    Ok((
        addr,
        Some(Arc::new(OwnSystem {
            system,
            thread: Some(thread),
        })),
    ))
}
