use super::*;
use crate::model::uuid_from_u16;

fn config() -> MqttConfig {
    let mut config = super::super::config::from_host_port("127.0.0.1:1883").unwrap();
    config.hub = "attic".into();
    config
}

fn address() -> Address {
    "A4:C1:38:00:00:01".parse().unwrap()
}

fn snapshot(connection: &str) -> DeviceSnapshot {
    DeviceSnapshot {
        address: address(),
        name: Some("Living room".into()),
        connection: connection.into(),
        radio: None,
        keep_connected: true,
        rssi: BTreeMap::new(),
        best_radio: None,
        best_rssi: None,
        zone: None,
        last_seen: None,
        last_error: None,
        readings: BTreeMap::new(),
    }
}

fn hub() -> HubSnapshot {
    HubSnapshot {
        devices: 1,
        connected: 0,
        heard: 0,
        slots_free: 3,
        radios: 1,
    }
}

fn topics_of(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.topic.as_str()).collect()
}

#[test]
fn state_is_published_only_when_it_changes_and_again_after_a_reconnect() {
    let mut bridge = Bridge::new(&config());
    let discovery = bridge.manage(address(), "Living room", Vec::new());
    assert_eq!(
        topics_of(&discovery),
        ["homeassistant/device/bluefleet_a4c138000001/config"]
    );
    let first = bridge.observe(&[snapshot("waiting-advert")], &[], &hub());
    assert_eq!(
        topics_of(&first),
        [
            "bluefleet/attic/devices/A4:C1:38:00:00:01/state",
            "bluefleet/attic/state"
        ]
    );
    assert!(first.iter().all(|m| m.retain && m.qos == 1));
    assert!(bridge
        .observe(&[snapshot("waiting-advert")], &[], &hub())
        .is_empty());
    let changed = bridge.observe(&[snapshot("connected")], &[], &hub());
    assert_eq!(changed.len(), 1);
    let state: Value = serde_json::from_slice(&changed[0].payload).unwrap();
    assert_eq!(state["connection"], "connected");

    let again = bridge.connected();
    let published: Vec<&Message> = again
        .iter()
        .filter_map(|a| match a {
            Action::Publish(m) => Some(m),
            Action::Subscribe(_) => None,
        })
        .collect();
    assert_eq!(published[0].payload, b"online");
    for topic in [
        "bluefleet/attic/devices/A4:C1:38:00:00:01/state",
        "homeassistant/device/bluefleet_a4c138000001/config",
        "homeassistant/device/bluefleet_hub_attic/config",
    ] {
        assert!(
            published.iter().any(|m| m.topic == topic),
            "{topic} not republished"
        );
    }
    assert!(again.contains(&Action::Subscribe("bluefleet/attic/commands/+".into())));
}

#[test]
fn release_empties_every_retained_topic_of_the_device_but_goodbye_does_not() {
    let mut bridge = Bridge::new(&config());
    bridge.manage(address(), "Living room", Vec::new());
    bridge.observe(&[snapshot("connected")], &[], &hub());
    bridge.value(&address(), &uuid_from_u16(0x2A6E), &json!(23.5));
    assert_eq!(bridge.goodbye().payload, b"offline");
    assert!(bridge.goodbye().retain);
    let released = bridge.release(&address());
    assert!(released.iter().all(|m| m.payload.is_empty() && m.retain));
    let mut topics = topics_of(&released);
    topics.sort_unstable();
    assert_eq!(
        topics,
        [
            "bluefleet/attic/devices/A4:C1:38:00:00:01/2a6e",
            "bluefleet/attic/devices/A4:C1:38:00:00:01/state",
            "homeassistant/device/bluefleet_a4c138000001/config",
        ]
    );
    // Gone from what a reconnect republishes, and later samples do not bring it back.
    assert!(bridge
        .observe(&[snapshot("idle")], &[], &hub())
        .iter()
        .all(|m| !m.topic.contains("A4:C1")));
}

#[test]
fn a_stale_retained_state_is_cleaned_up() {
    let mut bridge = Bridge::new(&config());
    let stale = Incoming {
        topic: "bluefleet/attic/devices/11:22:33:44:55:66/state".into(),
        payload: b"{}".to_vec(),
        retain: true,
        ..Incoming::default()
    };
    let Inbound::Publish(cleanup) = bridge.incoming(&stale) else {
        panic!("not a clean-up")
    };
    assert!(cleanup
        .iter()
        .any(|m| m.topic == "homeassistant/device/bluefleet_112233445566/config"));
    bridge.manage(address(), "x", Vec::new());
    let ours = Incoming {
        topic: "bluefleet/attic/devices/A4:C1:38:00:00:01/state".into(),
        ..stale
    };
    assert_eq!(bridge.incoming(&ours), Inbound::Publish(Vec::new()));
}

fn command(payload: &str, response_topic: Option<&str>) -> Inbound {
    let mut bridge = Bridge::new(&config());
    bridge.incoming(&Incoming {
        topic: "bluefleet/attic/commands/read".into(),
        payload: payload.as_bytes().to_vec(),
        retain: false,
        response_topic: response_topic.map(str::to_string),
        correlation: Some(b"c1".to_vec()),
    })
}

#[test]
fn answers_go_to_the_response_topic_or_the_request_id() {
    let good = r#"{"address":"A4:C1:38:00:00:01","characteristic":"2a6e","id":"r7"}"#;
    let Inbound::Command(_, reply) = command(good, Some("me/answers")) else {
        panic!()
    };
    assert_eq!(reply.topic, "me/answers");
    assert_eq!(reply.correlation.as_deref(), Some(&b"c1"[..]));
    let Inbound::Command(_, reply) = command(good, None) else {
        panic!()
    };
    assert_eq!(reply.topic, "bluefleet/attic/responses/r7");

    let Inbound::Publish(refused) = command(r#"{"id":"r8","address":"x"}"#, None) else {
        panic!()
    };
    assert_eq!(refused[0].topic, "bluefleet/attic/responses/r8");
    let body: Value = serde_json::from_slice(&refused[0].payload).unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["field"], "address");
    assert_eq!(body["id"], "r8");

    for (payload, topic, field) in [
        (good, Some("bad/#"), "response_topic"),
        (r#"{"id":"a/b"}"#, None, "id"),
        (r#"{"id":[1]}"#, None, "id"),
        ("garbage", None, "payload"),
    ] {
        let Inbound::Publish(refused) = command(payload, topic) else {
            panic!("{payload} accepted")
        };
        assert_eq!(refused[0].topic, "bluefleet/attic/responses");
        let body: Value = serde_json::from_slice(&refused[0].payload).unwrap();
        assert_eq!(body["error"]["field"], field, "{payload}");
    }
}

#[test]
fn adverts_changed_publishes_only_new_payloads() {
    let mut config = config();
    config.publish_adverts = PublishAdverts::Changed;
    let mut bridge = Bridge::new(&config);
    let advert = |raw: &'static [u8]| {
        Advertisement::from_raw(
            address(),
            crate::model::RadioId::new("hci0"),
            -60,
            tokio::time::Instant::now(),
            bytes::Bytes::from_static(raw),
        )
        .unwrap()
    };
    let a = advert(&[2, 1, 6]);
    assert!(bridge.advert(&a).is_some());
    assert!(bridge.advert(&a).is_none());
    let b = advert(&[2, 1, 4]);
    let message = bridge.advert(&b).unwrap();
    assert_eq!(
        message.topic,
        "bluefleet/attic/devices/A4:C1:38:00:00:01/advert"
    );
    assert!(!message.retain);
    let body: Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(body["raw"], "020104");
}
