//! BTHome v1 (legacy, read-only): service data under 0x181C (plain) or 0x181E (encrypted).
//!
//! Each object starts with a control byte — bits 0–4 the object's length counting the
//! measurement-type byte, bits 5–7 its format (0 unsigned, 1 signed, 2 float, 3 text, 4 raw,
//! 5 timestamp) — then the measurement type (the v2 ids 0x00–0x14 mean the same) and the value.
//! Encrypted frames end in a 4-byte counter and a 4-byte tag; the nonce is MAC + `1e 18` +
//! counter and the associated data is `0x11`. bluefleet decodes v1 but never sends it.

use std::borrow::Cow;

use super::objects::{self, Form};
use crate::decode::bytes::Reader;
use crate::decode::crypto::{self, TAG_LEN};
use crate::decode::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Kind, Problem, Unit};

/// The plain v1 UUID.
pub const PLAIN_UUID16: u16 = 0x181C;
/// The encrypted v1 UUID.
pub const ENCRYPTED_UUID16: u16 = 0x181E;

/// The BTHome v1 decoder.
#[derive(Clone, Copy, Debug, Default)]
pub struct BtHomeV1;

impl Decoder for BtHomeV1 {
    fn name(&self) -> &'static str {
        "bthome-v1"
    }

    fn claims(&self) -> &'static [Claim] {
        &[
            Claim::ServiceData(PLAIN_UUID16),
            Claim::ServiceData(ENCRYPTED_UUID16),
        ]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let payload: Cow<'_, [u8]> = if let Some(plain) = advert.service_data16(PLAIN_UUID16) {
            Cow::Borrowed(plain)
        } else if let Some(sealed) = advert.service_data16(ENCRYPTED_UUID16) {
            Cow::Owned(decrypt(sealed, advert, secrets)?)
        } else {
            return Ok(None);
        };
        let mut decoded = Decoded::new("bthome-v1", "BTHome v1 sensor");
        read_objects(&payload, &mut decoded)?;
        Ok(Some(decoded))
    }
}

fn decrypt(
    sealed: &[u8],
    advert: &AdvertIn<'_>,
    secrets: &mut DeviceSecrets,
) -> Result<Vec<u8>, Problem> {
    if sealed.len() < 4 + TAG_LEN + 1 {
        return Err(Problem::Invalid(format!(
            "encrypted frame has {} bytes; it needs at least 9",
            sealed.len()
        )));
    }
    let (ciphertext, trailer) = sealed.split_at(sealed.len() - 4 - TAG_LEN);
    let mut trailer = Reader::new(trailer);
    let counter = trailer.array::<4>()?;
    let tag = trailer.take(TAG_LEN)?;
    let mut nonce = Vec::with_capacity(12);
    nonce.extend_from_slice(&advert.address.bytes());
    nonce.extend_from_slice(&[0x1E, 0x18]);
    nonce.extend_from_slice(&counter);
    let plain = crypto::open(secrets.key()?, &nonce, &[0x11], ciphertext, tag)?;
    secrets.accept_counter(u32::from_le_bytes(counter))?;
    Ok(plain)
}

fn read_objects(payload: &[u8], decoded: &mut Decoded) -> Result<(), Problem> {
    let mut reader = Reader::new(payload);
    while !reader.is_empty() {
        let control = reader.u8()?;
        let len = usize::from(control & 0x1F);
        let format = control >> 5;
        let object = reader.take(len)?;
        let Some((&id, value)) = object.split_first() else {
            continue;
        };
        let Some(meaning) = objects::lookup(id) else {
            continue;
        };
        match (format, meaning.form) {
            (0 | 1, Form::Number { num, den, .. }) => {
                let mut value_reader = Reader::new(value);
                let raw = if format == 1 {
                    value_reader.int_le(value.len())?
                } else {
                    value_reader.uint_le(value.len())? as i64
                };
                decoded.push(meaning.kind, objects::scale(raw, num, den), meaning.unit);
            }
            (2, Form::Number { num, den, .. }) => {
                let float = match *value {
                    [a, b] => half_to_f64(u16::from_le_bytes([a, b])),
                    [a, b, c, d] => f64::from(f32::from_le_bytes([a, b, c, d])),
                    _ => {
                        return Err(Problem::Invalid(format!(
                            "float object 0x{id:02x} of {} bytes (2 or 4 allowed)",
                            value.len()
                        )))
                    }
                };
                let scaled = (float * f64::from(num) / f64::from(den) * 1e6).round() / 1e6;
                decoded.push(meaning.kind, scaled, meaning.unit);
            }
            (5, _) => {
                let seconds = Reader::new(value).u32_le()?;
                decoded.push(Kind::Timestamp, f64::from(seconds), Unit::Second);
            }
            _ => super::push_value(meaning, value, decoded)?,
        }
    }
    Ok(())
}

/// An IEEE 754 half-precision float.
fn half_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1F);
    let mantissa = f64::from(bits & 0x3FF);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + mantissa / 1024.0) * 2f64.powi(exponent - 15),
    };
    sign * magnitude
}
