//! Per-device connection logic: retry timing now; the device actor builds on it.

pub mod retry;
pub mod subscribers;
