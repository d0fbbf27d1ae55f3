//! The live page and the report, from outside: `bluefleet demo --web` driven in a real headless
//! Chromium over WebDriver, its JSON API over plain HTTP, and `--report`'s SVG parsed as XML.
//!
//! Everything stays on loopback: the demo listens on 127.0.0.1 with port 0, chromedriver on a
//! free loopback port, and Chromium runs with its background services off and every host name
//! mapped to nothing. Waits are bounded; the browser tests skip, saying which Debian packages
//! they need, when Chromium or chromedriver is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod browser;
mod clients;
mod page;
mod report;
mod scale;
mod support;
