//! What a hub publishes: device state, values, radios, hub state and discovery; and what a
//! clean stop leaves (offline, discovery kept).

use std::time::Duration;

use crate::bed::{broker, Hub, DEVICES};
use crate::schema::check_device_discovery;

const STATE: &str = "bluefleet/attic/devices/A4:C1:38:00:00:01/state";
const DISCOVERY: &str = "homeassistant/device/bluefleet_a4c138000001/config";
const WAIT: Duration = Duration::from_secs(45);

#[test]
fn state_values_radios_and_discovery() {
    let Some(broker) = broker() else { return };
    let watch = broker.watch("#");
    let adverts = broker.watch("bluefleet/attic/devices/+/advert");
    let device_topics = broker.watch("bluefleet/attic/devices/A4:C1:38:00:00:01/+");
    let mut hub = Hub::start(&broker, DEVICES, "publish_adverts = \"changed\"");

    let online = watch.until("online status", WAIT, |s| {
        s.topic == "bluefleet/attic/status"
    });
    assert_eq!(online.payload, "online");
    let state = watch.until("a connected state with both readings", WAIT, |s| {
        s.topic == STATE && {
            let state = s.json();
            state["connection"] == "connected" && state["readings"]["2a6f"].is_number()
        }
    });
    let state = state.json();
    assert_eq!(state["name"], "Living room");
    assert_eq!(state["radio"], "hci0");
    assert_eq!(state["best_radio"], "hci0");
    assert!(
        state["rssi"]["hci0"]
            .as_i64()
            .is_some_and(|r| (-100..0).contains(&r)),
        "{state}"
    );
    assert!(state["last_seen"].as_u64().is_some(), "{state}");
    assert!(state["zone"].is_string(), "{state}");
    // The env-sensor's temperature is int16 in 0.01 °C: a plausible room value after scaling.
    let temperature = state["readings"]["2a6e"].as_f64().unwrap();
    assert!((-40.0..60.0).contains(&temperature), "{temperature}");

    let value = watch.until("a temperature value", WAIT, |s| {
        s.topic == "bluefleet/attic/devices/A4:C1:38:00:00:01/2a6e"
    });
    assert!(value.payload.parse::<f64>().is_ok(), "{}", value.payload);
    // Battery Level cannot notify: the hub file polls it, and each read is published alike.
    let battery = device_topics.until("a polled battery level", WAIT, |s| {
        s.topic == "bluefleet/attic/devices/A4:C1:38:00:00:01/2a19"
    });
    let level: f64 = battery.payload.parse().unwrap_or(-1.0);
    assert!((0.0..=100.0).contains(&level), "{}", battery.payload);
    device_topics.until("the battery level in the state", WAIT, |s| {
        s.topic == STATE && s.json()["readings"]["2a19"] == level
    });
    let radio = watch.until("the radio state", WAIT, |s| {
        s.topic == "bluefleet/attic/radios/hci0"
    });
    let radio = radio.json();
    assert_eq!(radio["slots_limit"], 3);
    assert_eq!(radio["state"], "up");
    let holders = watch.until("the radio holding our sensor", WAIT, |s| {
        s.topic == "bluefleet/attic/radios/hci0"
            && s.json()["holders"]
                .as_array()
                .is_some_and(|h| h.iter().any(|a| a == "A4:C1:38:00:00:01"))
    });
    assert!(holders.json()["adverts_per_s"].as_f64().unwrap() > 0.0);
    // Raw adverts with publish_adverts = "changed": each device's first, then only changes.
    let advert = adverts.until("a raw advert", WAIT, |_| true);
    assert!(advert.json()["raw"].as_str().is_some_and(|r| !r.is_empty()));

    // Discovery: retained, schema-checked, linked to the hub, availability on the status topic.
    let retained = broker.retained("homeassistant/#", Duration::from_secs(2));
    let device = retained
        .iter()
        .find(|s| s.topic == DISCOVERY)
        .expect("device discovery retained");
    let device = device.json();
    check_device_discovery(&device);
    assert_eq!(device["device"]["via_device"], "bluefleet_hub_attic");
    assert_eq!(device["availability"][0]["topic"], "bluefleet/attic/status");
    assert_eq!(device["components"]["2a6e"]["device_class"], "temperature");
    assert_eq!(device["components"]["2a6e"]["unit_of_measurement"], "°C");
    assert_eq!(device["components"]["2a6f"]["device_class"], "humidity");
    let hub_config = retained
        .iter()
        .find(|s| s.topic == "homeassistant/device/bluefleet_hub_attic/config")
        .expect("hub discovery retained");
    check_device_discovery(&hub_config.json());
    // The value templates read keys that the state really has.
    assert!(state["readings"].get("2a6e").is_some());

    // A clean stop: offline (retained), discovery and state stay for the next start.
    hub.interrupt();
    let status = broker.retained("bluefleet/attic/status", Duration::from_secs(2));
    assert_eq!(status.last().map(|s| s.payload.as_str()), Some("offline"));
    let after = broker.retained("#", Duration::from_secs(2));
    assert!(after
        .iter()
        .any(|s| s.topic == DISCOVERY && !s.payload.is_empty()));
    assert!(after.iter().any(|s| s.topic == STATE));
}

#[test]
fn a_killed_hub_is_marked_offline_by_its_last_will() {
    let Some(broker) = broker() else { return };
    let watch = broker.watch("bluefleet/attic/status");
    let hub = Hub::start(&broker, DEVICES, "");
    watch.until("online", WAIT, |s| s.payload == "online");
    drop(hub); // SIGKILL: no goodbye, the broker sends the will after 1.5 × keepalive (5 s)
    watch.until("the last will", Duration::from_secs(15), |s| {
        s.payload == "offline"
    });
}

#[test]
fn bad_mqtt_settings_name_the_field() {
    let Some(broker) = broker() else { return };
    for (extra, field) in [
        ("qos = 5", "mqtt.qos"),
        ("base_topic = \"a/+\"", "mqtt.base_topic"),
    ] {
        let hub = Hub::start(&broker, DEVICES, extra);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_bluefleet"))
            .arg("run")
            .arg("--config")
            .arg(&hub.config)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(field), "{field} not in: {stderr}");
    }
}

#[test]
fn the_demo_publishes_to_a_broker() {
    let Some(broker) = broker() else { return };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bluefleet"))
        .args([
            "demo",
            "--duration",
            "30s",
            "--speed",
            "0",
            "--json",
            "--mqtt",
        ])
        .arg(format!("127.0.0.1:{}", broker.port))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let retained = broker.retained("#", Duration::from_secs(2));
    let status = retained
        .iter()
        .find(|s| s.topic == "bluefleet/hub/status")
        .unwrap();
    assert_eq!(status.payload, "offline");
    let states: Vec<_> = retained
        .iter()
        .filter(|s| s.topic.starts_with("bluefleet/hub/devices/") && s.topic.ends_with("/state"))
        .collect();
    // The flat keeps seven devices connected.
    assert_eq!(states.len(), 7, "{states:?}");
    assert!(states.iter().any(|s| s.json()["connection"] == "connected"));
    for discovery in retained
        .iter()
        .filter(|s| s.topic.starts_with("homeassistant/device/"))
    {
        check_device_discovery(&discovery.json());
    }
}

#[test]
fn tls_to_a_broker_with_its_own_ca() {
    let Some(mut broker) = broker() else { return };
    let dir = broker.dir().to_path_buf();
    // A CA and a server certificate for 127.0.0.1, made with the openssl command line.
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        status.is_ok_and(|s| s.success())
    };
    std::fs::write(dir.join("san.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    let made = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    ]) && openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]) && openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
    ]);
    if !made {
        eprintln!("skipping: the openssl command cannot make test certificates");
        return;
    }
    // mosquitto started as root reads its key files as the `mosquitto` user.
    use std::os::unix::fs::PermissionsExt;
    for path in [
        dir.clone(),
        dir.join("server.key"),
        dir.join("server.pem"),
        dir.join("ca.pem"),
    ] {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let tls_port = broker.add_tls_listener();
    let _hub = Hub::start_on(
        &broker,
        tls_port,
        DEVICES,
        &format!("tls = true\nca_file = \"{}\"", dir.join("ca.pem").display()),
    );
    let status = broker.watch("bluefleet/attic/status");
    status.until("online over TLS", WAIT, |s| s.payload == "online");
}

#[test]
fn readings_decoded_from_adverts_are_published_and_discovered() {
    let Some(broker) = broker() else { return };
    let devices = format!(
        "{DEVICES}\n[[device]]\naddress = \"A4:C1:38:8D:18:B2\"\nkeep_connected = false\ndecode = \"auto\"\n"
    );
    let watch = broker.watch("bluefleet/attic/devices/A4:C1:38:8D:18:B2/state");
    let _hub = Hub::start(&broker, &devices, "");
    let state = watch.until("decoded readings", WAIT, |s| {
        s.json()["readings"]["temperature"].is_number()
    });
    let readings = &state.json()["readings"];
    // The world's BTHome frame carries 21.4 °C, 48 %, 87 % battery (BTHome's own resolution).
    assert!(
        (readings["temperature"].as_f64().unwrap() - 21.4).abs() < 0.01,
        "{readings}"
    );
    assert!(
        (readings["humidity"].as_f64().unwrap() - 48.0).abs() < 0.01,
        "{readings}"
    );
    assert_eq!(readings["battery"], 87.0);
    let discovery = broker.retained(
        "homeassistant/device/bluefleet_a4c1388d18b2/config",
        Duration::from_secs(2),
    );
    let discovery = discovery
        .last()
        .expect("discovery of the advertising sensor")
        .json();
    check_device_discovery(&discovery);
    let temperature = &discovery["components"]["temperature"];
    assert_eq!(temperature["device_class"], "temperature");
    assert_eq!(temperature["unit_of_measurement"], "°C");
    assert_eq!(
        temperature["value_template"],
        "{{ value_json.readings['temperature'] }}"
    );
    assert_eq!(
        discovery["components"]["battery"]["device_class"],
        "battery"
    );
}
