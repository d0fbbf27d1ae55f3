//! AES-128-CCM with a 4-byte tag, the cipher of encrypted BTHome and MiBeacon v4/v5 frames,
//! from the RustCrypto `aes` and `ccm` crates (nothing hand-rolled).
//!
//! BTHome v2 uses a 13-byte nonce and no associated data; MiBeacon v4/v5 and BTHome v1 use a
//! 12- or 13-byte nonce with the one-byte associated data `0x11`. [`open`] authenticates and
//! decrypts; [`seal`] is its inverse, used by the simulator to advertise real encrypted frames.

use aes::Aes128;
use ccm::aead::generic_array::GenericArray;
use ccm::aead::{Aead, KeyInit, Payload};
use ccm::consts::{U12, U13, U4};
use ccm::Ccm;

use super::{Bindkey, Problem};

/// The tag length both formats use.
pub const TAG_LEN: usize = 4;

type Ccm12 = Ccm<Aes128, U4, U12>;
type Ccm13 = Ccm<Aes128, U4, U13>;

/// Decrypts `ciphertext` and checks its `tag`; a mismatch is [`Problem::WrongKey`].
pub fn open(
    key: &Bindkey,
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, Problem> {
    let mut sealed = Vec::with_capacity(ciphertext.len() + tag.len());
    sealed.extend_from_slice(ciphertext);
    sealed.extend_from_slice(tag);
    let payload = Payload { msg: &sealed, aad };
    let key = GenericArray::from_slice(&key.0);
    let result = match nonce.len() {
        12 => Ccm12::new(key).decrypt(GenericArray::from_slice(nonce), payload),
        13 => Ccm13::new(key).decrypt(GenericArray::from_slice(nonce), payload),
        other => {
            return Err(Problem::Invalid(format!(
                "nonce of {other} bytes (CCM here takes 12 or 13)"
            )))
        }
    };
    result.map_err(|_| Problem::WrongKey)
}

/// Encrypts `plaintext`; returns the ciphertext followed by the 4-byte tag.
pub fn seal(key: &Bindkey, nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Problem> {
    let payload = Payload {
        msg: plaintext,
        aad,
    };
    let key = GenericArray::from_slice(&key.0);
    let result = match nonce.len() {
        12 => Ccm12::new(key).encrypt(GenericArray::from_slice(nonce), payload),
        13 => Ccm13::new(key).encrypt(GenericArray::from_slice(nonce), payload),
        other => {
            return Err(Problem::Invalid(format!(
                "nonce of {other} bytes (CCM here takes 12 or 13)"
            )))
        }
    };
    result.map_err(|_| Problem::Invalid("plaintext too long for CCM".into()))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index known-good fixtures
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_a_flipped_bit_fails() {
        let key = Bindkey([7; 16]);
        let nonce = [1u8; 13];
        let sealed = seal(&key, &nonce, &[], b"\x02\xca\x09").unwrap();
        let (ct, tag) = sealed.split_at(sealed.len() - TAG_LEN);
        assert_eq!(open(&key, &nonce, &[], ct, tag).unwrap(), b"\x02\xca\x09");
        let mut bad = ct.to_vec();
        bad[0] ^= 1;
        assert_eq!(open(&key, &nonce, &[], &bad, tag), Err(Problem::WrongKey));
        assert!(matches!(
            open(&key, &[0; 7], &[], ct, tag),
            Err(Problem::Invalid(_))
        ));
    }
}
