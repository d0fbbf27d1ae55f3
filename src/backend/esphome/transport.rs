//! One TCP connection to a proxy, plaintext or Noise: whole messages in, whole messages out.
//!
//! Owns [`Transport`] (the socket plus the framing that fits the config) and [`SessionError`],
//! the reason a session ended. Hides the two framings from the session loop: it sends
//! [`Outgoing`] values and receives [`RawFrame`]s. Everything wrong with the peer's bytes (bad
//! preamble, oversized or truncated frames, forged Noise frames) surfaces here as an error that
//! ends this one connection; the session then reconnects with backoff.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::api::Outgoing;
use super::config::EsphomeConfig;
use crate::native_api::frame::{encode_frame, FrameDecoder, FrameError, RawFrame};
use crate::native_api::noise::{handshake, NoiseCipher, NoiseError, NoiseFrameDecoder};

/// Why a session with a proxy ended or could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SessionError {
    /// The socket failed.
    #[error("connection to {target} failed: {detail}")]
    Io {
        /// `host:port`.
        target: String,
        /// The OS error.
        detail: String,
    },
    /// The proxy closed the connection.
    #[error("the proxy closed the connection{}", truncated_note(*pending))]
    Closed {
        /// Bytes of an unfinished frame left when it closed.
        pending: usize,
    },
    /// The plaintext framing was violated.
    #[error("protocol error: {0}")]
    Frame(#[from] FrameError),
    /// The encrypted session failed.
    #[error("{0}")]
    Noise(#[from] NoiseError),
    /// A payload was not valid protobuf for its message type.
    #[error("protocol error: message type {message_type} does not decode: {detail}")]
    Decode {
        /// The type id.
        message_type: u16,
        /// prost's words.
        detail: String,
    },
    /// The proxy did something the protocol does not allow.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A step took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The proxy asked to end the session.
    #[error("the proxy ended the session (DisconnectRequest)")]
    ProxyDisconnected,
}

fn truncated_note(pending: usize) -> String {
    if pending == 0 {
        String::new()
    } else {
        format!(" in the middle of a frame ({pending} bytes of a truncated frame)")
    }
}

/// The framing in use.
#[derive(Debug)]
enum Codec {
    Plain(FrameDecoder),
    Noise {
        decoder: NoiseFrameDecoder,
        cipher: NoiseCipher,
    },
}

/// An open, framed connection to one proxy.
#[derive(Debug)]
pub(crate) struct Transport {
    stream: TcpStream,
    codec: Codec,
}

impl Transport {
    /// Opens the TCP connection and, with a key, runs the Noise handshake.
    pub(crate) async fn open(config: &EsphomeConfig) -> Result<Self, SessionError> {
        let target = format!("{}:{}", config.host, config.port);
        let mut stream = TcpStream::connect((config.host.as_str(), config.port))
            .await
            .map_err(|err| SessionError::Io {
                target: target.clone(),
                detail: err.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let codec = match config.psk() {
            Some(psk) => {
                let (cipher, hello, decoder) = handshake(&mut stream, psk).await?;
                tracing::debug!(proxy = %config.name, ?hello, "noise handshake complete");
                Codec::Noise { decoder, cipher }
            }
            None => Codec::Plain(FrameDecoder::new()),
        };
        Ok(Self { stream, codec })
    }

    /// Sends one message.
    pub(crate) async fn send(&mut self, message: &Outgoing) -> Result<(), SessionError> {
        let bytes = match &mut self.codec {
            Codec::Plain(_) => encode_frame(message.message_type, &message.payload),
            Codec::Noise { cipher, .. } => cipher.seal(message.message_type, &message.payload)?,
        };
        self.stream
            .write_all(&bytes)
            .await
            .map_err(|err| self.io_error(err))
    }

    /// Receives the next whole message. Cancel-safe: bytes already read stay buffered.
    pub(crate) async fn receive(&mut self) -> Result<RawFrame, SessionError> {
        let mut chunk = [0u8; 4096];
        loop {
            let (frame, pending) = match &mut self.codec {
                Codec::Plain(decoder) => (decoder.next_frame()?, decoder.pending()),
                Codec::Noise { decoder, cipher } => match decoder.next_body()? {
                    Some(body) => (Some(cipher.open(&body)?), decoder.pending()),
                    None => (None, decoder.pending()),
                },
            };
            if let Some(frame) = frame {
                return Ok(frame);
            }
            let read = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|err| self.io_error(err))?;
            let Some(bytes) = chunk.get(..read).filter(|bytes| !bytes.is_empty()) else {
                return Err(SessionError::Closed { pending });
            };
            match &mut self.codec {
                Codec::Plain(decoder) => decoder.extend(bytes),
                Codec::Noise { decoder, .. } => decoder.extend(bytes),
            }
        }
    }

    fn io_error(&self, err: std::io::Error) -> SessionError {
        SessionError::Io {
            target: self
                .stream
                .peer_addr()
                .map(|addr| addr.to_string())
                .unwrap_or_else(|_| "the proxy".into()),
            detail: err.to_string(),
        }
    }
}
