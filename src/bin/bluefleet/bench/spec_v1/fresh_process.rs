//! One spec-v1 replay in a process of its own: `bluefleet bench spec-v1 … --json`, run by
//! this very binary, its report read back.
//!
//! Why: the watcher comparison sets arms side by side whose costs differ by a few percent, and
//! arms replayed one after the other in one process do not start equal. Each inherits the heap
//! (freed chunks, glibc's arenas, the page cache of the allocator) and the caches the arm
//! before it left; measured in one process the callbacks' 1,000 / 1 ratio moved between 1.08
//! and 1.27 with the arm order, and between 1.01 and 1.08 when each arm had a fresh process
//! (2026-12-01, this 2-core VM). A fresh process per run gives every arm the same start, the
//! way the habluetooth side by side already runs each side.

use std::process::Command;

use clap::ValueEnum;

use super::{Consumers, SpecReport, WatcherSet};

/// The name clap gives `value` on the command line (`every-device`, `callbacks`, …).
fn flag_value(value: &impl ValueEnum) -> Result<String, String> {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .ok_or_else(|| "a spec-v1 option has no command-line name".to_owned())
}

/// Replays the first `adverts` records of spec v1 with `set` watching as `consumers`, in a
/// child process of this binary, and returns its report.
pub fn run(adverts: usize, set: WatcherSet, consumers: Consumers) -> Result<SpecReport, String> {
    let exe = std::env::current_exe().map_err(|e| format!("bench: this binary's path: {e}"))?;
    let (set_name, consumers_name) = (flag_value(&set)?, flag_value(&consumers)?);
    let output = Command::new(&exe)
        .args(["bench", "spec-v1", "--json", "--adverts"])
        .arg(adverts.to_string())
        .args(["--watchers", &set_name, "--consumers", &consumers_name])
        .output()
        .map_err(|e| format!("bench: starting {}: {e}", exe.display()))?;
    if !output.status.success() {
        return Err(format!(
            "bench: spec-v1 --watchers {set_name} --consumers {consumers_name} in a child process failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "bench: the report of spec-v1 --watchers {set_name} --consumers {consumers_name} is not one JSON object: {e}"
        )
    })
}
