//! Commands over MQTT: answers on the MQTT 5 response topic with the correlation data, or on
//! `responses/<id>` for MQTT 3.1.1; refusals name the field; the hub survives junk.

use std::time::Duration;

use serde_json::Value;

use crate::bed::{broker, Broker, Hub, Watch, DEVICES};
use crate::schema::check_device_discovery;

const WAIT: Duration = Duration::from_secs(45);
const COUNTER: &str = "C0:FF:EE:00:00:01";
const COUNTER_VALUE: &str = "6e400002-b5a3-f393-e0a9-e50e24dcca9e";
const COUNTER_CONFIG: &str = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";

/// Asks a hub commands over MQTT 5, with a response topic and correlation data, and waits for
/// the answers (bounded). The watcher starts first, so no answer can come before it listens.
pub struct Asker<'b> {
    broker: &'b Broker,
    hub: String,
    answers: Watch,
}

impl<'b> Asker<'b> {
    pub fn new(broker: &'b Broker, hub: &str) -> Self {
        Self {
            broker,
            hub: hub.to_string(),
            answers: broker.watch("test/answers"),
        }
    }

    /// Sends `payload` to `verb` and returns the answer carrying `correlation`.
    pub fn ask(&self, verb: &str, payload: &str, correlation: &str) -> Value {
        self.broker.publish(
            &format!("bluefleet/{}/commands/{verb}", self.hub),
            payload,
            &[
                ("response-topic", "test/answers"),
                ("correlation-data", correlation),
            ],
            true,
        );
        let what = format!("the answer to {verb} {payload}");
        let answer = self
            .answers
            .until(&what, WAIT, |s| s.correlation == correlation);
        assert_eq!(answer.topic, "test/answers");
        assert!(!answer.retained);
        answer.json()
    }
}

/// A command's payload for the counter's `characteristic`, with `more` JSON fields.
fn on_counter(characteristic: &str, more: &str) -> String {
    let more = if more.is_empty() {
        String::new()
    } else {
        format!(",{more}")
    };
    format!(r#"{{"address":"{COUNTER}","characteristic":"{characteristic}"{more}}}"#)
}

fn wait_online(broker: &Broker) {
    let status = broker.watch("bluefleet/attic/status");
    status.until("online", WAIT, |s| s.payload == "online");
}

#[test]
fn commands_over_mqtt5() {
    let Some(broker) = broker() else { return };
    let _hub = Hub::start(&broker, DEVICES, "");
    wait_online(&broker);
    let asker = Asker::new(&broker, "attic");

    let read = asker.ask(
        "read",
        &on_counter(COUNTER_CONFIG, r#""decode":"uint8""#),
        "c-read-1",
    );
    assert_eq!(read["ok"], true, "{read}");
    assert_eq!(read["result"]["raw"], "00");

    let write = asker.ask(
        "write",
        &on_counter(COUNTER_CONFIG, r#""value":42,"format":"u8""#),
        "c-write",
    );
    assert_eq!(write["ok"], true, "{write}");
    assert_eq!(write["result"]["written"], "2a");
    let read = asker.ask(
        "read",
        &on_counter(COUNTER_CONFIG, r#""decode":"uint8""#),
        "c-read-2",
    );
    assert_eq!(read["result"]["value"], 42.0, "{read}");
    // The whole value format of hub.toml, offset and exponent too: 42 × 10^-1.
    let tenths = asker.ask(
        "read",
        &on_counter(
            COUNTER_CONFIG,
            r#""decode":"uint8","offset":0,"exponent":-1"#,
        ),
        "c-read-3",
    );
    assert_eq!(tenths["result"]["value"], 4.2, "{tenths}");
    let past_the_end = asker.ask(
        "read",
        &on_counter(COUNTER_CONFIG, r#""decode":"uint8","offset":3"#),
        "c-read-4",
    );
    assert_eq!(
        past_the_end["result"]["value"], "2a (too short for uint8 at byte 3)",
        "{past_the_end}"
    );

    let explain = asker.ask("explain", r#"{"address":"A4:C1:38:00:00:01"}"#, "c-explain");
    assert_eq!(explain["ok"], true);
    assert_eq!(explain["result"]["managed"], true);
    assert!(
        explain["result"]["why"]
            .as_str()
            .is_some_and(|w| !w.is_empty()),
        "{explain}"
    );
    assert_eq!(explain["result"]["heard_by"][0]["radio"], "hci0");

    // Subscribe: values start flowing on the characteristic topic and discovery gains it.
    let values = broker.watch(&format!(
        "bluefleet/attic/devices/{COUNTER}/{COUNTER_VALUE}"
    ));
    let subscribed = asker.ask("subscribe", &on_counter(COUNTER_VALUE, ""), "c-sub");
    assert_eq!(subscribed["ok"], true, "{subscribed}");
    let first = values.until("a counter value", WAIT, |s| !s.payload.is_empty());
    let second = values.until("a later counter value", WAIT, |s| {
        s.payload != first.payload
    });
    assert_ne!(first.payload, second.payload);
    let discovery = broker.retained(
        "homeassistant/device/bluefleet_c0ffee000001/config",
        Duration::from_secs(2),
    );
    let discovery = discovery
        .last()
        .expect("discovery of the subscribed device")
        .json();
    check_device_discovery(&discovery);
    assert!(
        discovery["components"].get(COUNTER_VALUE).is_some(),
        "{discovery}"
    );

    let keep = asker.ask(
        "keep-connected",
        &format!(r#"{{"address":"{COUNTER}","on":false}}"#),
        "c-keep",
    );
    assert_eq!(keep["result"]["keep_connected"], false);

    // Refusals name the field, and go back with the correlation data.
    for (verb, payload, field) in [
        (
            "read",
            r#"{"characteristic":"2a6e"}"#.to_string(),
            "address",
        ),
        (
            "read",
            r#"{"address":"A4:C1:38:00:00:01","characteristic":"xyz"}"#.into(),
            "characteristic",
        ),
        (
            "write",
            on_counter(COUNTER_CONFIG, r#""value":300,"format":"u8""#),
            "value",
        ),
        (
            "write",
            on_counter(COUNTER_CONFIG, r#""value":"12","format":"f16""#),
            "format",
        ),
        (
            "keep-connected",
            r#"{"address":"A4:C1:38:00:00:01","on":"perhaps"}"#.into(),
            "on",
        ),
        ("reboot", "{}".into(), "verb"),
        ("read", "not json at all".into(), "payload"),
        ("read", "[1,2,3]".into(), "payload"),
    ] {
        let correlation = format!("bad-{verb}-{field}");
        let answer = asker.ask(verb, &payload, &correlation);
        assert_eq!(answer["ok"], false, "{answer}");
        assert_eq!(
            answer["error"]["field"], field,
            "{verb} {payload}: {answer}"
        );
    }
    // A read the device refuses comes back as a failure with its class, not a crash.
    let refused = asker.ask("read", &on_counter("2a19", ""), "c-missing");
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(refused["error"]["message"].is_string());

    // Still alive and publishing after all that.
    let state = broker.watch("bluefleet/attic/devices/A4:C1:38:00:00:01/state");
    state.until("a fresh state", WAIT, |s| !s.retained);
}

#[test]
fn commands_over_mqtt311_answer_on_the_request_id() {
    let Some(broker) = broker() else { return };
    let _hub = Hub::start(&broker, DEVICES, "protocol = \"3.1.1\"");
    wait_online(&broker);
    let responses = broker.watch("bluefleet/attic/responses/#");
    broker.publish(
        "bluefleet/attic/commands/read",
        &format!(r#"{{"id":"r1","address":"{COUNTER}","characteristic":"{COUNTER_CONFIG}"}}"#),
        &[],
        false,
    );
    let answer = responses.until("the answer to r1", WAIT, |s| {
        s.topic == "bluefleet/attic/responses/r1"
    });
    let answer = answer.json();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["id"], "r1");
    broker.publish(
        "bluefleet/attic/commands/write",
        r#"{"id":7,"address":"A4:C1:38:00:00:01"}"#,
        &[],
        false,
    );
    let refused = responses
        .until("the refusal of 7", WAIT, |s| {
            s.topic == "bluefleet/attic/responses/7"
        })
        .json();
    assert_eq!(refused["error"]["field"], "characteristic");
    assert_eq!(refused["id"], 7);
    broker.publish(
        "bluefleet/attic/commands/read",
        "\u{1}\u{2}junk",
        &[],
        false,
    );
    let junk = responses
        .until("the refusal of junk", WAIT, |s| {
            s.topic == "bluefleet/attic/responses"
        })
        .json();
    assert_eq!(junk["error"]["field"], "payload");
}
