//! Workload spec v1 of the habluetooth anchor (`../shared/anchors/habluetooth_bench/README.md`),
//! generated from its text: SplitMix64 draws, 1000 devices in seven classes, four scanners,
//! rounds of a fixed permutation with misses, jitter and movers. Checked by SHA-256 against
//! the README's digests before any clock starts.
//!
//! Records are kept compact (12 bytes: scanner, device, RSSI, payload index, time) and every
//! distinct payload once, so a million adverts fit in ~15 MB; the bench radios turn a record
//! into a `RawAdvert` (a reference-counted slice, no copy) as they hand it over.

use bytes::Bytes;
use sha2::{Digest, Sha256};

const SEED: u64 = 0x5EED_B1E5_F1EE_7001;
pub const DEVICES: usize = 1000;
pub const SCANNERS: usize = 4;

/// The README's digests by record count.
pub const KNOWN_DIGESTS: [(usize, &str); 2] = [
    (
        1_000,
        "0e18e2166eac132c353cbd39cad33753b339a6f8b2202558a17f42dc03ca01ec",
    ),
    (
        1_000_000,
        "ee31f90f63affeacbacf02d0dfc8b4f004d6b3961f24ca819a8150d7cd1a9f83",
    ),
];

/// One record of the stream.
#[derive(Clone, Copy, Debug)]
pub struct Record {
    pub device: u16,
    pub rssi: i8,
    pub payload: u32,
    pub t_us: u32,
}

/// Device classes, by `d % 20`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    BtHome,
    MiBeacon,
    Govee,
    IBeacon,
    AppleNoise,
    SwitchBot,
    Generic,
}

impl Class {
    pub fn of(device: usize) -> Self {
        match device % 20 {
            0..=5 => Class::BtHome,
            6 | 7 => Class::MiBeacon,
            8..=10 => Class::Govee,
            11 | 12 => Class::IBeacon,
            13..=15 => Class::AppleNoise,
            16..=18 => Class::SwitchBot,
            _ => Class::Generic,
        }
    }

    /// Rounds per payload version (`None`: the payload never changes).
    fn rounds_per_version(self) -> Option<usize> {
        match self {
            Class::BtHome => Some(10),
            Class::MiBeacon => Some(5),
            Class::Govee => Some(4),
            Class::IBeacon => None,
            Class::AppleNoise => Some(3),
            Class::SwitchBot => Some(30),
            Class::Generic => Some(60),
        }
    }
}

/// The device's address bytes, display order.
pub fn device_address(device: usize) -> [u8; 6] {
    [
        0xE0,
        0x5E,
        0xED,
        0x00,
        (device / 256) as u8,
        (device % 256) as u8,
    ]
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn structure(out: &mut Vec<u8>, ad_type: u8, value: &[u8]) {
    out.push(value.len() as u8 + 1);
    out.push(ad_type);
    out.extend_from_slice(value);
}

/// The class payload of device `d` at version `v`.
pub fn payload(d: usize, v: usize) -> Vec<u8> {
    const FLAGS: [u8; 3] = [0x02, 0x01, 0x06];
    let mac = device_address(d);
    let mut out = Vec::with_capacity(31);
    match Class::of(d) {
        Class::BtHome => {
            out.extend_from_slice(&FLAGS);
            let temp = (2000 + (7 * d + 3 * v) % 500) as u16;
            let hum = (4000 + (11 * d + 5 * v) % 2000) as u16;
            let mut value = vec![0xD2, 0xFC, 0x40, 0x00, (v % 256) as u8, 0x01];
            value.push((50 + d % 50) as u8);
            value.push(0x02);
            value.extend_from_slice(&temp.to_le_bytes());
            value.push(0x03);
            value.extend_from_slice(&hum.to_le_bytes());
            structure(&mut out, 0x16, &value);
        }
        Class::MiBeacon => {
            out.extend_from_slice(&FLAGS);
            let temp = (200 + (3 * d + v) % 100) as u16;
            let hum = (400 + (5 * d + 2 * v) % 300) as u16;
            let mut value = vec![0x95, 0xFE, 0x50, 0x20, 0x1C, 0x0A, (v % 256) as u8];
            value.extend(mac.iter().rev());
            value.extend_from_slice(&[0x0D, 0x10, 0x04]);
            value.extend_from_slice(&temp.to_le_bytes());
            value.extend_from_slice(&hum.to_le_bytes());
            structure(&mut out, 0x16, &value);
        }
        Class::Govee => {
            out.extend_from_slice(&FLAGS);
            structure(&mut out, 0x09, format!("GVH5075_{d:04X}").as_bytes());
            let packed = (215_000 + (13 * d + 7 * v) % 50_000) as u32;
            let mut value = vec![0x88, 0xEC, 0x00];
            value.extend_from_slice(&packed.to_be_bytes()[1..]);
            value.push((60 + d % 40) as u8);
            value.push(0x00);
            structure(&mut out, 0xFF, &value);
        }
        Class::IBeacon => {
            out.extend_from_slice(&FLAGS);
            let mut value = vec![0x4C, 0x00, 0x02, 0x15];
            value.extend_from_slice(&[
                0xE2, 0xC5, 0x6D, 0xB5, 0xDF, 0xFB, 0x48, 0xD2, 0xB0, 0x60, 0xD0, 0xF5, 0xA7, 0x10,
                0x96, 0xE0,
            ]);
            value.extend_from_slice(&[0x00, 0x01]);
            value.extend_from_slice(&(d as u16).to_be_bytes());
            value.push(0xC5);
            structure(&mut out, 0xFF, &value);
        }
        Class::AppleNoise => {
            out.extend_from_slice(&[0x02, 0x01, 0x1A]);
            let mut value = vec![0x4C, 0x00, 0x0C, 0x0E];
            value.extend((0..14).map(|i| ((31 * d + 17 * v + 13 * i) % 256) as u8));
            structure(&mut out, 0xFF, &value);
        }
        Class::SwitchBot => {
            out.extend_from_slice(&FLAGS);
            structure(&mut out, 0x03, &[0x3D, 0xFD]);
            structure(
                &mut out,
                0x16,
                &[0x3D, 0xFD, 0x54, 0x00, (100 - v % 10) as u8],
            );
            let mut value = vec![0x69, 0x09];
            value.extend_from_slice(&mac);
            value.push((v % 256) as u8);
            value.extend_from_slice(&((200 + (d + v) % 300) as u16).to_le_bytes());
            structure(&mut out, 0xFF, &value);
        }
        Class::Generic => {
            out.extend_from_slice(&FLAGS);
            structure(&mut out, 0x09, format!("Dev{d:04X}").as_bytes());
            structure(&mut out, 0x03, &[0x1A, 0x18, 0x0F, 0x18]);
            let mut value = vec![0xFF, 0xFF];
            value.extend_from_slice(&(v as u32).to_le_bytes());
            structure(&mut out, 0xFF, &value);
            out.extend_from_slice(&[0x02, 0x0A, 0x04]);
        }
    }
    out
}

/// The generated stream: records per scanner in stream order, distinct payloads, digest.
#[derive(Clone)]
pub struct Workload {
    pub by_scanner: [Vec<Record>; SCANNERS],
    pub payloads: Vec<Bytes>,
    pub sha256: String,
    pub records: usize,
}

impl Workload {
    /// The first `n` records of spec v1.
    pub fn generate(n: usize) -> Self {
        let mut rng = SplitMix64(SEED);
        let mut hearing: Vec<Vec<usize>> = Vec::with_capacity(DEVICES);
        let mut base = vec![[0i64; SCANNERS]; DEVICES];
        for levels in base.iter_mut() {
            let k = 1 + (rng.next() % SCANNERS as u64) as usize;
            let s0 = (rng.next() % SCANNERS as u64) as usize;
            let mut set: Vec<usize> = (0..k).map(|j| (s0 + j) % SCANNERS).collect();
            set.sort_unstable();
            for &s in &set {
                levels[s] = -95 + (rng.next() % 51) as i64;
            }
            hearing.push(set);
        }
        let mut by_scanner: [Vec<Record>; SCANNERS] = Default::default();
        // Every distinct payload in one buffer, as a receive buffer holds them: the adverts
        // handed to bluefleet are slices sharing one reference count.
        let mut arena: Vec<u8> = Vec::new();
        let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
        let mut current: Vec<Option<(usize, u32)>> = vec![None; DEVICES];
        let mut sha = Sha256::new();
        let mut emitted = 0;
        let mut round = 0;
        while emitted < n {
            for j in 0..DEVICES {
                if emitted == n {
                    break;
                }
                let d = (389 * j + 17 * round) % DEVICES;
                let v = Class::of(d).rounds_per_version().map_or(0, |e| round / e);
                let index = match current[d] {
                    Some((version, index)) if version == v => index,
                    _ => {
                        let start = arena.len();
                        arena.extend_from_slice(&payload(d, v));
                        spans.push(start..arena.len());
                        let index = (spans.len() - 1) as u32;
                        current[d] = Some((v, index));
                        index
                    }
                };
                let bytes = &arena[spans[index as usize].clone()];
                let set = &hearing[d];
                let favoured =
                    (d % 50 == 7 && set.len() > 1).then(|| set[(round / 50) % set.len()]);
                for &s in set {
                    let (u1, u2) = (rng.next(), rng.next());
                    if u1 % 100 < 10 || emitted == n {
                        continue;
                    }
                    let boost = if favoured == Some(s) { 20 } else { 0 };
                    let rssi = (base[d][s] + (u2 % 13) as i64 - 6 + boost) as i8;
                    let t_us = 1_000_000 * round + 1_000 * j + 200 * s;
                    sha.update([s as u8]);
                    sha.update((d as u16).to_le_bytes());
                    sha.update([rssi as u8]);
                    sha.update((t_us as i64).to_le_bytes());
                    sha.update([bytes.len() as u8]);
                    sha.update(bytes);
                    by_scanner[s].push(Record {
                        device: d as u16,
                        rssi,
                        payload: index,
                        t_us: t_us as u32,
                    });
                    emitted += 1;
                }
            }
            round += 1;
        }
        let sha256 = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let arena = Bytes::from(arena);
        let payloads = spans.into_iter().map(|span| arena.slice(span)).collect();
        Self {
            by_scanner,
            payloads,
            sha256,
            records: emitted,
        }
    }

    /// Checks the digest against `known` (record count → SHA-256): the built-in table or an
    /// anchor README's. `Ok(true)`: a digest for this length exists and matches; `Ok(false)`:
    /// none is known for this length; `Err`: the generator and that table disagree, so the
    /// figures would not be of workload spec v1.
    pub fn check(&self, known: &[(usize, String)], source: &str) -> Result<bool, String> {
        match known.iter().find(|(n, _)| *n == self.records) {
            None => Ok(false),
            Some((_, digest)) if *digest == self.sha256 => Ok(true),
            Some((_, digest)) => Err(format!(
                "spec-v1: the generated {} records hash to {} but {source} says {digest}; not workload spec v1, refusing to measure",
                self.records, self.sha256
            )),
        }
    }
}

/// The built-in digests, as [`Workload::check`] takes them.
pub fn known_digests() -> Vec<(usize, String)> {
    KNOWN_DIGESTS
        .iter()
        .map(|(n, digest)| (*n, (*digest).to_owned()))
        .collect()
}

/// The digests of an anchor README's "Check" table: rows `| 1,000 | `<64 hex>` |`.
pub fn readme_digests(readme: &str) -> Vec<(usize, String)> {
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let count: usize = cells.get(1)?.replace(',', "").parse().ok()?;
            let digest = cells.get(2)?.trim_matches('`');
            (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (count, digest.to_ascii_lowercase()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_thousand_records_match_the_readme() {
        let workload = Workload::generate(1_000);
        assert_eq!(
            workload.check(&known_digests(), "the built-in table"),
            Ok(true),
            "{}",
            workload.sha256
        );
        let first = workload.by_scanner[0][0];
        assert_eq!((first.device, first.rssi, first.t_us), (0, -47, 0));
        let hex: String = workload.payloads[first.payload as usize]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "0201060e16d2fc400000013202d00703a00f");
    }

    #[test]
    fn a_readme_with_another_digest_is_refused() {
        let workload = Workload::generate(1_000);
        let readme = "| N | SHA-256 |\n| --- | --- |\n| 1,000 | `0e18e2166eac132c353cbd39cad33753b339a6f8b2202558a17f42dc03ca01ed` |\n";
        let digests = readme_digests(readme);
        assert_eq!(digests.len(), 1);
        let err = workload.check(&digests, "README.md").unwrap_err();
        assert!(
            err.contains("README.md says 0e18") && err.contains("refusing"),
            "{err}"
        );
        assert_eq!(
            workload.check(&readme_digests("| 5 | `ab` |"), "x"),
            Ok(false)
        );
    }
}
