//! `bluefleet proxy` checked with Home Assistant's own client libraries.
//!
//! Each test starts `bluefleet proxy --backend sim` (the world in `world.toml`) on 127.0.0.1
//! with port 0, then runs `driver.py` (aioesphomeapi, bleak-esphome over habluetooth,
//! bleak-retry-connector) against it; the driver prints a `PASS` line per check and exits
//! non-zero on the first failure. Python comes from `BLUEFLEET_PYTHON` (`scripts/test` sets
//! it), else `/tmp/bluefleet-venv/bin/python`; without it the tests fail and say so. Real
//! processes, so real time: every wait is bounded.
#![cfg(feature = "proxy")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bed;
mod clients;
mod failures;
mod mdns;
mod scenarios;
