//! A client's socket as whole messages: the plaintext or Noise framing, split so one task reads
//! while the session writes.
//!
//! [`accept`] runs the Noise responder when the proxy has a key (a refusal is returned for the
//! caller to log with the client's address), then hands back a [`Reader`] (the read half and
//! its decoder) and a [`Writer`] (the write half). With Noise both halves share the one cipher
//! (snow keeps the send and receive nonces in one state) behind a mutex held only for one
//! seal or open.
//!
//! A plaintext server that sees the Noise indicator answers `Bad indicator byte` and closes,
//! as the firmware does, so aioesphomeapi tells its user the device is not encrypted.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::identity::Identity;
use crate::native_api::frame::{encode_frame, FrameDecoder, FrameError, RawFrame, NOISE_PREAMBLE};
use crate::native_api::messages::Outgoing;
use crate::native_api::noise::{NoiseCipher, NoiseError, NoiseFrameDecoder};
use crate::native_api::responder;

/// Why a client's connection ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("the client closed the connection")]
    Closed,
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    #[error("{0}")]
    Noise(#[from] NoiseError),
}

type SharedCipher = Arc<Mutex<NoiseCipher>>;

#[derive(Debug)]
enum Decoder {
    Plain(FrameDecoder),
    Noise(NoiseFrameDecoder, SharedCipher),
}

/// The read half.
#[derive(Debug)]
pub(crate) struct Reader {
    half: OwnedReadHalf,
    decoder: Decoder,
}

/// The write half.
#[derive(Debug)]
pub(crate) struct Writer {
    half: OwnedWriteHalf,
    cipher: Option<SharedCipher>,
}

/// Handshakes (with a key) and splits the socket.
pub(crate) async fn accept(
    mut stream: TcpStream,
    psk: Option<&[u8; 32]>,
    identity: &Identity,
) -> Result<(Reader, Writer), ClientError> {
    let _ = stream.set_nodelay(true);
    let (decoder, cipher) = match psk {
        Some(psk) => {
            let (cipher, decoder) =
                responder::accept(&mut stream, psk, &identity.responder()).await?;
            let cipher = Arc::new(Mutex::new(cipher));
            (Decoder::Noise(decoder, Arc::clone(&cipher)), Some(cipher))
        }
        None => (Decoder::Plain(FrameDecoder::new()), None),
    };
    let (read, write) = stream.into_split();
    Ok((
        Reader {
            half: read,
            decoder,
        },
        Writer {
            half: write,
            cipher,
        },
    ))
}

impl Reader {
    /// The next whole message.
    pub(crate) async fn receive(&mut self) -> Result<RawFrame, ClientError> {
        let mut chunk = [0u8; 4096];
        loop {
            let frame = match &mut self.decoder {
                Decoder::Plain(decoder) => decoder.next_frame()?,
                Decoder::Noise(decoder, cipher) => match decoder.next_body()? {
                    Some(body) => Some(
                        cipher
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .open(&body)?,
                    ),
                    None => None,
                },
            };
            if let Some(frame) = frame {
                return Ok(frame);
            }
            let read = self.half.read(&mut chunk).await?;
            let Some(bytes) = chunk.get(..read).filter(|b| !b.is_empty()) else {
                return Err(ClientError::Closed);
            };
            match &mut self.decoder {
                Decoder::Plain(decoder) => decoder.extend(bytes),
                Decoder::Noise(decoder, _) => decoder.extend(bytes),
            }
        }
    }

    /// Whether the error is a plaintext server hearing a Noise client.
    pub(crate) fn is_noise_client(error: &ClientError) -> bool {
        matches!(
            error,
            ClientError::Frame(FrameError::WrongPreamble { found, .. }) if *found == NOISE_PREAMBLE
        )
    }
}

impl Writer {
    /// Sends messages in one write.
    pub(crate) async fn send(&mut self, messages: &[Outgoing]) -> Result<(), ClientError> {
        let mut bytes = Vec::new();
        for message in messages {
            match &self.cipher {
                None => bytes.extend(encode_frame(message.message_type, &message.payload)),
                Some(cipher) => bytes.extend(
                    cipher
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .seal(message.message_type, &message.payload)?,
                ),
            }
        }
        if !bytes.is_empty() {
            self.half.write_all(&bytes).await?;
        }
        Ok(())
    }

    /// Tells a Noise client that this proxy is plaintext, the firmware's way.
    pub(crate) async fn refuse_noise(&mut self) {
        let mut bytes = vec![0x00];
        bytes.extend_from_slice(b"Bad indicator byte");
        let _ = self.half.write_all(&bytes).await;
    }
}
