//! Router tests: proxy messages and requests in, replies, link events and actions out, with
//! no socket and tokio's paused clock.
#![allow(clippy::indexing_slicing)] // tests may index: a panic is a failed test

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use tokio::sync::oneshot;

use super::*;
use crate::backend::esphome::api::bluetooth::{ConnectionResponse, RawAdvertisement};
use crate::backend::esphome::api::gatt::{HandleData, HandleRequest};
use crate::backend::esphome::api::id;

const ADDR: u64 = 0xA4C1_3800_0001;

fn router() -> Router {
    Router::new(RadioId::new("proxy"), 1)
}

fn notice(connected: bool, error: i32) -> Incoming {
    Incoming::Connection(ConnectionResponse {
        address: ADDR,
        connected,
        mtu: if connected { 247 } else { 0 },
        error,
    })
}

fn report(free: u32, limit: u32, allocated: Vec<u64>) -> Incoming {
    Incoming::SlotsFree(ConnectionsFree {
        free,
        limit,
        allocated,
    })
}

type Answer = oneshot::Receiver<Result<Reply, Failure>>;

/// A link's event stream, read without waiting.
struct Events(futures::stream::BoxStream<'static, LinkEvent>);

impl Events {
    /// The next event if one is ready (`Err` when none is, or the stream ended).
    fn try_recv(&mut self) -> Result<LinkEvent, ()> {
        self.0.next().now_or_never().flatten().ok_or(())
    }
}

fn connect(router: &mut Router) -> (Answer, Events) {
    let (events, events_rx) = crate::backend::link_events();
    let (reply, answer) = oneshot::channel();
    assert!(router.expect(
        None,
        Expect::Connect {
            address: ADDR,
            events
        },
        reply
    ));
    (answer, Events(events_rx))
}

/// A router with an open link to `ADDR`.
fn connected() -> (Router, Events) {
    let mut router = router();
    let (mut answer, events) = connect(&mut router);
    assert!(router.handle(notice(true, 0)).is_empty());
    assert_eq!(
        answer.try_recv().unwrap(),
        Ok(Reply::Connected {
            mtu: 247,
            generation: 1
        })
    );
    (router, events)
}

fn ask(router: &mut Router, expect: Expect) -> Answer {
    let (reply, answer) = oneshot::channel();
    router.expect(Some(1), expect, reply);
    answer
}

fn disconnect_sent(actions: &[Action]) -> bool {
    let release = device_request(ADDR, request_type::DISCONNECT, AddressKind::Public);
    actions.iter().any(|action| {
        matches!(action, Action::Send(out) if out.message_type == id::DEVICE_REQUEST
            && out.payload == release.payload)
    })
}

#[tokio::test(start_paused = true)]
async fn the_firmwares_second_disconnect_notice_is_absorbed_not_counted_twice() {
    let (mut router, mut events) = connected();
    router.handle(notice(false, 0x08));
    router.handle(notice(false, 0x08));
    assert!(matches!(
        events.try_recv(),
        Ok(LinkEvent::Disconnected {
            cause: DisconnectCause::LinkLost,
            ..
        })
    ));
    assert!(
        events.try_recv().is_err(),
        "exactly one Disconnected, then the stream ends"
    );
    // The next connect is answered by the proxy's real answer, not by the duplicate.
    let (mut answer, _events) = connect(&mut router);
    router.handle(notice(false, 0));
    let failure = answer.try_recv().unwrap().unwrap_err();
    assert_eq!(failure.code, Some(0));
}

#[tokio::test(start_paused = true)]
async fn a_slot_report_that_frees_the_address_ends_the_absorbing_window() {
    let (mut router, _events) = connected();
    router.handle(notice(false, 0x13));
    router.handle(report(3, 3, vec![]));
    let (mut answer, _events) = connect(&mut router);
    router.handle(notice(false, 0x3E));
    let failure = answer.try_recv().unwrap().unwrap_err();
    assert_eq!(
        failure.name.as_deref(),
        Some("ESP_GATT_CONN_FAIL_ESTABLISH")
    );
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_connect_gives_its_slot_back() {
    let mut router = router();
    let (answer, _events) = connect(&mut router);
    drop(answer);
    let actions = router.handle(report(2, 3, vec![ADDR]));
    assert!(
        disconnect_sent(&actions),
        "pruning a cancelled connect releases it"
    );
    // A connected=true nobody waits for is released too.
    assert!(disconnect_sent(&router.handle(notice(true, 0))));
}

#[tokio::test(start_paused = true)]
async fn a_slot_report_missing_an_open_link_ends_it_and_is_passed_up() {
    let (mut router, mut events) = connected();
    let actions = router.handle(report(2, 3, vec![ADDR]));
    assert!(events.try_recv().is_err(), "listed: still open");
    assert_eq!(actions.len(), 1);
    let actions = router.handle(report(3, 3, vec![]));
    assert!(matches!(
        events.try_recv(),
        Ok(LinkEvent::Disconnected { .. })
    ));
    assert_eq!(
        actions,
        vec![Action::Radio(RadioEvent::SlotsReported(SlotReport {
            free: 3,
            limit: 3,
            allocated: vec![]
        }))]
    );
    // A list that does not add up (older firmware) is not trusted to end links.
    let (mut router, mut events) = connected();
    router.handle(report(2, 3, vec![]));
    assert!(events.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn answers_and_errors_reach_the_request_with_their_address_and_handle() {
    let (mut router, mut events) = connected();
    let mut first = ask(
        &mut router,
        Expect::Read {
            address: ADDR,
            handle: 3,
        },
    );
    let mut second = ask(
        &mut router,
        Expect::Read {
            address: ADDR,
            handle: 0x12,
        },
    );
    router.handle(Incoming::GattError(GattError {
        address: ADDR,
        handle: 0x12,
        error: 5,
    }));
    assert_eq!(second.try_recv().unwrap().unwrap_err().att_status, Some(5));
    assert!(first.try_recv().is_err(), "the other read still waits");
    router.handle(Incoming::Read(HandleData {
        address: ADDR,
        handle: 3,
        data: Bytes::from_static(b"x"),
    }));
    assert_eq!(
        first.try_recv().unwrap(),
        Ok(Reply::Data(Bytes::from_static(b"x")))
    );

    let mut notify = ask(
        &mut router,
        Expect::Notify {
            address: ADDR,
            handle: 0x22,
        },
    );
    router.handle(Incoming::NotifyAck(HandleRequest {
        address: ADDR,
        handle: 0x22,
    }));
    assert_eq!(notify.try_recv().unwrap(), Ok(Reply::Done));
    router.handle(Incoming::NotifyData(HandleData {
        address: ADDR,
        handle: 0x22,
        data: Bytes::from_static(b"n"),
    }));
    assert_eq!(
        events.try_recv().unwrap(),
        LinkEvent::Notification {
            handle: 0x22,
            value: Bytes::from_static(b"n")
        }
    );
}

#[tokio::test(start_paused = true)]
async fn requests_on_an_ended_link_fail_at_once_and_disconnecting_it_is_a_no_op() {
    let (mut router, _events) = connected();
    let mut pending = ask(
        &mut router,
        Expect::Write {
            address: ADDR,
            handle: 0x25,
        },
    );
    router.handle(notice(false, 0x08));
    let failure = pending.try_recv().unwrap().unwrap_err();
    assert_eq!(failure.name.as_deref(), Some("ESP_GATT_NOT_CONNECTED"));
    let mut read = ask(
        &mut router,
        Expect::Read {
            address: ADDR,
            handle: 3,
        },
    );
    assert!(read
        .try_recv()
        .unwrap()
        .unwrap_err()
        .text
        .contains("already ended"));
    let mut disconnect = ask(&mut router, Expect::Disconnect { address: ADDR });
    assert_eq!(disconnect.try_recv().unwrap(), Ok(Reply::Done));
    // A link of an older session is ended too.
    let (mut router, _events) = connected();
    let (reply, mut answer) = oneshot::channel();
    assert!(!router.expect(
        Some(0),
        Expect::Read {
            address: ADDR,
            handle: 3
        },
        reply
    ));
    assert!(answer.try_recv().unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn the_end_of_a_session_ends_every_link_and_fails_every_waiter() {
    let (mut router, mut events) = connected();
    let mut read = ask(
        &mut router,
        Expect::Read {
            address: ADDR,
            handle: 3,
        },
    );
    router.shutdown("the proxy closed the connection");
    assert!(matches!(
        events.try_recv(),
        Ok(LinkEvent::Disconnected {
            cause: DisconnectCause::RadioDown,
            ..
        })
    ));
    let failure = read.try_recv().unwrap().unwrap_err();
    assert!(
        failure.text.contains("proxy connection was lost"),
        "{}",
        failure.text
    );
}

#[tokio::test(start_paused = true)]
async fn malformed_adverts_are_skipped_and_the_rest_delivered() {
    let mut router = router();
    let good = RawAdvertisement {
        address: ADDR,
        rssi: -60,
        address_type: 1,
        data: Bytes::from_static(&[3, 9, b'h', b'i']),
    };
    let bad = RawAdvertisement {
        address: ADDR + 1,
        rssi: -70,
        address_type: 0,
        data: Bytes::from_static(&[9, 9, b'x']),
    };
    let actions = router.handle(Incoming::Adverts(RawAdvertisements {
        advertisements: vec![bad.clone(), good],
    }));
    let [Action::Radio(RadioEvent::Adverts(adverts))] = &actions[..] else {
        panic!("{actions:?}");
    };
    assert_eq!(adverts.len(), 1);
    assert_eq!(adverts[0].local_name(), Some("hi"));
    assert_eq!(adverts[0].address_kind, AddressKind::Random);
    assert_eq!(adverts[0].rssi_dbm, -60);
    let only_bad = router.handle(Incoming::Adverts(RawAdvertisements {
        advertisements: vec![bad],
    }));
    assert!(only_bad.is_empty());
}
