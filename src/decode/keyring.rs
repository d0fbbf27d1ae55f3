//! Per-device secrets for encrypted formats: the bindkey and the replay counter.
//!
//! Owns [`Bindkey`] (16 bytes, parsed from 32 hex digits), [`DeviceSecrets`] and [`Keyring`],
//! the map from device address to its secrets. The counter is the last one that
//! *authenticated*: a frame whose counter is not above it is refused as a replay, and a frame
//! that fails authentication never moves it. Devices without a bindkey get no entry, so the
//! keyring does not grow with every plain sensor a hub hears.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::model::Address;

use super::Problem;

/// A 16-byte AES key shared with an encrypted sensor.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Bindkey(pub [u8; 16]);

impl fmt::Debug for Bindkey {
    /// Keys stay out of logs: only the first byte is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bindkey({:02x}…)", self.0[0])
    }
}

/// Why text is not a bindkey.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseBindkeyError {
    /// Not 32 hex digits long.
    #[error("a bindkey is 32 hex digits (16 bytes), found {found} characters")]
    WrongLength {
        /// Characters found (spaces, colons and dashes excluded).
        found: usize,
    },
    /// A character that is not a hex digit.
    #[error("a bindkey is hex digits only, found '{character}'")]
    NotHex {
        /// The offending character.
        character: char,
    },
}

impl FromStr for Bindkey {
    type Err = ParseBindkeyError;

    /// Parses `231d39c1d7cc1ab1aee224cd096db932` (any case; spaces, `:` and `-` ignored).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits: Vec<char> = text
            .trim()
            .trim_start_matches("0x")
            .chars()
            .filter(|c| !matches!(c, ' ' | ':' | '-'))
            .collect();
        if let Some(&character) = digits.iter().find(|c| !c.is_ascii_hexdigit()) {
            return Err(ParseBindkeyError::NotHex { character });
        }
        if digits.len() != 32 {
            return Err(ParseBindkeyError::WrongLength {
                found: digits.len(),
            });
        }
        let mut key = [0u8; 16];
        for (byte, pair) in key.iter_mut().zip(digits.chunks(2)) {
            let text: String = pair.iter().collect();
            *byte = u8::from_str_radix(&text, 16).map_err(|_| ParseBindkeyError::NotHex {
                character: pair.first().copied().unwrap_or('?'),
            })?;
        }
        Ok(Bindkey(key))
    }
}

/// What is remembered about one device for its encrypted frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSecrets {
    /// The device's bindkey, if the user gave one.
    pub bindkey: Option<Bindkey>,
    /// The last authenticated frame counter.
    pub last_counter: Option<u32>,
}

impl DeviceSecrets {
    /// Secrets with a key and no counter yet.
    pub fn with_key(bindkey: Bindkey) -> Self {
        Self {
            bindkey: Some(bindkey),
            last_counter: None,
        }
    }

    /// The bindkey, or [`Problem::NoBindkey`].
    pub fn key(&self) -> Result<&Bindkey, Problem> {
        self.bindkey.as_ref().ok_or(Problem::NoBindkey)
    }

    /// Refuses a counter not above the last accepted one; call only after authentication
    /// succeeded, so a forged frame cannot move the counter.
    pub fn accept_counter(&mut self, counter: u32) -> Result<(), Problem> {
        if let Some(last) = self.last_counter {
            if counter <= last {
                return Err(Problem::Replayed { counter, last });
            }
        }
        self.last_counter = Some(counter);
        Ok(())
    }
}

/// Bindkeys and replay counters by device.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    devices: HashMap<Address, DeviceSecrets>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) a device's bindkey; its replay counter starts over.
    pub fn set_bindkey(&mut self, address: Address, bindkey: Bindkey) {
        self.devices
            .insert(address, DeviceSecrets::with_key(bindkey));
    }

    /// The bindkey of a device, if any.
    pub fn bindkey(&self, address: &Address) -> Option<Bindkey> {
        self.devices.get(address).and_then(|s| s.bindkey)
    }

    /// The last authenticated counter of a device.
    pub fn last_counter(&self, address: &Address) -> Option<u32> {
        self.devices.get(address).and_then(|s| s.last_counter)
    }

    /// Runs `f` with the device's secrets; a device without an entry gets fresh, throw-away
    /// ones (it has no key, so nothing about it needs remembering).
    pub fn with<T>(&mut self, address: Address, f: impl FnOnce(&mut DeviceSecrets) -> T) -> T {
        match self.devices.get_mut(&address) {
            Some(secrets) => f(secrets),
            None => f(&mut DeviceSecrets::default()),
        }
    }

    /// How many devices have a key.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether no device has a key.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindkeys_parse_from_hex_and_bad_text_is_named() {
        let key: Bindkey = "231D39C1-D7CC1AB1 aee224cd096db932".parse().unwrap();
        assert_eq!(key.0[0], 0x23);
        assert_eq!(key.0[15], 0x32);
        assert_eq!(
            "231d".parse::<Bindkey>(),
            Err(ParseBindkeyError::WrongLength { found: 4 })
        );
        assert_eq!(
            "zz1d39c1d7cc1ab1aee224cd096db932".parse::<Bindkey>(),
            Err(ParseBindkeyError::NotHex { character: 'z' })
        );
        assert!(!format!("{key:?}").contains("1d39"));
    }

    #[test]
    fn counters_must_rise_and_unknown_devices_leave_no_trace() {
        let mut secrets = DeviceSecrets::default();
        assert_eq!(secrets.accept_counter(5), Ok(()));
        assert_eq!(
            secrets.accept_counter(5),
            Err(Problem::Replayed {
                counter: 5,
                last: 5
            })
        );
        assert_eq!(secrets.accept_counter(6), Ok(()));
        let mut keyring = Keyring::new();
        let address = Address::new([1, 2, 3, 4, 5, 6]);
        keyring.with(address, |s| s.accept_counter(9)).unwrap();
        assert!(keyring.is_empty());
    }
}
