//! [`PackedMap`]: a device's manufacturer data or service data, every entry in one
//! exactly-sized byte buffer.
//!
//! Why: a list of `(key, Box<[u8]>)` costs two allocations for the one entry a typical sensor
//! sends (the list and the value, 32 bytes each with the allocator's overhead for 8 bytes of
//! data); thousands of advertising devices make that a large part of the "a few hundred
//! bytes per advertising device" budget (design goal G5). Here an entry is its key's bytes, a
//! little-endian `u16` length and the value, back to back, so a device's map is one
//! allocation. Lookups walk the buffer, which is fastest at the one to three entries a real
//! advert carries; a value of unchanged length is overwritten in place, so re-merging a
//! changed reading allocates nothing.
//!
//! The buffer is only ever written by [`PackedMap::upsert`], so it always parses; reads still
//! go through `get`, never indexing, and stop at the first entry that would not fit.

use std::marker::PhantomData;

use uuid::Uuid;

/// A key of a [`PackedMap`]: fixed-size bytes.
pub trait PackedKey: Copy + PartialEq {
    /// How many bytes the key takes.
    const LEN: usize;
    /// The key's bytes (`LEN` of them).
    fn write(&self, out: &mut Vec<u8>);
    /// The key from exactly `LEN` bytes.
    fn read(bytes: &[u8]) -> Option<Self>;
}

impl PackedKey for u16 {
    const LEN: usize = 2;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(u16::from_le_bytes(bytes.try_into().ok()?))
    }
}

impl PackedKey for Uuid {
    const LEN: usize = 16;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(Uuid::from_bytes(bytes.try_into().ok()?))
    }
}

/// Values by key in one buffer, in first-inserted order.
#[derive(Clone, PartialEq, Eq)]
pub struct PackedMap<K> {
    bytes: Box<[u8]>,
    key: PhantomData<K>,
}

impl<K> Default for PackedMap<K> {
    fn default() -> Self {
        Self {
            bytes: Box::default(),
            key: PhantomData,
        }
    }
}

impl<K: PackedKey + std::fmt::Debug> std::fmt::Debug for PackedMap<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Where one entry's value sits in the buffer.
struct Slot<K> {
    key: K,
    value: std::ops::Range<usize>,
}

impl<K: PackedKey> PackedMap<K> {
    fn slots(&self) -> impl Iterator<Item = Slot<K>> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let key = K::read(self.bytes.get(at..at + K::LEN)?)?;
            let len_at = at + K::LEN;
            let len = self.bytes.get(len_at..len_at + 2)?;
            let len = usize::from(u16::from_le_bytes(len.try_into().ok()?));
            let start = len_at + 2;
            self.bytes.get(start..start + len)?;
            at = start + len;
            Some(Slot {
                key,
                value: start..start + len,
            })
        })
    }

    /// Every entry, in first-inserted order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &[u8])> + '_ {
        self.slots()
            .map(|slot| (slot.key, self.bytes.get(slot.value).unwrap_or_default()))
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&[u8]> {
        self.iter().find(|(k, _)| k == key).map(|(_, value)| value)
    }

    /// Sets `key` to `value`; overwrites in place when the length is unchanged, else rebuilds
    /// the buffer. Returns whether anything changed. A value longer than `u16::MAX` bytes
    /// (no advert carries one) is cut to that length.
    pub fn upsert(&mut self, key: K, value: &[u8]) -> bool {
        let value = value.get(..usize::from(u16::MAX)).unwrap_or(value);
        let found = self.slots().find(|slot| slot.key == key);
        if let Some(slot) = &found {
            match self.bytes.get_mut(slot.value.clone()) {
                Some(current) if *current == *value => return false,
                Some(current) if current.len() == value.len() => {
                    current.copy_from_slice(value);
                    return true;
                }
                _ => {}
            }
        }
        let mut rebuilt = Vec::with_capacity(self.bytes.len() + K::LEN + 2 + value.len());
        let mut put = |key: K, value: &[u8]| {
            key.write(&mut rebuilt);
            let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
            rebuilt.extend_from_slice(&len.to_le_bytes());
            rebuilt.extend_from_slice(value);
        };
        let mut replaced = false;
        for (k, v) in self.iter() {
            if k == key {
                put(k, value);
                replaced = true;
            } else {
                put(k, v);
            }
        }
        if !replaced {
            put(key, value);
        }
        self.bytes = rebuilt.into_boxed_slice();
        true
    }

    /// The keys, in first-inserted order.
    pub fn keys(&self) -> impl Iterator<Item = K> + '_ {
        self.slots().map(|slot| slot.key)
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_order_and_values_change_in_place_or_by_rebuild() {
        let mut map = PackedMap::<u16>::default();
        assert!(map.upsert(0x0499, &[1, 2]));
        assert!(map.upsert(0x004C, &[0x02, 0x15]));
        assert!(
            !map.upsert(0x0499, &[1, 2]),
            "the same value changes nothing"
        );
        assert!(map.upsert(0x0499, &[3, 4]), "same length: in place");
        assert!(map.upsert(0x004C, &[]), "shorter: rebuilt");
        assert!(map.upsert(0x0499, &[5, 6, 7]), "longer: rebuilt");
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            [(0x0499, &[5u8, 6, 7][..]), (0x004C, &[][..])]
        );
        assert_eq!(map.get(&0x004C), Some(&[][..]));
        assert_eq!(map.get(&0x0001), None);
        assert_eq!(map.keys().collect::<Vec<_>>(), [0x0499, 0x004C]);
        assert_eq!(map.heap_bytes(), 2 * 4 + 3);
    }

    #[test]
    fn uuid_keys_and_a_value_past_the_length_field_are_kept_whole_up_to_its_limit() {
        let mut map = PackedMap::<Uuid>::default();
        let uuid = crate::model::uuid_from_u16(0xFCD2);
        let long = vec![7u8; usize::from(u16::MAX) + 10];
        assert!(map.upsert(uuid, &long));
        assert_eq!(map.get(&uuid).map(<[u8]>::len), Some(usize::from(u16::MAX)));
        assert!(!map.upsert(uuid, &long), "the cut value is the same value");
    }
}
