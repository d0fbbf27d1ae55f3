//! MiBeacon on the test vectors of the reference decoder Bluetooth-Devices/xiaomi-ble
//! (`tests/test_parser.py`): each test names the upstream test whose service data, address,
//! bindkey and expected values it reuses.

use crate::decode::tests::{
    addr, assert_reading, assert_state, decode_keyed, decode_plain, service,
};
use crate::decode::{Keyring, Kind, Problem, Registry, Unit};

#[test]
fn plain_v2_and_v3_frames() {
    // test_Xiaomi_LYWSDCGQ (v2, MAC included): 18.0 °C, 66.1 %, battery 59 %.
    let d = decode_plain(
        "58:2D:34:3B:2E:BF",
        &service(0xFE95, "5020aa01a3bf2e3b342d580d1004b40095020a10013b", ""),
    );
    assert_eq!((d.format, d.model.as_ref()), ("xiaomi", "LYWSDCGQ"));
    assert_reading(&d, Kind::Temperature, 18.0, Unit::Celsius);
    assert_reading(&d, Kind::Humidity, 66.1, Unit::Percent);
    assert_reading(&d, Kind::Battery, 59.0, Unit::Percent);
    // test_Xiaomi_LYWSD03MMC (v3): 27.2 °C, 49 %.
    let d = decode_plain(
        "A4:C1:38:B4:94:4C",
        &service(0xFE95, "50305b05034c94b438c1a40d10041001ea01", ""),
    );
    assert_eq!(d.model, "LYWSD03MMC");
    assert_reading(&d, Kind::Temperature, 27.2, Unit::Celsius);
    assert_reading(&d, Kind::Humidity, 49.0, Unit::Percent);
    // test_Xiaomi_HHCCJCY01 (capability byte): the plant sensor's 19.6 °C.
    let d = decode_plain(
        "C4:7C:8D:6B:4F:F3",
        &service(0xFE95, "7120980012f34f6b8d7cc40d041002c400", ""),
    );
    assert_eq!(d.model, "HHCCJCY01");
    assert_reading(&d, Kind::Temperature, 19.6, Unit::Celsius);
}

#[test]
fn encrypted_v4_v5_frames_decrypt_with_their_bindkeys() {
    // (upstream test, address, key, service data, kind, value)
    let cases: &[(&str, &str, &str, Kind, f64, Unit)] = &[
        // test_Xiaomi_LYWSD03MMC_encrypted
        (
            "A4:C1:38:02:83:F4",
            "e9ea895fac7cca6d30532432a516f3a8",
            "58585b0550f4830238c1a495ef58763c26000097e2abb5",
            Kind::Humidity,
            46.0,
            Unit::Percent,
        ),
        // test_Xiaomi_CGG1
        (
            "5A:58:2D:34:12:5F",
            "814aac74c4f17b6c1581e1ab87816b99",
            "5858480b685f12342d585a0b1841e2aa000e00a4964fb5",
            Kind::Humidity,
            59.6,
            Unit::Percent,
        ),
        // test_Xiaomi_XMWSDJ04MMC (no MAC in the frame: the sender's address is used)
        (
            "2C:11:65:25:70:04",
            "b2cf9a553d53571b5657defd582d676e",
            "48590312a41b776e7c96add7000000f2bf545b",
            Kind::Humidity,
            45.0,
            Unit::Percent,
        ),
        // test_Xiaomi_MJWSD06MMC_temperature
        (
            "A4:C1:38:80:15:07",
            "4d8f1373fb4d3bab557d0ebd1c78f8c4",
            "4859b5553a8699bda053448f1200005b046d6a",
            Kind::Temperature,
            25.2,
            Unit::Celsius,
        ),
        // test_Xiaomi_HS1BB_illuminanca_and_motion (0x4a08: motion + lux as f32)
        (
            "A4:C1:38:05:8E:E9",
            "7475a4a77584401780ffc3ee62dd353c",
            "4859eb2ac2fce02ca0b43af2380000a2d9f05f",
            Kind::Illuminance,
            228.0,
            Unit::Lux,
        ),
    ];
    for (address, key, payload, kind, value, unit) in cases {
        let d = decode_keyed(address, key, &service(0xFE95, payload, ""))
            .unwrap()
            .unwrap_or_else(|err| panic!("{address}: {err}"));
        assert_reading(&d, *kind, *value, *unit);
    }
    // test_Xiaomi_MCCGQ02HL: the door sensor reports open and left open.
    let d = decode_keyed(
        "E4:AA:EC:81:21:AE",
        "017e52d2684779298709b117c0a75a7b",
        &service(0xFE95, "58588b09a3ae2181ecaae40e2c553c040000d28a500c", ""),
    )
    .unwrap()
    .unwrap();
    assert_eq!(d.model, "MCCGQ02HL");
    assert_state(&d, Kind::Opening, true);
    assert_state(&d, Kind::LeftOpen, true);
    // test_Xiaomi_RTCGQ02LM_light_and_motion.
    let d = decode_keyed(
        "18:C2:3C:20:8E:77",
        "4960bb9f8711b4ffd7df1756d11427ae",
        &service(
            0xFE95,
            "58598d0a8c778e203cc2185a273628ec32060000c4264015",
            "",
        ),
    )
    .unwrap()
    .unwrap();
    assert_state(&d, Kind::Motion, true);
    assert_state(&d, Kind::Light, true);
    // test_Xiaomi_MS1BB_MI_obj4a13: a button press event.
    let d = decode_keyed(
        "A4:C1:38:66:E5:67",
        "0fdcc30fe9289254876b5ef7c11ef1f0",
        &service(0xFE95, "585989189167e56638c1a4d6120d6d2600006fbc0cb4", ""),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        d.get(Kind::Button).map(|r| r.value.clone()),
        Some("press".into())
    );
}

#[test]
fn wrong_key_missing_key_replay_and_bad_frames_are_errors() {
    // test_bindkey_wrong: RTCGQ02LM frame with a key that is not its own.
    let frame = service(
        0xFE95,
        "58598d0a170fc4e044ef547cc27a5c03a1000000790df258",
        "",
    );
    let err = decode_keyed(
        "54:EF:44:E0:C4:0F",
        "814aac74c4f17b6c1581e1ab87816b99",
        &frame,
    )
    .unwrap()
    .unwrap_err();
    assert_eq!(err.problem, Problem::WrongKey);
    assert_eq!(err.format, "xiaomi");
    assert!(err.to_string().contains("54:EF:44:E0:C4:0F"), "{err}");
    let registry = Registry::standard();
    let mut keyring = Keyring::new();
    let sender = addr("A4:C1:38:02:83:F4");
    let sealed = service(0xFE95, "58585b0550f4830238c1a495ef58763c26000097e2abb5", "");
    let err = registry
        .decode(sender, &sealed, &mut keyring)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.problem, Problem::NoBindkey);
    keyring.set_bindkey(sender, "e9ea895fac7cca6d30532432a516f3a8".parse().unwrap());
    assert!(registry
        .decode(sender, &sealed, &mut keyring)
        .unwrap()
        .is_ok());
    let err = registry
        .decode(sender, &sealed, &mut keyring)
        .unwrap()
        .unwrap_err();
    assert!(matches!(err.problem, Problem::Replayed { .. }), "{err}");
    // The MAC inside the frame must be the sender's.
    let err = registry
        .decode(addr("11:22:33:44:55:66"), &sealed, &mut keyring)
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().contains("carries MAC A4:C1:38:02:83:F4"),
        "{err}"
    );
    // Mesh, version 1, legacy encryption, truncation.
    // test_bindkey_wrong_legacy's frame (v3, encrypted) for the legacy case.
    for (sender, payload, needle) in [
        ("58:2D:34:3B:2E:BF", "d050aa01a3", "mesh"),
        ("58:2D:34:3B:2E:BF", "1010aa01a3", "version 1"),
        (
            "F8:24:41:C5:98:8B",
            "5830b603d28b98c54124f8c3491476757e00000099",
            "legacy",
        ),
        ("58:2D:34:3B:2E:BF", "5020aa01", "truncated"),
        (
            "58:2D:34:3B:2E:BF",
            "5020aa01a3bf2e3b342d580d1004b400",
            "truncated",
        ),
    ] {
        let err = Registry::standard()
            .decode(
                addr(sender),
                &service(0xFE95, payload, ""),
                &mut Keyring::new(),
            )
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{payload}: {err}");
    }
}
