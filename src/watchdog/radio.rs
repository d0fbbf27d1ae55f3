//! [`WatchedRadio`]: a radio whose event stream runs the watchdog's ladder.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::time::Instant;

use super::ladder::{Ladder, Observed};
use super::RecoveryReport;
use crate::backend::{Radio, RadioEvent, RadioLayer};

/// A radio with a watchdog; everything but the event stream (and the watchdog's report) goes
/// straight to the radio ([`RadioLayer`]).
pub struct WatchedRadio {
    inner: Arc<dyn Radio>,
    /// Shared by every stream `events()` hands out (an adapter actor restart takes a new one).
    ladder: Arc<Mutex<Ladder>>,
}

impl WatchedRadio {
    /// Watches `inner`: recovery starts after `quiet_after` of silence while it is up.
    pub fn new(inner: Arc<dyn Radio>, quiet_after: Duration) -> Self {
        let ladder = Ladder::new(quiet_after, inner.recovery_steps(), Instant::now());
        Self {
            inner,
            ladder: Arc::new(Mutex::new(ladder)),
        }
    }
}

impl fmt::Debug for WatchedRadio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedRadio")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

fn lock(ladder: &Mutex<Ladder>) -> std::sync::MutexGuard<'_, Ladder> {
    ladder.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The state one event stream carries between polls.
struct Watching {
    radio: Arc<dyn Radio>,
    events: BoxStream<'static, RadioEvent>,
    ladder: Arc<Mutex<Ladder>>,
}

impl Watching {
    /// The next event, taking recovery steps while waiting for it when they fall due.
    async fn next(&mut self) -> Option<RadioEvent> {
        loop {
            let deadline = lock(&self.ladder).deadline();
            let due = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                event = self.events.next() => {
                    let event = event?;
                    self.observe(&event);
                    return Some(event);
                }
                () = due => self.step().await,
            }
        }
    }

    fn observe(&self, event: &RadioEvent) {
        if let Observed::Recovered { steps, last } =
            lock(&self.ladder).observe(event, Instant::now())
        {
            tracing::info!(radio = %self.radio.id(), steps, last_step = %last, "radio recovered: adverts again");
        }
    }

    async fn step(&mut self) {
        let now = Instant::now();
        let (step, silent) = {
            let mut ladder = lock(&self.ladder);
            (ladder.due(now), ladder.silent_for(now))
        };
        let Some(step) = step else { return };
        let radio = self.radio.id();
        tracing::warn!(%radio, %step, silent_s = silent.as_secs_f64(), "radio quiet: taking a recovery step");
        let outcome = self.radio.recover(step).await;
        if let Err(error) = &outcome {
            tracing::error!(%radio, %step, %error, "recovery step failed");
        }
        lock(&self.ladder).taken(step, now, silent, outcome.err());
    }
}

impl RadioLayer for WatchedRadio {
    fn inner(&self) -> &Arc<dyn Radio> {
        &self.inner
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let watching = Watching {
            radio: Arc::clone(&self.inner),
            events: self.inner.events(),
            ladder: Arc::clone(&self.ladder),
        };
        stream::unfold(watching, |mut watching| async move {
            let event = watching.next().await?;
            Some((event, watching))
        })
        .boxed()
    }

    fn recovery_report(&self) -> Option<RecoveryReport> {
        Some(lock(&self.ladder).report())
    }
}
