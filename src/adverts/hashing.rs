//! Cheap hashing for the advert hot path: payload fingerprints and the device map's hasher.
//!
//! Owns [`PayloadFingerprint`] (a 64-bit digest of an advert's payload, so "same bytes as last
//! time" costs one hash and one compare instead of a merge) and [`AddressHashBuilder`] (the
//! device map keys by six-byte addresses; SipHash would be the largest cost of the unchanged
//! path). A device that crafts a colliding payload only hides its own change from itself.
//!
//! Gotcha: the hasher has a fixed seed, which makes iteration order (and so the order of
//! `Disappeared` events) the same on every run, good for seeded simulations; the price is that
//! someone in radio range who broadcasts many addresses chosen to collide could slow the map
//! down. If that ever matters, seed it per process.
//!
//! Sits under [`super::AdvertPipeline::ingest`], which fingerprints every advert before it
//! looks at the decoded fields. The mixer is the "folded multiply" construction: multiply two
//! 64-bit words to 128 bits and xor the halves.
#![deny(clippy::indexing_slicing)]

use std::hash::{BuildHasherDefault, Hasher};

use crate::model::{AdvertData, Advertisement};

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
const SEED: u64 = 0x243F_6A88_85A3_08D3;

fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A streaming 64-bit mixer over bytes and integers.
#[derive(Clone, Copy, Debug)]
pub struct FoldHasher {
    state: u64,
}

impl Default for FoldHasher {
    fn default() -> Self {
        Self { state: SEED }
    }
}

impl FoldHasher {
    fn mix_word(&mut self, word: u64) {
        self.state = fold_multiply(self.state ^ word, MULTIPLIER);
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix_word(u64::from_le_bytes(word));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut word = [0u8; 8];
            if let Some(prefix) = word.get_mut(..tail.len()) {
                prefix.copy_from_slice(tail);
            }
            self.mix_word(u64::from_le_bytes(word));
        }
        self.mix_word(bytes.len() as u64);
    }

    fn write_u8(&mut self, value: u8) {
        self.mix_word(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.mix_word(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.mix_word(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.mix_word(value as u64);
    }

    fn finish(&self) -> u64 {
        fold_multiply(self.state, MULTIPLIER ^ SEED)
    }
}

/// Builds [`FoldHasher`]s for the device map.
pub type AddressHashBuilder = BuildHasherDefault<FoldHasher>;

/// A 64-bit digest of what an advert said: its raw bytes when the radio sent bytes, else its
/// decoded fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PayloadFingerprint(u64);

impl PayloadFingerprint {
    /// Fingerprints one advert.
    pub fn of(advert: &Advertisement) -> Self {
        match &advert.raw {
            Some(raw) => Self::of_bytes(raw),
            None => {
                let mut hasher = FoldHasher::default();
                hash_fields(&advert.data, &mut hasher);
                Self(hasher.finish())
            }
        }
    }

    /// Fingerprints raw AD bytes (the same digest [`Self::of`] gives an advert carrying them).
    pub fn of_bytes(raw: &[u8]) -> Self {
        let mut hasher = FoldHasher::default();
        hasher.write(raw);
        Self(hasher.finish())
    }
}

/// Hashes decoded fields; each field is tagged so an empty field cannot alias its neighbour.
fn hash_fields(data: &AdvertData, hasher: &mut FoldHasher) {
    if let Some(name) = &data.local_name {
        hasher.write_u8(1);
        hasher.write(name.as_bytes());
    }
    for (company, bytes) in &data.manufacturer_data {
        hasher.write_u8(2);
        hasher.write_u16(*company);
        hasher.write(bytes);
    }
    for (uuid, bytes) in &data.service_data {
        hasher.write_u8(3);
        hasher.write(uuid.as_bytes());
        hasher.write(bytes);
    }
    for uuid in &data.service_uuids {
        hasher.write_u8(4);
        hasher.write(uuid.as_bytes());
    }
    if let Some(power) = data.tx_power_dbm {
        hasher.write_u16(0x500 | u16::from(power as u8));
    }
    if let Some(flags) = data.flags {
        hasher.write_u16(0x600 | u16::from(flags));
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index known-good fixtures
mod tests {
    use super::*;
    use crate::model::{Address, RadioId};
    use bytes::Bytes;
    use std::collections::BTreeMap;
    use tokio::time::Instant;

    fn raw_advert(raw: &'static [u8]) -> Advertisement {
        let address = Address::new([1, 2, 3, 4, 5, 6]);
        Advertisement::from_raw(
            address,
            RadioId::new("p"),
            -60,
            Instant::now(),
            Bytes::from_static(raw),
        )
        .unwrap()
    }

    #[test]
    fn equal_payloads_have_equal_fingerprints_and_one_changed_byte_differs() {
        let a = raw_advert(&[0x05, 0xFF, 0x99, 0x04, 0x01, 0x02]);
        let b = raw_advert(&[0x05, 0xFF, 0x99, 0x04, 0x01, 0x02]);
        let c = raw_advert(&[0x05, 0xFF, 0x99, 0x04, 0x01, 0x03]);
        assert_eq!(PayloadFingerprint::of(&a), PayloadFingerprint::of(&b));
        assert_ne!(PayloadFingerprint::of(&a), PayloadFingerprint::of(&c));
    }

    #[test]
    fn decoded_only_adverts_are_fingerprinted_by_their_fields() {
        let mut a = raw_advert(&[0x05, 0xFF, 0x99, 0x04, 0x01, 0x02]);
        a.raw = None;
        let mut b = a.clone();
        assert_eq!(PayloadFingerprint::of(&a), PayloadFingerprint::of(&b));
        b.data.manufacturer_data = BTreeMap::from([(0x0499, vec![1, 3])]);
        assert_ne!(PayloadFingerprint::of(&a), PayloadFingerprint::of(&b));
        b.data = a.data.clone();
        b.data.local_name = Some(String::new());
        assert_ne!(PayloadFingerprint::of(&a), PayloadFingerprint::of(&b));
    }

    #[test]
    fn trailing_zero_bytes_change_the_fingerprint() {
        let mut short = FoldHasher::default();
        short.write(&[1, 2, 3]);
        let mut long = FoldHasher::default();
        long.write(&[1, 2, 3, 0]);
        assert_ne!(short.finish(), long.finish());
    }
}
