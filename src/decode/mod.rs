//! Sensor values read from advertisements: BTHome, Xiaomi MiBeacon, ATC/pvvx, Govee, Ruuvi,
//! SwitchBot, Inkbird, and the iBeacon/Eddystone frames, all behind one [`Decoder`] trait.
//!
//! Most sensors a hub hears never need a connection: they put their readings in their adverts.
//! Each format lives in its own file and implements [`Decoder`]; the [`Registry`] indexes the
//! decoders by what they claim (a service-data UUID, a company id, a name prefix) so one advert
//! costs a few map lookups before the one decoder that wants it runs, and adding a format is
//! one new file plus one line in [`Registry::standard`].
//!
//! Decoders are sans-IO and keep no state of their own. What a device needs remembered — its
//! bindkey and the last authenticated frame counter (the replay check) — lives in the
//! [`Keyring`] the caller passes in, so the same registry serves every device and every test.
//!
//! Bytes are hostile: every parser reads through [`bytes::Reader`], which cannot index out of
//! bounds (`clippy::indexing_slicing` is denied in the byte parsers), and a frame that is short,
//! inconsistent or fails authentication is a [`DecodeError`] naming the device, never a panic
//! and never a wrong value.
#![deny(clippy::indexing_slicing)]

pub mod atc;
pub mod beacons;
pub mod bthome;
pub mod bytes;
pub mod crypto;
pub mod govee;
pub mod inkbird;
pub mod keyring;
pub mod latest;
pub mod reading;
pub mod registry;
pub mod ruuvi;
pub mod switchbot;
pub mod xiaomi;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use crate::model::{Address, AdvertData};

pub use keyring::{Bindkey, DeviceSecrets, Keyring, ParseBindkeyError};
pub use latest::SensorReadings;
pub use reading::{Kind, Reading, Unit, Value};
pub use registry::Registry;

/// One advertisement as a decoder sees it: who sent it and what it said.
#[derive(Clone, Copy, Debug)]
pub struct AdvertIn<'a> {
    /// The sender's address (part of the nonce of encrypted formats).
    pub address: Address,
    /// The decoded AD structures.
    pub data: &'a AdvertData,
}

impl<'a> AdvertIn<'a> {
    /// Service data under a 16-bit SIG UUID.
    pub fn service_data16(&self, uuid16: u16) -> Option<&'a [u8]> {
        self.data
            .service_data
            .get(&crate::model::uuid_from_u16(uuid16))
            .map(Vec::as_slice)
    }

    /// Manufacturer data (after the company id) of one company.
    pub fn manufacturer(&self, company: u16) -> Option<&'a [u8]> {
        self.data.manufacturer_data.get(&company).map(Vec::as_slice)
    }

    /// The local name, or "" when the device sent none.
    pub fn name(&self) -> &'a str {
        self.data.local_name.as_deref().unwrap_or("")
    }
}

/// Where in an advert a decoder looks; the [`Registry`] offers it only adverts that have it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Service data under this 16-bit UUID.
    ServiceData(u16),
    /// Manufacturer data with this company id.
    Manufacturer(u16),
    /// A local name starting with this text.
    NamePrefix(&'static str),
}

/// What one advert said: its format, the device model, and every reading in it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Decoded {
    /// The format's short name (`bthome`, `xiaomi`, `atc1441`, `pvvx`, `govee`, …).
    pub format: &'static str,
    /// The device model, as precise as the advert allows.
    pub model: Cow<'static, str>,
    /// The readings, in the order the advert carried them.
    pub readings: Vec<Reading>,
}

impl Decoded {
    /// Starts a result with no readings.
    pub fn new(format: &'static str, model: impl Into<Cow<'static, str>>) -> Self {
        Self {
            format,
            model: model.into(),
            readings: Vec::new(),
        }
    }

    /// Adds a reading.
    pub fn push(&mut self, kind: Kind, value: impl Into<Value>, unit: Unit) {
        self.readings.push(Reading {
            kind,
            value: value.into(),
            unit,
        });
    }

    /// The first reading of one kind.
    pub fn get(&self, kind: Kind) -> Option<&Reading> {
        self.readings.iter().find(|reading| reading.kind == kind)
    }

    /// Every reading with a name unique within this advert: the kind, or `kind_1`, `kind_2`…
    /// when the advert carries several of one kind (two temperatures, three buttons). Stable
    /// names for publishing (MQTT topics, JSON keys).
    pub fn named_readings(&self) -> Vec<(String, &Reading)> {
        let mut seen: Vec<(Kind, usize)> = Vec::new();
        let total = |kind: Kind| self.readings.iter().filter(|r| r.kind == kind).count();
        self.readings
            .iter()
            .map(|reading| {
                let name = if total(reading.kind) > 1 {
                    let index = match seen.iter_mut().find(|(kind, _)| *kind == reading.kind) {
                        Some((_, count)) => {
                            *count += 1;
                            *count
                        }
                        None => {
                            seen.push((reading.kind, 1));
                            1
                        }
                    };
                    format!("{}_{index}", reading.kind.as_str())
                } else {
                    reading.kind.as_str().to_owned()
                };
                (name, reading)
            })
            .collect()
    }
}

impl Decoded {
    /// The readings in one short column: `21.4 °C 48 % 87 %🔋 motion open`. Frame counters
    /// and identities are left out; a state reads as its kind when on, `no kind` when off.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for reading in &self.readings {
            let part = match (&reading.value, reading.kind) {
                (_, Kind::PacketId | Kind::BeaconId | Kind::TxPower | Kind::Count) => continue,
                (Value::Number(n), Kind::Battery) => format!("{n} %🔋"),
                (Value::Bool(true), kind) => kind.as_str().to_owned(),
                (Value::Bool(false), kind) => format!("no {kind}"),
                _ => reading.to_string(),
            };
            parts.push(part);
        }
        parts.join(" ")
    }
}

impl fmt::Display for Decoded {
    /// `bthome (BTHome sensor): temperature 25.06 °C, humidity 50.55 %`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.format, self.model)?;
        for (i, reading) in self.readings.iter().enumerate() {
            let sep = if i == 0 { ": " } else { ", " };
            write!(f, "{sep}{} {reading}", reading.kind.as_str())?;
        }
        Ok(())
    }
}

/// What was wrong with a frame, in the decoder's words (the registry adds device and format).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The frame ends before a field it announces.
    #[error("frame is truncated: {needed} more bytes needed at offset {offset}")]
    Truncated {
        /// Offset of the field that did not fit.
        offset: usize,
        /// Bytes the field needed beyond the end.
        needed: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("{0}")]
    Invalid(String),
    /// A feature of the format this decoder does not read (mesh frames, legacy encryption).
    #[error("{0} is not supported")]
    Unsupported(String),
    /// The frame is encrypted and no bindkey is known for the device.
    #[error("frame is encrypted and no bindkey is configured for this device")]
    NoBindkey,
    /// Authentication failed: the bindkey is wrong or the frame was altered.
    #[error("decryption failed: wrong bindkey or tampered frame")]
    WrongKey,
    /// The frame's counter is not newer than the last authenticated one.
    #[error("replayed frame: counter {counter} is not above the last accepted {last}")]
    Replayed {
        /// The frame's counter.
        counter: u32,
        /// The last counter accepted from this device.
        last: u32,
    },
}

/// A frame that could not be decoded, with the device and the format named.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{format} advert from {device}: {problem}")]
pub struct DecodeError {
    /// The device that sent the frame.
    pub device: Address,
    /// The format whose decoder failed.
    pub format: &'static str,
    /// What was wrong.
    pub problem: Problem,
}

/// One advert format. Implementations are stateless; per-device memory is in `secrets`.
pub trait Decoder: Send + Sync + fmt::Debug {
    /// The decoder's short name, used in errors (`bthome`, `xiaomi`…).
    fn name(&self) -> &'static str;

    /// Where this decoder looks; it is offered only adverts that carry one of these.
    fn claims(&self) -> &'static [Claim];

    /// Decodes an advert. `Ok(None)`: the advert has what [`Decoder::claims`] names but is not
    /// this format after all (another Apple frame, a Govee advert of an unknown length).
    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem>;
}
