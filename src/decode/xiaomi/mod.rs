//! Xiaomi MiBeacon: service data under 0xFE95, versions 2–5, plain or (v4/v5) AES-CCM.
//!
//! Layout (facts from the reference decoder Bluetooth-Devices/xiaomi-ble): frame control
//! (u16 LE: bit 3 encrypted, bit 4 MAC included, bit 5 capability included, bit 6 object
//! included, bit 7 mesh, bits 12–15 version), product id (u16 LE, the model), frame counter
//! (u8), the MAC reversed if bit 4, a capability byte if bit 5 (and an I/O byte when the
//! capability has bit 5), then objects: type (u16 LE), length (u8), value.
//!
//! Encrypted v4/v5 frames end in a 3-byte extended counter and a 4-byte tag; the nonce is
//! the reversed MAC + product id + frame counter + extended counter, the associated data is
//! `0x11`. The extended counter and the frame counter together are the replay counter.
//! Legacy v2/v3 encryption (12-byte keys) and mesh frames are reported as unsupported.

pub mod models;
pub mod objects;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use super::bytes::Reader;
use super::crypto::{self, TAG_LEN};
use super::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Problem};

/// The MiBeacon service UUID.
pub const UUID16: u16 = 0xFE95;

/// The MiBeacon decoder.
#[derive(Clone, Copy, Debug, Default)]
pub struct MiBeacon;

const ENCRYPTED: u16 = 1 << 3;
const MAC_INCLUDED: u16 = 1 << 4;
const CAPABILITY_INCLUDED: u16 = 1 << 5;
const OBJECT_INCLUDED: u16 = 1 << 6;
const MESH: u16 = 1 << 7;

impl Decoder for MiBeacon {
    fn name(&self) -> &'static str {
        "xiaomi"
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
        let control = reader.u16_le()?;
        let product_id = reader.u16_le()?;
        let frame_counter = reader.u8()?;
        let version = control >> 12;
        if control & MESH != 0 {
            return Err(Problem::Unsupported("MiBeacon mesh frames".into()));
        }
        if version < 2 {
            return Err(Problem::Unsupported(format!("MiBeacon version {version}")));
        }
        if control & MAC_INCLUDED != 0 {
            let mut mac = reader.array::<6>()?;
            mac.reverse();
            if mac != advert.address.bytes() {
                return Err(Problem::Invalid(format!(
                    "frame carries MAC {} but was sent by {}",
                    crate::model::Address::new(mac),
                    advert.address
                )));
            }
        }
        if control & CAPABILITY_INCLUDED != 0 {
            let capability = reader.u8()?;
            if capability & 0x20 != 0 {
                reader.u8()?;
            }
        }
        let model: Cow<'static, str> = match models::model(product_id) {
            Some(model) => Cow::Borrowed(model),
            None => Cow::Owned(format!("Xiaomi product 0x{product_id:04x}")),
        };
        let mut decoded = Decoded::new("xiaomi", model);
        if control & OBJECT_INCLUDED == 0 {
            return Ok(Some(decoded));
        }
        let payload: Cow<'_, [u8]> = if control & ENCRYPTED != 0 {
            if version <= 3 {
                return Err(Problem::Unsupported(
                    "legacy MiBeacon v2/v3 encryption".into(),
                ));
            }
            let header = frame.get(2..5).ok_or(Problem::Truncated {
                offset: 2,
                needed: 3,
            })?;
            Cow::Owned(decrypt(
                reader.rest(),
                advert,
                header,
                frame_counter,
                secrets,
            )?)
        } else {
            Cow::Borrowed(reader.rest())
        };
        objects::read(&payload, product_id, &mut decoded)?;
        Ok(Some(decoded))
    }
}

/// The nonce of a v4/v5 frame: reversed MAC, product id + frame counter, extended counter.
pub fn nonce(mac: crate::model::Address, header: &[u8], extended: [u8; 3]) -> Vec<u8> {
    let mut nonce = Vec::with_capacity(12);
    nonce.extend(mac.bytes().iter().rev());
    nonce.extend_from_slice(header);
    nonce.extend_from_slice(&extended);
    nonce
}

fn decrypt(
    sealed: &[u8],
    advert: &AdvertIn<'_>,
    header: &[u8],
    frame_counter: u8,
    secrets: &mut DeviceSecrets,
) -> Result<Vec<u8>, Problem> {
    if sealed.len() < 3 + TAG_LEN + 1 {
        return Err(Problem::Invalid(format!(
            "encrypted frame has {} bytes of payload; it needs at least 8 \
             (data, 3-byte counter, 4-byte tag)",
            sealed.len()
        )));
    }
    let (ciphertext, trailer) = sealed.split_at(sealed.len() - 3 - TAG_LEN);
    let mut trailer = Reader::new(trailer);
    let extended = trailer.array::<3>()?;
    let tag = trailer.take(TAG_LEN)?;
    let nonce = nonce(advert.address, header, extended);
    let plain = crypto::open(secrets.key()?, &nonce, &[0x11], ciphertext, tag)?;
    let [a, b, c] = extended;
    secrets.accept_counter(u32::from_le_bytes([frame_counter, a, b, c]))?;
    Ok(plain)
}
