//! Decoding cost per advert for each format (issue 17): `cargo bench --bench decode`.
//!
//! Each benchmark runs the standard registry on one published sample advert (the same
//! vectors as the format tests): routing by claim, parsing, and for the encrypted formats
//! AES-CCM authentication and the replay check. Encrypted cases get a fresh keyring per
//! iteration (built outside the timed part), so every timed decode is a successful one.

use bluefleet::decode::{Bindkey, Keyring, Registry};
use bluefleet::model::{Address, AdvertData};
use divan::Bencher;

fn main() {
    divan::main();
}

fn hex(text: &str) -> Vec<u8> {
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    clean
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("00"), 16).unwrap_or(0))
        .collect()
}

/// (name, sender, AD structures, bindkey)
const SAMPLES: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "bthome",
        "A4:C1:38:8D:18:B2",
        "0A16D2FC4002CA0903BF13",
        None,
    ),
    (
        "bthome_encrypted",
        "54:48:E6:8F:80:A5",
        "1216D2FC41A47266C95F730011223378237214",
        Some("231d39c1d7cc1ab1aee224cd096db932"),
    ),
    (
        "bthome_v1",
        "A4:C1:38:8D:18:B2",
        "0E161C1823025D090303B71802015D",
        None,
    ),
    (
        "xiaomi",
        "A4:C1:38:B4:94:4C",
        "151695FE50305B05034C94B438C1A40D10041001EA01",
        None,
    ),
    (
        "xiaomi_encrypted",
        "A4:C1:38:02:83:F4",
        "1A1695FE58585B0550F4830238C1A495EF58763C26000097E2ABB5",
        Some("e9ea895fac7cca6d30532432a516f3a8"),
    ),
    (
        "atc1441",
        "A4:C1:38:D5:D4:98",
        "10161A18A4C138D5D49801453E510B7B62",
        None,
    ),
    (
        "pvvx",
        "A4:C1:38:CF:01:56",
        "12161A185601CF38C1A44008BD13470C64CC0F",
        None,
    ),
    (
        "govee",
        "A4:C1:38:DD:DB:F8",
        "09FF88EC00034DB26400080947564835303732",
        None,
    ),
    (
        "ruuvi",
        "CB:B8:33:4C:88:4F",
        "1BFF99040512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F",
        None,
    ),
    (
        "switchbot",
        "AA:BB:CC:DD:EE:FF",
        "09163DFD6900BA18993B",
        None,
    ),
    (
        "inkbird",
        "49:42:08:00:12:34",
        "0AFF660A03150010805908040973707300",
        None,
    ),
    (
        "ibeacon",
        "C0:00:00:00:00:01",
        "1AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E000010002C5",
        None,
    ),
    (
        "eddystone",
        "C0:00:00:00:00:02",
        "1116AAFE20000BB81880000004D200000E10",
        None,
    ),
    (
        "unclaimed",
        "11:22:33:44:55:66",
        "05FF341201020201 06",
        None,
    ),
];

#[divan::bench(args = SAMPLES.iter().map(|s| s.0))]
fn decode(bencher: Bencher<'_, '_>, name: &str) {
    let Some(&(_, sender, raw, key)) = SAMPLES.iter().find(|s| s.0 == name) else {
        return;
    };
    let registry = Registry::standard();
    let address = Address::parse(sender).unwrap_or(Address::new([0; 6]));
    let data = AdvertData::parse(&hex(raw)).unwrap_or_default();
    let key: Option<Bindkey> = key.and_then(|k| k.parse().ok());
    // The sample must decode (or, for the stranger, be unclaimed) before it is timed.
    let mut check = Keyring::new();
    if let Some(key) = key {
        check.set_bindkey(address, key);
    }
    let outcome = registry.decode(address, &data, &mut check);
    assert_eq!(outcome.is_none(), name == "unclaimed", "{name}");
    assert!(outcome.is_none_or(|r| r.is_ok()), "{name} decodes");
    bencher
        .with_inputs(|| {
            let mut keyring = Keyring::new();
            if let Some(key) = key {
                keyring.set_bindkey(address, key);
            }
            keyring
        })
        .bench_local_refs(|keyring| registry.decode(address, &data, keyring));
}
