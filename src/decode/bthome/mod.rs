//! BTHome v2: service data under 0xFCD2, plain or AES-CCM encrypted (bthome.io/format).
//!
//! Layout: a device-info byte (bit 0 encrypted, bit 1 MAC included, bit 2 trigger-based,
//! bits 5–7 version = 2), the sender's MAC reversed if bit 1 is set, then objects: an object
//! id byte and a value whose size and scale the id fixes ([`objects::lookup`]); text and raw
//! objects carry a length byte. Several objects of one id are several readings, in order.
//!
//! Encrypted frames end in a 4-byte counter and a 4-byte tag; the nonce is MAC (6 bytes, most
//! significant first) + UUID `d2 fc` + the device-info byte + the counter, with no associated
//! data. The counter must rise per device ([`DeviceSecrets::accept_counter`]).
//!
//! An object id the spec does not define ends the frame: its size is unknown, so what follows
//! cannot be read, and the readings before it are kept (the reference decoder does the same).

pub mod objects;
pub mod v1;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use objects::{Form, Object};

use super::bytes::Reader;
use super::crypto::{self, TAG_LEN};
use super::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Kind, Problem, Unit};
use crate::config::decode::hex;
use crate::model::Address;

/// The BTHome v2 service UUID.
pub const UUID16: u16 = 0xFCD2;

/// The BTHome v2 decoder.
#[derive(Clone, Copy, Debug, Default)]
pub struct BtHome;

const ENCRYPTED: u8 = 0x01;
const MAC_INCLUDED: u8 = 0x02;

impl Decoder for BtHome {
    fn name(&self) -> &'static str {
        "bthome"
    }

    fn claims(&self) -> &'static [Claim] {
        &[Claim::ServiceData(UUID16)]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let Some(frame) = advert.service_data16(UUID16) else {
            return Ok(None);
        };
        let mut reader = Reader::new(frame);
        let info = reader.u8()?;
        let version = info >> 5;
        if version != 2 {
            return Err(Problem::Invalid(format!(
                "device-info byte 0x{info:02x} says BTHome version {version}; only 2 is defined"
            )));
        }
        let mac = if info & MAC_INCLUDED != 0 {
            let mut bytes = reader.array::<6>()?;
            bytes.reverse();
            Address::new(bytes)
        } else {
            advert.address
        };
        let body = reader.rest();
        let plain: Cow<'_, [u8]> = if info & ENCRYPTED != 0 {
            Cow::Owned(decrypt(body, mac, info, secrets)?)
        } else {
            Cow::Borrowed(body)
        };
        let mut decoded = Decoded::new("bthome", model_from_name(advert.name()));
        read_objects(&plain, &mut decoded)?;
        Ok(Some(decoded))
    }
}

/// The nonce of an encrypted v2 frame.
pub fn nonce(mac: Address, info: u8, counter: [u8; 4]) -> [u8; 13] {
    let mut nonce = [0u8; 13];
    let (head, tail) = nonce.split_at_mut(6);
    head.copy_from_slice(&mac.bytes());
    let (uuid_info, count) = tail.split_at_mut(3);
    uuid_info.copy_from_slice(&[0xD2, 0xFC, info]);
    count.copy_from_slice(&counter);
    nonce
}

fn decrypt(
    body: &[u8],
    mac: Address,
    info: u8,
    secrets: &mut DeviceSecrets,
) -> Result<Vec<u8>, Problem> {
    if body.len() < 4 + TAG_LEN + 1 {
        return Err(Problem::Invalid(format!(
            "encrypted frame has {} bytes after the header; it needs at least 9 \
             (data, 4-byte counter, 4-byte tag)",
            body.len()
        )));
    }
    let (ciphertext, trailer) = body.split_at(body.len() - 4 - TAG_LEN);
    let mut trailer = Reader::new(trailer);
    let counter = trailer.array::<4>()?;
    let tag = trailer.take(TAG_LEN)?;
    let key = secrets.key()?;
    let plain = crypto::open(key, &nonce(mac, info, counter), &[], ciphertext, tag)?;
    secrets.accept_counter(u32::from_le_bytes(counter))?;
    Ok(plain)
}

/// Reads v2 objects until the end or an id the spec does not define.
pub fn read_objects(payload: &[u8], decoded: &mut Decoded) -> Result<(), Problem> {
    let mut reader = Reader::new(payload);
    while !reader.is_empty() {
        let id = reader.u8()?;
        let Some(object) = objects::lookup(id) else {
            break;
        };
        let len = match object.form {
            Form::Text | Form::Raw => usize::from(reader.u8()?),
            _ => object.len,
        };
        let bytes = reader.take(len)?;
        push_value(object, bytes, decoded)?;
    }
    Ok(())
}

/// Turns one object's bytes into a reading (v1 and v2 share this).
pub fn push_value(object: Object, bytes: &[u8], decoded: &mut Decoded) -> Result<(), Problem> {
    let mut value = Reader::new(bytes);
    match object.form {
        Form::Number { signed, num, den } => {
            let raw = if signed {
                value.int_le(bytes.len())?
            } else {
                value.uint_le(bytes.len())? as i64
            };
            decoded.push(object.kind, objects::scale(raw, num, den), object.unit);
        }
        Form::Binary => decoded.push(object.kind, value.u8()? != 0, Unit::None),
        Form::Button => {
            if let Some(event) = objects::button_event(value.u8()?) {
                decoded.push(Kind::Button, event, Unit::None);
            }
        }
        Form::Dimmer => {
            let [event, steps] = value.array::<2>()?;
            let steps = f64::from(steps);
            match event {
                0 => decoded.push(Kind::Dimmer, 0.0, Unit::Steps),
                1 => decoded.push(Kind::Dimmer, -steps, Unit::Steps),
                2 => decoded.push(Kind::Dimmer, steps, Unit::Steps),
                _ => {}
            }
        }
        Form::Text => {
            if let Ok(text) = std::str::from_utf8(bytes) {
                decoded.push(Kind::Text, text, Unit::None);
            }
        }
        Form::Raw => decoded.push(Kind::Raw, hex(bytes), Unit::None),
        Form::Timestamp => {
            let seconds = value.u32_le()?;
            decoded.push(Kind::Timestamp, f64::from(seconds), Unit::Second);
        }
    }
    Ok(())
}

/// The model a BTHome device's name reveals (Shelly BLU names, b-parasite, ATC firmware).
fn model_from_name(name: &str) -> &'static str {
    const MODELS: &[(&str, &str)] = &[
        ("SBHT-", "Shelly BLU H&T"),
        ("SBBT-", "Shelly BLU Button"),
        ("SBDW-", "Shelly BLU Door/Window"),
        ("SBMO-", "Shelly BLU Motion"),
        ("SBTR-", "Shelly BLU TRV"),
        ("SBRC-", "Shelly BLU RC Button 4"),
        ("SBWS-", "Shelly BLU Weather Station"),
        ("prst", "b-parasite"),
        ("ATC_", "LYWSD03MMC (pvvx BTHome firmware)"),
        ("LYWSD03MMC", "LYWSD03MMC (pvvx BTHome firmware)"),
    ];
    MODELS
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map_or("BTHome sensor", |(_, model)| model)
}
