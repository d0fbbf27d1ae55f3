//! [`Driver`]: the tokio runtime, on its own thread, where every btleplug call runs.
//!
//! btleplug's Linux backend opens its D-Bus connection with a background task spawned on the
//! runtime that created the `Manager`; if that runtime ends, every later call hangs. A fleet's
//! actors may run on a runtime of their own (or on a paused test clock), so the backend owns
//! one small current-thread runtime on a dedicated thread for as long as any radio or link
//! exists, and runs each btleplug future there. Callers await the result from wherever they
//! are; a join failure becomes a [`Failure`] rather than a panic.

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::backend::{Failure, FailureSource, FailureStage};

/// Stops the runtime's thread when the last clone of the driver goes.
#[derive(Debug)]
struct Shutdown(Option<oneshot::Sender<()>>);

impl Drop for Shutdown {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

/// A handle to the backend's runtime; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Driver {
    handle: Handle,
    _shutdown: Arc<Shutdown>,
}

impl Driver {
    /// Starts the runtime thread.
    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("bluefleet-btleplug".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let _ = stopped.await;
                });
            })?;
        Ok(Self {
            handle,
            _shutdown: Arc::new(Shutdown(Some(stop))),
        })
    }

    /// Starts `future` on the runtime without waiting for it.
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `future` on the runtime and waits for its result.
    pub(crate) async fn run<F, T>(&self, stage: FailureStage, future: F) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, Failure>> + Send + 'static,
        T: Send + 'static,
    {
        self.spawn(future).await.map_err(|join| {
            Failure::new(
                FailureSource::Btleplug,
                stage,
                format!("btleplug task ended early: {join}"),
            )
        })?
    }
}
