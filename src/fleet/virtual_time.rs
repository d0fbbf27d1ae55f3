//! Running a fleet in virtual time: an actix System on a current-thread tokio runtime whose
//! clock starts paused.
//!
//! With a paused clock, time only moves when every task is waiting, and then jumps straight to
//! the next timer. A simulated hour of connects, retries and notifications takes well under a
//! second of CPU, and a fixed seed gives the same run every time. The demo, the benchmarks and
//! every deterministic test use [`block_on_virtual_time`].

use std::future::Future;

use actix::System;

/// Runs `future` to completion on a fresh actix System whose tokio clock is paused (virtual).
///
/// # Panics
/// If the tokio runtime cannot be built (the OS refused a thread or timer), which leaves
/// nothing to run on.
#[allow(clippy::expect_used)]
pub fn block_on_virtual_time<F: Future>(future: F) -> F::Output {
    let runner = System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a current-thread tokio runtime")
    });
    runner.block_on(future)
}

/// Runs `future` to completion on a fresh actix System in real time.
pub fn block_on_real_time<F: Future>(future: F) -> F::Output {
    System::new().block_on(future)
}
