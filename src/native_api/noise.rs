//! The native API's encrypted variant: `Noise_NNpsk0_25519_ChaChaPoly_SHA256` with ESPHome's
//! framing (`0x01 | u16 BE length | body`).
//!
//! Owns the handshake ([`handshake`]), the frame splitter ([`NoiseFrameDecoder`]) and the
//! transport cipher ([`NoiseCipher`]: a message is `u16 type | u16 length | payload`, sealed
//! with a 16-byte tag). A proxy configured with an API key accepts nothing else; a wrong key
//! shows up as the proxy's "Handshake MAC failure", reported as [`NoiseError::InvalidKey`].
//! All input is hostile: every length is checked (`clippy::indexing_slicing` is denied).
//!
//! The client side (`handshake`) is used by the esphome backend when a proxy's config has a
//! key; the server side is `responder.rs`. Facts from the research notes §1.2.
#![deny(clippy::indexing_slicing)]

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::frame::{RawFrame, NOISE_PREAMBLE, PLAINTEXT_PREAMBLE};

/// The Noise protocol name ESPHome uses.
pub(crate) const PATTERN: &str = "Noise_NNpsk0_25519_ChaChaPoly_SHA256";
/// Prologue prefix; the rest is the client hello's length and body (both empty here).
const PROLOGUE: &[u8] = b"NoiseAPIInit\x00\x00";
/// The prologue's fixed prefix, before the client hello's length and body.
pub(crate) const PROLOGUE_PREFIX: &[u8] = b"NoiseAPIInit";
/// ChaCha20-Poly1305 tag length.
const TAG_LEN: usize = 16;
/// The largest frame body the 16-bit length can announce.
const MAX_BODY: usize = u16::MAX as usize;

/// What went wrong on an encrypted session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoiseError {
    /// The proxy rejected our key.
    #[error("the proxy rejected the handshake: invalid encryption key ({reason})")]
    InvalidKey {
        /// The proxy's words ("Handshake MAC failure").
        reason: String,
    },
    /// The proxy refused the handshake for another reason.
    #[error("the proxy refused the encrypted handshake: {reason}")]
    Refused {
        /// The proxy's words.
        reason: String,
    },
    /// The proxy answered in plaintext.
    #[error("the proxy speaks plaintext, not Noise: remove the key from this proxy's config")]
    PlaintextPeer,
    /// A frame started with neither indicator.
    #[error("encrypted frame starts with 0x{0:02x}, expected 0x01")]
    WrongPreamble(u8),
    /// The server hello was empty or chose an unknown protocol.
    #[error("the proxy's server hello is malformed: {0}")]
    BadServerHello(String),
    /// Decryption or a Noise state error (a corrupted or forged frame).
    #[error("noise decryption failed: {0}")]
    Crypto(String),
    /// A decrypted message is shorter than its header or than its announced length.
    #[error("decrypted message is malformed: {0}")]
    Malformed(String),
    /// A message is too big for one encrypted frame.
    #[error("a {0}-byte message does not fit in one encrypted frame")]
    TooLarge(usize),
    /// The socket failed or closed during the handshake.
    #[error("connection failed during the encrypted handshake: {0}")]
    Io(String),
}

pub(crate) fn crypto(err: snow::Error) -> NoiseError {
    NoiseError::Crypto(err.to_string())
}

/// Wraps a body in a Noise frame.
pub(crate) fn encode_noise_frame(body: &[u8]) -> Result<Vec<u8>, NoiseError> {
    let length = u16::try_from(body.len()).map_err(|_| NoiseError::TooLarge(body.len()))?;
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(NOISE_PREAMBLE);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// Splits a byte stream into Noise frame bodies.
#[derive(Debug, Default)]
pub struct NoiseFrameDecoder {
    buffer: BytesMut,
}

impl NoiseFrameDecoder {
    /// Appends bytes read from the socket.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a whole frame.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// The next whole frame body, `Ok(None)` when more bytes are needed.
    pub fn next_body(&mut self) -> Result<Option<Bytes>, NoiseError> {
        let Some(&first) = self.buffer.first() else {
            return Ok(None);
        };
        match first {
            NOISE_PREAMBLE => {}
            PLAINTEXT_PREAMBLE => return Err(NoiseError::PlaintextPeer),
            other => return Err(NoiseError::WrongPreamble(other)),
        }
        let (Some(&high), Some(&low)) = (self.buffer.get(1), self.buffer.get(2)) else {
            return Ok(None);
        };
        let length = usize::from(u16::from_be_bytes([high, low]));
        if self.buffer.len() < 3 + length {
            return Ok(None);
        }
        self.buffer.advance(3);
        Ok(Some(self.buffer.split_to(length).freeze()))
    }
}

/// The transport cipher after a completed handshake.
pub struct NoiseCipher {
    transport: snow::TransportState,
}

impl std::fmt::Debug for NoiseCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseCipher").finish_non_exhaustive()
    }
}

impl NoiseCipher {
    /// The cipher of a finished handshake (either side).
    pub(crate) fn new(transport: snow::TransportState) -> Self {
        Self { transport }
    }

    /// Encrypts one message into a whole frame.
    pub fn seal(&mut self, message_type: u16, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let length =
            u16::try_from(payload.len()).map_err(|_| NoiseError::TooLarge(payload.len()))?;
        let mut plain = Vec::with_capacity(payload.len() + 4);
        plain.extend_from_slice(&message_type.to_be_bytes());
        plain.extend_from_slice(&length.to_be_bytes());
        plain.extend_from_slice(payload);
        if plain.len() + TAG_LEN > MAX_BODY {
            return Err(NoiseError::TooLarge(payload.len()));
        }
        let mut sealed = vec![0u8; plain.len() + TAG_LEN];
        let written = self
            .transport
            .write_message(&plain, &mut sealed)
            .map_err(crypto)?;
        sealed.truncate(written);
        encode_noise_frame(&sealed)
    }

    /// Decrypts one frame body into a message.
    pub fn open(&mut self, body: &[u8]) -> Result<RawFrame, NoiseError> {
        let mut plain = vec![0u8; body.len()];
        let written = self
            .transport
            .read_message(body, &mut plain)
            .map_err(crypto)?;
        plain.truncate(written);
        let Some((&[type_high, type_low, len_high, len_low], rest)) = plain.split_first_chunk()
        else {
            return Err(NoiseError::Malformed(format!(
                "{written} bytes, shorter than the 4-byte header"
            )));
        };
        let message_type = u16::from_be_bytes([type_high, type_low]);
        let length = usize::from(u16::from_be_bytes([len_high, len_low]));
        let payload = rest.get(..length).ok_or_else(|| {
            NoiseError::Malformed(format!(
                "announces {length} payload bytes but carries {}",
                rest.len()
            ))
        })?;
        Ok(RawFrame {
            message_type,
            payload: Bytes::copy_from_slice(payload),
        })
    }
}

/// What the proxy said about itself in its server hello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// Node name (ESPHome >= 2022.2).
    pub name: Option<String>,
    /// MAC, lower-case hex without colons (ESPHome >= 2025.4).
    pub mac: Option<String>,
}

fn parse_server_hello(body: &[u8]) -> Result<ServerHello, NoiseError> {
    match body.first() {
        Some(0x01) => {}
        Some(other) => {
            return Err(NoiseError::BadServerHello(format!(
                "unknown protocol 0x{other:02x}"
            )))
        }
        None => return Err(NoiseError::BadServerHello("empty".into())),
    }
    let mut fields = body.get(1..).unwrap_or_default().split(|byte| *byte == 0);
    let mut text = || {
        fields
            .next()
            .filter(|field| !field.is_empty())
            .map(|field| String::from_utf8_lossy(field).into_owned())
    };
    Ok(ServerHello {
        name: text(),
        mac: text(),
    })
}

/// Reads frames until one whole body is there.
pub(crate) async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    decoder: &mut NoiseFrameDecoder,
) -> Result<Bytes, NoiseError> {
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(body) = decoder.next_body()? {
            return Ok(body);
        }
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|err| NoiseError::Io(err.to_string()))?;
        let bytes = chunk.get(..read).unwrap_or_default();
        if bytes.is_empty() {
            return Err(NoiseError::Io("the proxy closed the connection".into()));
        }
        decoder.extend(bytes);
    }
}

/// Runs the client side of the handshake with a 32-byte pre-shared key. Returns the cipher,
/// the proxy's hello, and the decoder (it may already hold the first transport frames).
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    psk: &[u8; 32],
) -> Result<(NoiseCipher, ServerHello, NoiseFrameDecoder), NoiseError> {
    let params = PATTERN.parse().map_err(crypto)?;
    let mut state = snow::Builder::new(params)
        .psk(0, psk)
        .prologue(PROLOGUE)
        .build_initiator()
        .map_err(crypto)?;
    let mut message = vec![0u8; 64];
    let written = state.write_message(&[], &mut message).map_err(crypto)?;
    let mut handshake_body = vec![0x00];
    handshake_body.extend_from_slice(message.get(..written).unwrap_or_default());
    // The empty client hello and the first handshake message go out back to back.
    let mut out = encode_noise_frame(&[])?;
    out.extend(encode_noise_frame(&handshake_body)?);
    stream
        .write_all(&out)
        .await
        .map_err(|err| NoiseError::Io(err.to_string()))?;

    let mut decoder = NoiseFrameDecoder::default();
    let hello = parse_server_hello(&read_body(stream, &mut decoder).await?)?;
    let reply = read_body(stream, &mut decoder).await?;
    let rest = reply.get(1..).unwrap_or_default();
    match reply.first() {
        Some(0x00) => {}
        Some(_) => {
            let reason = String::from_utf8_lossy(rest).into_owned();
            return Err(if reason.contains("MAC failure") {
                NoiseError::InvalidKey { reason }
            } else {
                NoiseError::Refused { reason }
            });
        }
        None => {
            return Err(NoiseError::Refused {
                reason: "empty handshake reply".into(),
            })
        }
    }
    let mut scratch = vec![0u8; rest.len()];
    state.read_message(rest, &mut scratch).map_err(crypto)?;
    let transport = state.into_transport_mode().map_err(crypto)?;
    Ok((NoiseCipher { transport }, hello, decoder))
}

#[cfg(test)]
#[path = "noise_tests.rs"]
mod tests;
