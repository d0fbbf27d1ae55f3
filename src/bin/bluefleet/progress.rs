//! A spinner on standard error that says what a command is waiting for (a radio to hear the
//! device, a connection and its services), so a wait of up to a minute does not look hung.
//!
//! It appears only once a wait has lasted a second (short waits stay silent), and only where
//! [`stderr_is_rich`] allows: on a terminal, without `NO_COLOR` or `TERM=dumb`. Pipes, files
//! and journald get nothing extra, so output that scripts parse never changes.

use std::future::Future;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::terminal::stderr_is_rich;

/// A wait shorter than this shows nothing.
const QUIET_FOR: Duration = Duration::from_secs(1);

/// Runs `future`, with a spinner saying `what` while it takes longer than a second.
pub async fn waiting_for<F: Future>(what: &str, future: F) -> F::Output {
    if !stderr_is_rich() {
        return future.await;
    }
    let mut future = std::pin::pin!(future);
    tokio::select! {
        biased;
        output = &mut future => return output,
        () = tokio::time::sleep(QUIET_FOR) => {}
    }
    let spinner = ProgressBar::new_spinner().with_message(format!("waiting for {what}…"));
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(Duration::from_millis(120));
    let output = future.await;
    spinner.finish_and_clear();
    output
}
