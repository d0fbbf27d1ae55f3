//! BTHome v1/v2 on the test vectors of the reference decoder, Bluetooth-Devices/bthome-ble
//! (`tests/test_parser_v2.py`, `tests/test_parser_v1.py`): each test names the upstream test
//! whose payload, address, key and expected values it reuses.
#![allow(clippy::indexing_slicing)] // tests index known-good fixtures

use crate::decode::tests::{
    addr, assert_reading, assert_state, decode_keyed, decode_plain, hex, numbers, service,
};
use crate::decode::{Bindkey, Keyring, Kind, Problem, Registry, Unit, Value};

const ATC: &str = "A4:C1:38:8D:18:B2";
const SHELLY: &str = "54:48:E6:8F:80:A5";
const KEY: &str = "231d39c1d7cc1ab1aee224cd096db932";

fn v2(payload: &str) -> crate::decode::Decoded {
    decode_plain(ATC, &service(0xFCD2, payload, "TEST DEVICE"))
}

#[test]
fn temperature_humidity_battery_and_packet_id() {
    // test_bthome_temperature_humidity: 25.06 °C, 50.55 %.
    let d = decode_plain(ATC, &service(0xFCD2, "4002ca0903bf13", "ATC_8D18B2"));
    assert_eq!(d.format, "bthome");
    assert_eq!(d.model, "LYWSD03MMC (pvvx BTHome firmware)");
    assert_reading(&d, Kind::Temperature, 25.06, Unit::Celsius);
    assert_reading(&d, Kind::Humidity, 50.55, Unit::Percent);
    // test_bthome_packet_id_temperature_humidity_battery.
    let d = v2("400009015d025d0903b718");
    assert_reading(&d, Kind::PacketId, 9.0, Unit::None);
    assert_reading(&d, Kind::Battery, 93.0, Unit::Percent);
    assert_reading(&d, Kind::Temperature, 23.97, Unit::Celsius);
    assert_reading(&d, Kind::Humidity, 63.27, Unit::Percent);
}

#[test]
fn every_numeric_object_of_the_spec_scales_as_published() {
    // (payload, kind, value, unit) from the upstream test named in each comment.
    let cases: &[(&str, Kind, f64, Unit)] = &[
        ("4004138a01", Kind::Pressure, 1008.83, Unit::HectoPascal), // test_bthome_pressure
        ("4005138a14", Kind::Illuminance, 13460.67, Unit::Lux),     // test_bthome_illuminance
        ("40065e1f", Kind::Weight, 80.3, Unit::Kilogram),           // test_bthome_mass_kilograms
        ("40073e1d", Kind::Weight, 74.86, Unit::Pound),             // test_bthome_mass_pounds
        ("4008ca06", Kind::DewPoint, 17.38, Unit::Celsius),         // test_bthome_dew_point
        ("400960", Kind::Count, 96.0, Unit::None),                  // test_bthome_count
        ("400a138a14", Kind::Energy, 1346.067, Unit::KilowattHour), // test_bthome_energy
        ("400b021b00", Kind::Power, 69.14, Unit::Watt),             // test_bthome_power
        ("400c020c", Kind::Voltage, 3.074, Unit::Volt),             // test_bthome_voltage
        ("4012e204", Kind::Co2, 1250.0, Unit::Ppm),                 // test_bthome_co2
        ("40133301", Kind::Tvoc, 307.0, Unit::MicrogramPerCubicMetre), // test_bthome_voc
        ("4014020c", Kind::Moisture, 30.74, Unit::Percent),         // test_bthome_moisture
        ("403f020c", Kind::Rotation, 307.4, Unit::Degree),          // test_bthome_rotation
        ("40400c00", Kind::Distance, 12.0, Unit::Millimetre), // test_bthome_distance_millimeters
        ("40414e00", Kind::Distance, 7.8, Unit::Metre),       // test_bthome_distance_meters
        ("40424e3400", Kind::Duration, 13.39, Unit::Second),  // test_bthome_duration
        ("40434e34", Kind::Current, 13.39, Unit::Ampere),     // test_bthome_current
        ("40444e34", Kind::Speed, 133.9, Unit::MetrePerSecond), // test_bthome_speed
        ("40624099dfff", Kind::Speed, -2.123456, Unit::MetrePerSecond), // test_bthome_speed_signed
        ("40451101", Kind::Temperature, 27.3, Unit::Celsius), // test_bthome_temperature_2
        ("404632", Kind::UvIndex, 5.0, Unit::None),           // test_bthome_uv_index
        ("40478756", Kind::Volume, 2215.1, Unit::Litre),      // test_bthome_volume_liters
        ("4048dc87", Kind::Volume, 34780.0, Unit::Millilitre), // test_bthome_volume_milliliters
        (
            "4049dc87",
            Kind::VolumeFlowRate,
            34.78,
            Unit::CubicMetrePerHour,
        ), // _volume_flow_rate
        ("404a020c", Kind::Voltage, 307.4, Unit::Volt),       // test_bthome_voltage_2
        ("404b138a14", Kind::Gas, 1346.067, Unit::CubicMetre), // test_bthome_gas
        ("404c41018a01", Kind::Gas, 25821.505, Unit::CubicMetre), // test_bthome_gas_2
        ("404d12138a14", Kind::Energy, 344593.17, Unit::KilowattHour), // test_bthome_energy_2
        ("404e87562a01", Kind::Volume, 19551.879, Unit::Litre), // test_bthome_volume_liters_2
        ("404f87562a01", Kind::Water, 19551.879, Unit::Litre), // test_bthome_volume_water
        ("44505d396164", Kind::Timestamp, 1684093277.0, Unit::Second), // test_bthome_timestamp
        (
            "44518756",
            Kind::Acceleration,
            22.151,
            Unit::MetrePerSecondSquared,
        ), // _acceleration
        (
            "40630057d0ff",
            Kind::Acceleration,
            -3.123456,
            Unit::MetrePerSecondSquared,
        ), // _signed
        ("44528756", Kind::Gyroscope, 22.151, Unit::DegreePerSecond), // test_bthome_gyroscope
        ("405587562a01", Kind::VolumeStorage, 19551.879, Unit::Litre), // _volume_storage
        (
            "4056e803",
            Kind::Conductivity,
            1000.0,
            Unit::MicrosiemensPerCm,
        ), // _conductivity
        ("4057ea", Kind::Temperature, -22.0, Unit::Celsius),  // test_bthome_temperature_1_byte
        ("4058ea", Kind::Temperature, -7.7, Unit::Celsius),   // test_bthome_temperature_1_byte_2
        ("4059ea", Kind::Count, -22.0, Unit::None),           // test_bthome_count_signed
        ("405aeaea", Kind::Count, -5398.0, Unit::None),       // test_bthome_count_signed_2_bytes
        ("405bea0234ea", Kind::Count, -365690134.0, Unit::None), // _count_signed_4_bytes
        ("405c02fbffff", Kind::Power, -12.78, Unit::Watt),    // test_bthome_power_signed
        ("405d02ea", Kind::Current, -5.63, Unit::Ampere),     // test_bthome_current_signed
        ("406001", Kind::Channel, 1.0, Unit::None),           // test_bthome_channel
        ("4061ac0d", Kind::RotationalSpeed, 3500.0, Unit::Rpm), // _revolutions_per_minute
        ("406402", Kind::LightLevel, 2.0, Unit::None),        // test_bthome_light_level
    ];
    for (payload, kind, value, unit) in cases {
        assert_reading(&v2(payload), *kind, *value, *unit);
    }
    // test_bthome_pm: two objects, two kinds.
    let d = v2("400d120c0e021c");
    assert_reading(&d, Kind::Pm25, 3090.0, Unit::MicrogramPerCubicMetre);
    assert_reading(&d, Kind::Pm10, 7170.0, Unit::MicrogramPerCubicMetre);
    // test_bthome_direction_precipitation.
    let d = v2("405e3f755f11d5");
    assert_reading(&d, Kind::Direction, 300.15, Unit::Degree);
    assert_reading(&d, Kind::Precipitation, 5454.5, Unit::Millimetre);
}

#[test]
fn binary_sensors_text_raw_and_the_mac_variant() {
    assert_state(&v2("400f01"), Kind::Binary, true); // test_bthome_binary_sensor
    assert_state(&v2("401001"), Kind::PowerOn, true); // test_bthome_binary_sensor_power
    assert_state(&v2("401100"), Kind::Opening, false); // test_bthome_binary_sensor_opening
    assert_state(&v2("402d01"), Kind::Window, true); // test_bthome_binary_sensor_window
    let text = v2("44530c48656c6c6f20576f726c6421"); // test_bthome_text
    assert_eq!(
        text.get(Kind::Text).unwrap().value,
        Value::from("Hello World!")
    );
    let raw = v2("44540c48656c6c6f20576f726c6421"); // test_bthome_raw
    assert_eq!(
        raw.get(Kind::Raw).unwrap().value,
        Value::from("48656c6c6f20576f726c6421")
    );
    assert!(v2("44530187").get(Kind::Text).is_none()); // test_bthome_text_invalid
                                                       // test_bthome_with_mac: the MAC in the frame, then the pressure.
    assert_reading(
        &v2("42b2188d38c1a404138a01"),
        Kind::Pressure,
        1008.83,
        Unit::HectoPascal,
    );
    // test_shelly_blu_ht_display_zb: packet id, battery, 1-byte humidity, temperature, light.
    let d = decode_plain(
        ATC,
        &service(0xFCD2, "40002e01641e012e34451601", "SBHT-103C"),
    );
    assert_eq!(d.model, "Shelly BLU H&T");
    assert_reading(&d, Kind::PacketId, 46.0, Unit::None);
    assert_reading(&d, Kind::Battery, 100.0, Unit::Percent);
    assert_reading(&d, Kind::Humidity, 52.0, Unit::Percent);
    assert_reading(&d, Kind::Temperature, 27.8, Unit::Celsius);
    assert_state(&d, Kind::Light, true);
}

#[test]
fn several_objects_of_one_type_and_button_and_dimmer_events() {
    // test_bthome_triple_temperature_double_humidity_battery.
    let d = v2("4002ca0902cf0902cf0803b71803b717015d");
    assert_eq!(numbers(&d, Kind::Temperature), [25.06, 25.11, 22.55]);
    assert_eq!(numbers(&d, Kind::Humidity), [63.27, 60.71]);
    assert_eq!(numbers(&d, Kind::Battery), [93.0]);
    // test_bthome_double_voltage_different_object_id: 0x0c and 0x4a both voltage.
    let d = v2("4000010b0000004a0d0901330ce90c");
    assert_eq!(numbers(&d, Kind::Voltage), [231.7, 3.305]);
    assert_eq!(numbers(&d, Kind::Battery), [51.0]);
    assert_eq!(numbers(&d, Kind::Power), [0.0]);
    // test_bthome_event_triple_button_device: none, press, triple_press keep their positions.
    let d = v2("403a003a013a03");
    let buttons: Vec<&Value> = d.readings.iter().map(|r| &r.value).collect();
    assert_eq!(
        buttons,
        [
            &Value::from("none"),
            &Value::from("press"),
            &Value::from("triple_press")
        ]
    );
    assert_eq!(v2("403a80").readings[0].value, Value::from("hold_press")); // _hold_press
    assert_eq!(v2("403a04").readings[0].value, Value::from("long_press")); // _long_press
    assert!(v2("403afe").readings.is_empty()); // test_bthome_invalid_button_event
                                               // test_bthome_event_dimmer_rotate_left_3_steps.
    assert_reading(&v2("403c0103"), Kind::Dimmer, -3.0, Unit::Steps);
}

#[test]
fn unknown_ids_end_the_frame_and_bad_frames_are_errors() {
    // test_bthome_battery_wrong_object_id_humidity: the battery before 0xfe is kept.
    let d = v2("40015dfe5d0903b718");
    assert_eq!(numbers(&d, Kind::Battery), [93.0]);
    assert_eq!(d.readings.len(), 1);
    let registry = Registry::standard();
    let mut keyring = Keyring::new();
    let mut fail = |payload: &str| {
        registry
            .decode(addr(ATC), &service(0xFCD2, payload, ""), &mut keyring)
            .unwrap()
            .unwrap_err()
    };
    // test_bthome_invalid_object_payload_data_length: humidity cut short.
    let err = fail("4002ca0903bf");
    assert!(matches!(err.problem, Problem::Truncated { .. }), "{err}");
    assert_eq!(err.device, addr(ATC));
    // test_has_incorrect_version: version bits 7.
    let err = fail("e102000c0404138a01");
    assert!(err.to_string().contains("BTHome version 7"), "{err}");
    assert!(err.to_string().contains("A4:C1:38:8D:18:B2"), "{err}");
    let err = fail("");
    assert!(matches!(err.problem, Problem::Truncated { .. }), "{err}");
}

#[test]
fn encrypted_frames_decrypt_with_their_key_and_a_wrong_key_names_the_device() {
    // test_bindkey_correct: Shelly BLU H&T, key 231d…b932.
    let frame = service(0xFCD2, "41a47266c95f730011223378237214", "SBHT-003C");
    let d = decode_keyed(SHELLY, KEY, &frame).unwrap().unwrap();
    assert_reading(&d, Kind::Temperature, 25.06, Unit::Celsius);
    assert_reading(&d, Kind::Humidity, 50.55, Unit::Percent);
    // test_bthome_motion: encrypted Shelly BLU Motion.
    let motion = service(0xFCD2, "4187b90011223372b0231f", "SBMO-003Z");
    assert_state(
        &decode_keyed(SHELLY, KEY, &motion).unwrap().unwrap(),
        Kind::Motion,
        true,
    );
    // test_bindkey_wrong: the ATC frame with another key.
    let wrong = service(0xFCD2, "41d2fcefe52eb212d600112233bc38c966", "Test Sensor");
    let err = decode_keyed(ATC, "814aac74c4f17b6c1581e1ab87816b99", &wrong)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.problem, Problem::WrongKey);
    assert_eq!(
        err.to_string(),
        "bthome advert from A4:C1:38:8D:18:B2: decryption failed: wrong bindkey or tampered frame"
    );
    // No key at all: a clear error, not readings.
    let err = Registry::standard()
        .decode(addr(SHELLY), &frame, &mut Keyring::new())
        .unwrap()
        .unwrap_err();
    assert_eq!(err.problem, Problem::NoBindkey);
    // test_too_short_encryption_advertisement.
    let short = service(0xFCD2, "41ba0db07aeef600", "");
    let err = decode_keyed(SHELLY, KEY, &short).unwrap().unwrap_err();
    assert!(err.to_string().contains("at least 9"), "{err}");
}

#[test]
fn the_replay_counter_is_kept_per_device() {
    // test_increasing_encryption_counter / test_decreasing_encryption_counter: counters
    // 0x00112233 LE = 0x33221100, then 0x00112234 LE and 0x00112232 LE.
    let registry = Registry::standard();
    let mut keyring = Keyring::new();
    let shelly = addr(SHELLY);
    keyring.set_bindkey(shelly, KEY.parse().unwrap());
    let first = service(0xFCD2, "41e445f3c9962b332211006c7c4519", "");
    let newer = service(0xFCD2, "413e932cc7175f34221100553876af", "");
    let older = service(0xFCD2, "41723d3035fb88322211009e7414c0", "");
    assert!(registry
        .decode(shelly, &first, &mut keyring)
        .unwrap()
        .is_ok());
    assert_eq!(keyring.last_counter(&shelly), Some(0x0011_2233));
    // The same frame again is a replay.
    let err = registry
        .decode(shelly, &first, &mut keyring)
        .unwrap()
        .unwrap_err();
    assert!(matches!(err.problem, Problem::Replayed { .. }), "{err}");
    assert!(registry
        .decode(shelly, &newer, &mut keyring)
        .unwrap()
        .is_ok());
    let err = registry
        .decode(shelly, &older, &mut keyring)
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.problem,
        Problem::Replayed {
            counter: 0x0011_2232,
            last: 0x0011_2234
        }
    );
    // A wrong-key attempt does not move the counter.
    let mut other = Keyring::new();
    other.set_bindkey(shelly, Bindkey([0; 16]));
    assert!(registry
        .decode(shelly, &newer, &mut other)
        .unwrap()
        .is_err());
    assert_eq!(other.last_counter(&shelly), None);
}

#[test]
fn bthome_v1_plain_float_and_encrypted() {
    // test_parser_v1.py test_bthome_temperature_humidity_battery (UUID 0x181C).
    let d = decode_plain(ATC, &service(0x181C, "23025d090303b71802015d", ""));
    assert_eq!(d.format, "bthome-v1");
    assert_reading(&d, Kind::Temperature, 23.97, Unit::Celsius);
    assert_reading(&d, Kind::Humidity, 63.27, Unit::Percent);
    assert_reading(&d, Kind::Battery, 93.0, Unit::Percent);
    // test_bthome_mass_kilograms (v1): a half-precision float.
    let d = decode_plain(ATC, &service(0x181C, "4306fe70", ""));
    assert_reading(&d, Kind::Weight, 102.24, Unit::Kilogram);
    // test_bthome_event_dimmer_rotate_left_3_steps (v1).
    assert_reading(
        &decode_plain(ATC, &service(0x181C, "033c0103", "")),
        Kind::Dimmer,
        -3.0,
        Unit::Steps,
    );
    // test_parser_v1.py test_bindkey_correct (UUID 0x181E).
    let sealed = service(0x181E, "fba435e4d3c312fb0011223357d90a99", "");
    let d = decode_keyed(SHELLY, KEY, &sealed).unwrap().unwrap();
    assert_reading(&d, Kind::Temperature, 25.06, Unit::Celsius);
    assert_reading(&d, Kind::Humidity, 50.55, Unit::Percent);
    let err = decode_keyed(SHELLY, "814aac74c4f17b6c1581e1ab87816b99", &sealed)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.problem, Problem::WrongKey);
    assert_eq!(hex("00"), [0]);
}
