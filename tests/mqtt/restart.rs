//! What survives: a broker that restarts empty gets every retained payload again; a released
//! device's discovery is removed (also when it was dropped from hub.toml while the hub was down),
//! and a plain restart removes nothing.

use std::time::Duration;

use crate::bed::{broker, Hub, DEVICES};

const WAIT: Duration = Duration::from_secs(45);
const STATE: &str = "bluefleet/attic/devices/A4:C1:38:00:00:01/state";
const DISCOVERY: &str = "homeassistant/device/bluefleet_a4c138000001/config";
const VALUE: &str = "bluefleet/attic/devices/A4:C1:38:00:00:01/2a6e";

fn has(retained: &[crate::bed::Seen], topic: &str) -> bool {
    retained
        .iter()
        .any(|s| s.topic == topic && !s.payload.is_empty())
}

#[test]
fn a_broker_restart_gets_everything_retained_again() {
    let Some(mut broker) = broker() else { return };
    let mut hub = Hub::start(&broker, DEVICES, "");
    let watch = broker.watch(VALUE);
    watch.until("a first value", WAIT, |_| true);
    drop(watch);
    broker.down();
    std::thread::sleep(Duration::from_secs(2));
    broker.up();
    // The restarted broker is empty; the hub reconnects (backoff ≤ a few seconds) and
    // republishes status, state, the last values and discovery without waiting for news.
    let status = broker.watch("bluefleet/attic/status");
    status.until("online again", WAIT, |s| s.payload == "online");
    let retained = broker.retained("#", Duration::from_secs(2));
    for topic in [
        STATE,
        DISCOVERY,
        VALUE,
        "bluefleet/attic/radios/hci0",
        "homeassistant/device/bluefleet_hub_attic/config",
    ] {
        assert!(
            has(&retained, topic),
            "{topic} not retained after the broker restart"
        );
    }
    // Commands work on the new connection (the subscription was renewed).
    let answers = broker.watch("test/answers");
    broker.publish(
        "bluefleet/attic/commands/explain",
        r#"{"address":"A4:C1:38:00:00:01"}"#,
        &[
            ("response-topic", "test/answers"),
            ("correlation-data", "after-restart"),
        ],
        true,
    );
    answers.until("an answer after the restart", WAIT, |s| {
        s.correlation == "after-restart"
    });
    assert!(hub.alive());
}

#[test]
fn release_removes_discovery_but_a_restart_does_not() {
    let Some(broker) = broker() else { return };
    let mut hub = Hub::start(&broker, DEVICES, "");
    let watch = broker.watch(STATE);
    watch.until("a first state", WAIT, |_| true);
    hub.interrupt();
    // Restart with the same file: discovery is still there and stays.
    let mut hub = Hub::start(&broker, DEVICES, "");
    broker
        .watch("bluefleet/attic/status")
        .until("online", WAIT, |s| s.payload == "online");
    std::thread::sleep(Duration::from_secs(4)); // past the hub's sweep of stale states
    let retained = broker.retained("#", Duration::from_secs(2));
    assert!(has(&retained, DISCOVERY), "a restart removed discovery");

    // Release by command: discovery, state and values emptied.
    let answers = broker.watch("test/answers");
    broker.publish(
        "bluefleet/attic/commands/release",
        r#"{"address":"A4:C1:38:00:00:01"}"#,
        &[
            ("response-topic", "test/answers"),
            ("correlation-data", "rel"),
        ],
        true,
    );
    let answer = answers
        .until("the release answer", WAIT, |s| s.correlation == "rel")
        .json();
    assert_eq!(answer["ok"], true, "{answer}");
    let retained = broker.retained("#", Duration::from_secs(2));
    for topic in [DISCOVERY, STATE, VALUE] {
        assert!(
            !has(&retained, topic),
            "{topic} still retained after release"
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !has(&broker.retained("#", Duration::from_secs(1)), STATE),
        "state came back"
    );
    hub.interrupt();
}

#[test]
fn a_device_dropped_from_the_hub_file_is_removed_at_the_next_start() {
    let Some(broker) = broker() else { return };
    let mut hub = Hub::start(&broker, DEVICES, "");
    broker.watch(STATE).until("a first state", WAIT, |_| true);
    hub.interrupt();
    assert!(has(
        &broker.retained("#", Duration::from_secs(1)),
        DISCOVERY
    ));
    let _hub = Hub::start(&broker, "", "");
    let watch = broker.watch(DISCOVERY);
    watch.until("discovery emptied", WAIT, |s| s.payload.is_empty());
    assert!(!has(&broker.retained("#", Duration::from_secs(1)), STATE));
}
