//! Parsing and validation of world files: every refusal names its field.

use super::*;
use crate::backend::RadioKind;
use crate::model::{uuid_from_u16, Address};

const SMALL: &str = r#"
[[radios]]
name = "hci0"
kind = "local-controller"

[[radios]]
name = "proxy-hall"
kind = "esphome-proxy"
position = [10.0, 0.0]
connect_latency = { mean = "300ms", jitter = "100ms" }
faults = { aborted = 0.1 }
outages = [{ from = "10m", until = "11m" }]

[[devices]]
address = "A4:C1:38:00:00:01"
name = "Kitchen"
profile = "env-sensor"
position = [2.0, 3.0]
keep_connected = true
subscribe = ["2a6e", "2a6f"]

[[devices]]
address = "C0:00:00:00:00:02"
name = "Door beacon"
ibeacon = { uuid = "e2c56db5-dffb-48d2-b060-d0f5a71096e0", major = 1, minor = 7 }
advert_interval = "100ms"
path = { repeat = true, waypoints = [{ at = "0s", position = [0, 0] }, { at = "1m", position = [30, 0] }] }
"#;

fn error_of(text: &str) -> String {
    World::from_toml_str(text).unwrap_err().to_string()
}

#[test]
fn a_small_world_parses_with_defaults() {
    let world = World::from_toml_str(SMALL).unwrap();
    assert_eq!(world.radios[0].slot_limit, 5);
    assert_eq!(world.radios[1].slot_limit, 3);
    assert_eq!(world.radios[1].kind, RadioKind::EsphomeProxy);
    assert_eq!(
        world.radios[1].advert_batch.map(|b| b.max_adverts),
        Some(16)
    );
    assert_eq!(
        world.radios[1].connect_latency.min,
        std::time::Duration::from_millis(200)
    );
    let kitchen = &world.devices[0];
    assert!(kitchen.keep_connected && kitchen.connectable);
    assert_eq!(
        kitchen.subscribe,
        vec![uuid_from_u16(0x2A6E), uuid_from_u16(0x2A6F)]
    );
    assert_eq!(kitchen.advert.local_name.as_deref(), Some("Kitchen"));
    let beacon = &world.devices[1];
    assert!(!beacon.connectable);
    assert_eq!(
        beacon.advert.manufacturer_data.get(&0x004C).map(Vec::len),
        Some(23)
    );
    assert_eq!(world.keep_connected().count(), 1);
}

#[test]
fn bad_values_name_their_field() {
    let bad_address = SMALL.replace("A4:C1:38:00:00:01", "A4:C1:38:00:00");
    assert!(
        error_of(&bad_address).starts_with("devices[0].address:"),
        "{}",
        error_of(&bad_address)
    );
    let bad_kind = SMALL.replace("kind = \"esphome-proxy\"", "kind = \"walkie-talkie\"");
    assert!(error_of(&bad_kind).starts_with("radios[1].kind: unknown radio kind 'walkie-talkie'"));
    let zero_slots = SMALL.replace("position = [10.0, 0.0]", "slot_limit = 0");
    assert!(error_of(&zero_slots).starts_with("radios[1].slot_limit:"));
    let bad_duration = SMALL.replace("advert_interval = \"100ms\"", "advert_interval = \"soon\"");
    assert!(
        error_of(&bad_duration).starts_with("devices[1].advert_interval:"),
        "{}",
        error_of(&bad_duration)
    );
    let bad_subscription = SMALL.replace("\"2a6f\"", "\"2a19\"");
    assert!(error_of(&bad_subscription).starts_with("devices[0].subscribe[1]:"));
    let bad_probability = SMALL.replace("aborted = 0.1", "aborted = 1.5");
    assert!(error_of(&bad_probability).starts_with("radios[1].faults.aborted:"));
    let duplicate = SMALL.replace("C0:00:00:00:00:02", "A4:C1:38:00:00:01");
    assert!(error_of(&duplicate).starts_with("devices[1].address:"));
}

/// Bug 16: durations near 10^19 s made the simulation panic in a background task ("overflow
/// when adding duration to instant"), and NaN or infinite positions were accepted.
#[test]
fn absurd_durations_and_non_finite_positions_are_refused_by_name() {
    let huge = "\"10000000000000000000s\"";
    let long_interval = SMALL.replace(
        "advert_interval = \"100ms\"",
        &format!("advert_interval = {huge}"),
    );
    assert!(
        error_of(&long_interval).starts_with("devices[1].advert_interval:")
            && error_of(&long_interval).contains("ten years"),
        "{}",
        error_of(&long_interval)
    );
    let long_outage = SMALL.replace("until = \"11m\"", &format!("until = {huge}"));
    assert!(
        error_of(&long_outage).starts_with("radios[1].outages[0].until:"),
        "{}",
        error_of(&long_outage)
    );
    let long_timeout = SMALL.replace(
        "faults = {",
        &format!("connect_timeout = {huge}\nfaults = {{"),
    );
    assert!(
        error_of(&long_timeout).starts_with("radios[1].connect_timeout:"),
        "{}",
        error_of(&long_timeout)
    );
    let nan_radio = SMALL.replace("position = [10.0, 0.0]", "position = [nan, 0.0]");
    assert!(
        error_of(&nan_radio).starts_with("radios[1].position:"),
        "{}",
        error_of(&nan_radio)
    );
    let infinite_device = SMALL.replace("position = [2.0, 3.0]", "position = [2.0, inf]");
    assert!(
        error_of(&infinite_device).starts_with("devices[0].position:"),
        "{}",
        error_of(&infinite_device)
    );
    let far_waypoint = SMALL.replace("position = [30, 0]", "position = [3e9, 0]");
    assert!(
        error_of(&far_waypoint).starts_with("devices[1].path.waypoints[1].position:"),
        "{}",
        error_of(&far_waypoint)
    );
}

#[test]
fn unknown_fields_and_wrong_types_are_refused() {
    let typo = SMALL.replace("keep_connected", "keep_conected");
    assert!(
        error_of(&typo).contains("keep_conected"),
        "{}",
        error_of(&typo)
    );
    let wrong_type = SMALL.replace("major = 1", "major = \"one\"");
    assert!(error_of(&wrong_type).contains("malformed"));
    assert!(error_of("").starts_with("radios: a world needs at least one radio"));
}

#[test]
fn the_builder_runs_the_same_validation() {
    let address = Address::parse("A4:C1:38:00:00:01").unwrap();
    let world = World::builder()
        .radio(RadioSpec::esphome_proxy("p1").at(1.0, 1.0))
        .device(DeviceSpec::new(address).named("lamp"))
        .build()
        .unwrap();
    assert_eq!(world.devices[0].name.as_deref(), Some("lamp"));
    let err = World::builder()
        .radio(RadioSpec::local_controller("hci0").slots(0))
        .build();
    assert!(err
        .unwrap_err()
        .to_string()
        .starts_with("radios[0].slot_limit"));
}

#[test]
fn services_changes_parse_by_profile_or_table_and_refuse_by_name() {
    let world = World::from_toml_str(
        r#"
[[radios]]
name = "hci0"
kind = "local-controller"

[[devices]]
address = "A4:C1:38:00:00:01"
profile = "counter"

[[devices.services_changes]]
at = "30s"
profile = "heart-rate"

[[devices.services_changes]]
at = "1m"
  [[devices.services_changes.services]]
  uuid = "180f"
    [[devices.services_changes.services.characteristics]]
    uuid = "2a19"
    properties = ["read", "notify"]
    generator = { kind = "battery", every = "5s" }
"#,
    )
    .unwrap();
    let changes = &world.devices[0].services_changes;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].at, std::time::Duration::from_secs(30));
    assert_eq!(changes[0].gatt, SimGatt::heart_rate());
    assert_eq!(changes[1].gatt.services[0].uuid, uuid_from_u16(0x180F));
    let device = "[[radios]]\nname = \"hci0\"\nkind = \"local-controller\"\n\
                  [[devices]]\naddress = \"A4:C1:38:00:00:01\"\n[[devices.services_changes]]\n";
    assert_eq!(
        error_of(&format!("{device}at = \"1s\"\n")),
        "devices[0].services_changes[0]: give the new table as exactly one of `profile` or `services`"
    );
    assert!(
        error_of(&format!("{device}at = \"1s\"\nprofile = \"toaster\"\n"))
            .starts_with("devices[0].services_changes[0].profile: unknown profile 'toaster'"),
    );
    assert!(error_of(&format!(
        "{device}at = \"10000000000000000000s\"\nprofile = \"counter\"\n"
    ))
    .starts_with("devices[0].services_changes[0].at"));
}
