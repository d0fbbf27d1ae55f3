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
    /// The host name did not resolve.
    #[error("cannot resolve the proxy's host name `{host}`: {detail} (check the name, or use its IP address)")]
    Unresolved {
        /// The name.
        host: String,
        /// The resolver's words.
        detail: String,
    },
    /// Nothing accepted the TCP connection.
    #[error("{}", connect_words(target, *refused, detail))]
    Connect {
        /// `host:port`.
        target: String,
        /// The peer answered with a reset (nothing listens there).
        refused: bool,
        /// The OS error.
        detail: String,
    },
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
    /// The radio watchdog asked for a new session (the scanner had gone quiet).
    #[error("session closed to recover a silent scanner (radio watchdog)")]
    Recovery,
}

fn connect_words(target: &str, refused: bool, detail: &str) -> String {
    if refused {
        format!(
            "{target} refused the connection (nothing listens there): is the proxy on and the \
             API port right (ESPHome's is 6053)?"
        )
    } else {
        format!("cannot reach {target}: {detail}")
    }
}

/// Resolves `host` with `lookup` (the system resolver in production; tests inject one so no
/// name ever leaves the machine) and names a failure in words.
pub(crate) async fn resolve<F, Fut, I>(
    host: &str,
    port: u16,
    lookup: F,
) -> Result<Vec<std::net::SocketAddr>, SessionError>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<I>>,
    I: Iterator<Item = std::net::SocketAddr>,
{
    let unresolved = |detail: String| SessionError::Unresolved {
        host: host.to_string(),
        detail,
    };
    let found: Vec<_> = lookup(format!("{host}:{port}"))
        .await
        .map_err(|err| unresolved(err.to_string()))?
        .collect();
    if found.is_empty() {
        return Err(unresolved("the name has no address".into()));
    }
    Ok(found)
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
        let addresses = resolve(&config.host, config.port, tokio::net::lookup_host).await?;
        let mut stream = TcpStream::connect(addresses.as_slice())
            .await
            .map_err(|err| SessionError::Connect {
                target: target.clone(),
                refused: err.kind() == std::io::ErrorKind::ConnectionRefused,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unresolvable_name_and_a_refused_port_are_said_in_words() {
        let failing = |_: String| async {
            Err::<std::vec::IntoIter<std::net::SocketAddr>, _>(std::io::Error::other(
                "failed to lookup address information: Name or service not known",
            ))
        };
        let err = resolve("kitchen-proxy", 6053, failing).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot resolve the proxy's host name `kitchen-proxy`: failed to lookup address \
             information: Name or service not known (check the name, or use its IP address)"
        );
        let empty = |_: String| async { Ok(Vec::new().into_iter()) };
        let err = resolve("empty", 6053, empty).await.unwrap_err();
        assert!(err.to_string().contains("has no address"), "{err}");
        let refused = SessionError::Connect {
            target: "127.0.0.1:1".into(),
            refused: true,
            detail: "Connection refused (os error 111)".into(),
        };
        assert!(refused
            .to_string()
            .starts_with("127.0.0.1:1 refused the connection"));
    }
}
