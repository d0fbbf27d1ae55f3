//! Shared test helpers for the format tests, and the properties every decoder must keep:
//! arbitrary service or manufacturer data never panics, and the registry routes by claim.
#![allow(clippy::indexing_slicing)] // tests index known-good fixtures

use proptest::prelude::*;

use super::*;
use crate::model::uuid_from_u16;

/// Hex text (spaces allowed) to bytes.
pub(crate) fn hex(text: &str) -> Vec<u8> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..clean.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
        .collect()
}

/// An address from text.
pub(crate) fn addr(text: &str) -> Address {
    Address::parse(text).unwrap()
}

/// Advert data with one service-data entry and a name.
pub(crate) fn service(uuid16: u16, payload: &str, name: &str) -> AdvertData {
    let mut data = AdvertData::default();
    data.service_data
        .insert(uuid_from_u16(uuid16), hex(payload));
    if !name.is_empty() {
        data.local_name = Some(name.to_owned());
    }
    data
}

/// Advert data with one manufacturer entry and a name.
pub(crate) fn manufacturer(company: u16, payload: &str, name: &str) -> AdvertData {
    let mut data = AdvertData::default();
    data.manufacturer_data.insert(company, hex(payload));
    if !name.is_empty() {
        data.local_name = Some(name.to_owned());
    }
    data
}

/// Decodes with the standard registry and no keys; panics on no claim or an error.
pub(crate) fn decode_plain(address: &str, data: &AdvertData) -> Decoded {
    Registry::standard()
        .decode(addr(address), data, &mut Keyring::new())
        .expect("a decoder claims it")
        .expect("it decodes")
}

/// Decodes with one device key.
pub(crate) fn decode_keyed(
    address: &str,
    key: &str,
    data: &AdvertData,
) -> Option<Result<Decoded, DecodeError>> {
    let mut keyring = Keyring::new();
    keyring.set_bindkey(addr(address), key.parse().unwrap());
    Registry::standard().decode(addr(address), data, &mut keyring)
}

/// The numbers of every reading of one kind, in order.
pub(crate) fn numbers(decoded: &Decoded, kind: Kind) -> Vec<f64> {
    decoded
        .readings
        .iter()
        .filter(|r| r.kind == kind)
        .filter_map(|r| r.value.as_f64())
        .collect()
}

/// Asserts a number within 1e-6 and its unit.
pub(crate) fn assert_reading(decoded: &Decoded, kind: Kind, value: f64, unit: Unit) {
    let reading = decoded
        .get(kind)
        .unwrap_or_else(|| panic!("no {kind} in {decoded}"));
    let got = reading.value.as_f64().unwrap();
    assert!(
        (got - value).abs() < 1e-6,
        "{kind}: expected {value}, got {got} ({decoded})"
    );
    assert_eq!(reading.unit, unit, "{kind} unit");
}

/// Asserts a boolean reading.
pub(crate) fn assert_state(decoded: &Decoded, kind: Kind, value: bool) {
    let reading = decoded
        .get(kind)
        .unwrap_or_else(|| panic!("no {kind} in {decoded}"));
    assert_eq!(reading.value, Value::Bool(value), "{kind} in {decoded}");
}

const ATC: &str = "A4:C1:38:8D:18:B2";

#[test]
fn adverts_nobody_claims_are_none_and_names_are_unique() {
    let registry = Registry::standard();
    let plain = manufacturer(0x1234, "0102", "Something");
    assert!(registry
        .decode(addr("11:22:33:44:55:66"), &plain, &mut Keyring::new())
        .is_none());
    let two = decode_plain(
        "A4:C1:38:8D:18:B2",
        &service(0xFCD2, "40 02ca09 02cf09 03bf13", ""),
    );
    let names: Vec<String> = two.named_readings().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["temperature_1", "temperature_2", "humidity"]);
    assert_eq!(
        two.to_string(),
        "bthome (BTHome sensor): temperature 25.06 °C, temperature 25.11 °C, humidity 50.55 %"
    );
    let shelly = decode_plain(ATC, &service(0xFCD2, "40002e01641e012e34451601", ""));
    assert_eq!(shelly.summary(), "100 %🔋 light 52 % 27.8 °C");
    let json = serde_json::to_value(&two).unwrap();
    assert_eq!(json["readings"][0]["kind"], "temperature");
    assert_eq!(json["readings"][0]["unit"], "°C");
    assert_eq!(json["readings"][0]["value"], 25.06);
}

/// Every claim the standard decoders make, as (service UUIDs, company ids).
fn claimed() -> (Vec<u16>, Vec<u16>) {
    let mut services = vec![
        0xFCD2, 0x181C, 0x181E, 0xFE95, 0x181A, 0xFD3D, 0x0D00, 0xFEAA,
    ];
    services.sort_unstable();
    let companies = vec![0xEC88, 0x0001, 0x8801, 0x0499, 0x0969, 0x004C];
    (services, companies)
}

proptest! {
    #[test]
    fn arbitrary_service_and_manufacturer_data_never_panics(
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        pick in 0usize..64,
        name_pick in 0usize..6,
        keyed in any::<bool>(),
    ) {
        let (services, companies) = claimed();
        let names = ["", "sps", "tps", "GVH5075_1234", "Govee_H5179_1", "ATC_123456"];
        let name = names[name_pick % names.len()];
        let mut data = AdvertData::default();
        if pick % 2 == 0 {
            data.service_data.insert(uuid_from_u16(services[pick / 2 % services.len()]), payload.clone());
        } else {
            data.manufacturer_data.insert(companies[pick / 2 % companies.len()], payload.clone());
        }
        if !name.is_empty() {
            data.local_name = Some(name.into());
        }
        let address = addr("A4:C1:38:8D:18:B2");
        let mut keyring = Keyring::new();
        if keyed {
            keyring.set_bindkey(address, Bindkey([0x5a; 16]));
        }
        let registry = Registry::standard();
        let _ = registry.decode(address, &data, &mut keyring);
        // Inkbird reads the company id itself: try the payload's first two bytes as one.
        if let [a, b, rest @ ..] = payload.as_slice() {
            let mut inkbird = AdvertData::default();
            inkbird.manufacturer_data.insert(u16::from_le_bytes([*a, *b]), rest.to_vec());
            inkbird.local_name = Some(name.into());
            let _ = registry.decode(address, &inkbird, &mut keyring);
        }
    }
}
