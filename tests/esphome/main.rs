//! The ESPHome backend against the fake proxy, through the `Radio` and `Link` traits.
//!
//! Each test starts its own fake on 127.0.0.1 (port 0). A real TCP peer in another process
//! forces real time here; every wait is bounded by a short timeout so a broken behaviour fails
//! the test instead of hanging it.
#![cfg(feature = "esphome")]
// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake;
mod fleet;
mod links;
mod modes;
mod session;
mod slots;

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::esphome::frame::encode_frame;
use bluefleet::backend::esphome::{EsphomeConfig, EsphomeRadio};
use bluefleet::backend::{
    ConnectRequest, Connection, DisconnectCause, LinkEvent, Radio, RadioEvent, RadioKind,
    SlotReport, WriteMode,
};
use bluefleet::classify::classify;
use bluefleet::{Address, AddressKind, ErrorKind, GattTable};
use bytes::Bytes;
use fake::{FakeProxy, KEY, WRONG_KEY};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

/// Upper bound for any one wait (generous: CI machines are shared and slow).
const WAIT: Duration = Duration::from_secs(10);

fn sensor(n: u8) -> Address {
    Address::new([0xA4, 0xC1, 0x38, 0, 0, n])
}

fn request(address: Address, cached: Option<GattTable>) -> ConnectRequest {
    ConnectRequest {
        address,
        address_kind: AddressKind::Public,
        cached_services: cached.map(Arc::new),
        timeout: WAIT,
    }
}

/// The next event that `wanted` accepts, within `WAIT`.
async fn next_event<T>(
    events: &mut BoxStream<'static, T>,
    what: &str,
    wanted: impl Fn(&T) -> bool,
) -> T {
    timeout(WAIT, async {
        loop {
            let event = events
                .next()
                .await
                .unwrap_or_else(|| panic!("stream ended waiting for {what}"));
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls the fake until `count(message) == expected` (a real peer: real time, bounded).
async fn fake_count_reaches(fake: &mut FakeProxy, message: &str, expected: usize) {
    for _ in 0..100 {
        if fake.count(message).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the fake never received {expected} {message}");
}

async fn up(radio: &EsphomeRadio) -> BoxStream<'static, RadioEvent> {
    let mut events = radio.events();
    next_event(&mut events, "Up", |e| matches!(e, RadioEvent::Up)).await;
    events
}

async fn slot_report(events: &mut BoxStream<'static, RadioEvent>, free: usize) -> SlotReport {
    match next_event(
        events,
        "a slot report",
        |e| matches!(e, RadioEvent::SlotsReported(r) if r.free == free),
    )
    .await
    {
        RadioEvent::SlotsReported(report) => report,
        _ => unreachable!(),
    }
}

async fn notification(events: &mut BoxStream<'static, LinkEvent>, handle: u16) -> Bytes {
    match next_event(
        events,
        "a notification",
        |e| matches!(e, LinkEvent::Notification { handle: h, .. } if *h == handle),
    )
    .await
    {
        LinkEvent::Notification { value, .. } => value,
        _ => unreachable!(),
    }
}

async fn disconnected(events: &mut BoxStream<'static, LinkEvent>) -> DisconnectCause {
    let event = next_event(events, "Disconnected", |e| {
        matches!(e, LinkEvent::Disconnected { .. })
    })
    .await;
    let LinkEvent::Disconnected { cause, .. } = event else {
        unreachable!()
    };
    // `Disconnected` is final: the stream ends right after it.
    assert_eq!(timeout(WAIT, events.next()).await.unwrap(), None);
    cause
}
