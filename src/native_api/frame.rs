//! The ESPHome native API's plaintext framing: `0x00 | varint(len) | varint(type) | payload`.
//!
//! Owns [`FrameDecoder`] (bytes from the socket in, whole [`RawFrame`]s out) and
//! [`encode_frame`]. Every byte here comes from the network, so the decoder treats it as
//! hostile: header varints are capped at 4 bytes (as aioesphomeapi does), payloads at
//! [`MAX_PAYLOAD`], message types at `u16`, and any violation is a [`FrameError`] that names
//! what was wrong. The session closes that proxy's connection on it; nothing panics
//! (`clippy::indexing_slicing` is denied in this file).
//!
//! Sits between the socket (`transport.rs`) and message decoding (`api`). Pure: no I/O.
#![deny(clippy::indexing_slicing)]

use bytes::{Buf, Bytes, BytesMut};

/// The plaintext frame indicator.
pub const PLAINTEXT_PREAMBLE: u8 = 0x00;
/// The Noise frame indicator (a plaintext reader seeing it knows the proxy wants encryption).
pub const NOISE_PREAMBLE: u8 = 0x01;
/// The largest payload accepted, the same cap the reference client applies.
pub const MAX_PAYLOAD: usize = 65_535;
/// Header varints longer than this are rejected (aioesphomeapi's limit).
const MAX_VARINT_BYTES: usize = 4;

/// One framed message: its type id and protobuf payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// The message type id (`api::id`).
    pub message_type: u16,
    /// The protobuf-encoded message.
    pub payload: Bytes,
}

/// What was wrong with the bytes a proxy sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first byte of a frame was not `0x00`.
    #[error("frame starts with 0x{found:02x}, expected the plaintext preamble 0x00{hint}")]
    WrongPreamble {
        /// The byte found.
        found: u8,
        /// Extra advice when the byte means something (the Noise indicator).
        hint: &'static str,
    },
    /// A header varint did not end within 4 bytes.
    #[error("frame header varint is longer than {MAX_VARINT_BYTES} bytes")]
    VarintTooLong,
    /// The announced payload is larger than the cap.
    #[error("frame announces a {length}-byte payload, more than the {MAX_PAYLOAD}-byte limit")]
    Oversized {
        /// The announced length.
        length: u64,
    },
    /// The message type does not fit in 16 bits.
    #[error("message type {found} is out of range (at most 65535)")]
    MessageTypeOutOfRange {
        /// The type found.
        found: u64,
    },
}

/// Appends `value` as a protobuf base-128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a header varint from the front of `bytes`: `Ok(None)` when more bytes are needed,
/// else the value and how many bytes it used.
fn get_varint(bytes: &[u8]) -> Result<Option<(u64, usize)>, FrameError> {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().take(MAX_VARINT_BYTES).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some((value, index + 1)));
        }
    }
    if bytes.len() >= MAX_VARINT_BYTES {
        Err(FrameError::VarintTooLong)
    } else {
        Ok(None)
    }
}

/// Encodes one plaintext frame.
pub fn encode_frame(message_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 7);
    out.push(PLAINTEXT_PREAMBLE);
    put_varint(&mut out, payload.len() as u64);
    put_varint(&mut out, u64::from(message_type));
    out.extend_from_slice(payload);
    out
}

/// Splits a byte stream into frames. Feed it what the socket gives, in any chunking.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: BytesMut,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the socket.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a whole frame (a truncated frame at end of stream).
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed, or the first violation.
    /// After an error the stream is unusable: the caller closes the connection.
    pub fn next_frame(&mut self) -> Result<Option<RawFrame>, FrameError> {
        let Some(&first) = self.buffer.first() else {
            return Ok(None);
        };
        if first != PLAINTEXT_PREAMBLE {
            let hint = if first == NOISE_PREAMBLE {
                ": the proxy requires encryption, configure its API key"
            } else {
                ""
            };
            return Err(FrameError::WrongPreamble { found: first, hint });
        }
        let header = self.buffer.get(1..).unwrap_or_default();
        let Some((length, length_size)) = get_varint(header)? else {
            return Ok(None);
        };
        if length > MAX_PAYLOAD as u64 {
            return Err(FrameError::Oversized { length });
        }
        let after_length = header.get(length_size..).unwrap_or_default();
        let Some((message_type, type_size)) = get_varint(after_length)? else {
            return Ok(None);
        };
        let message_type =
            u16::try_from(message_type).map_err(|_| FrameError::MessageTypeOutOfRange {
                found: message_type,
            })?;
        let header_size = 1 + length_size + type_size;
        let total = header_size + length as usize;
        if self.buffer.len() < total {
            return Ok(None);
        }
        self.buffer.advance(header_size);
        let payload = self.buffer.split_to(length as usize).freeze();
        Ok(Some(RawFrame {
            message_type,
            payload,
        }))
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
