//! The server side of the encrypted handshake: what an ESPHome device does when a client opens
//! a Noise session, so `bluefleet proxy` can require an API key.
//!
//! Steps (research notes §1.2): read the client hello frame, answer with the server hello
//! (`0x01`, node name, MAC), read the client's first handshake message, and either reply with
//! the second one or refuse with the firmware's words: `Handshake MAC failure` for a wrong key
//! (aioesphomeapi turns it into `InvalidEncryptionKeyAPIError`), `Bad indicator byte` for a
//! plaintext client. The caller logs a refusal with the client's address and closes.
#![deny(clippy::indexing_slicing)]

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::noise::{
    crypto, encode_noise_frame, read_body, NoiseCipher, NoiseError, NoiseFrameDecoder, PATTERN,
    PROLOGUE_PREFIX,
};

/// What the server says about itself in its hello.
#[derive(Clone, Debug)]
pub(crate) struct ResponderIdentity {
    /// Node name.
    pub name: String,
    /// MAC, lower-case hex without colons.
    pub mac: String,
}

/// Sends a handshake refusal frame: `0x01` then the reason.
async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, reason: &str) {
    let mut body = vec![0x01];
    body.extend_from_slice(reason.as_bytes());
    if let Ok(frame) = encode_noise_frame(&body) {
        let _ = stream.write_all(&frame).await;
        let _ = stream.flush().await;
    }
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, body: &[u8]) -> Result<(), NoiseError> {
    let frame = encode_noise_frame(body)?;
    stream
        .write_all(&frame)
        .await
        .map_err(|err| NoiseError::Io(err.to_string()))
}

/// Runs the responder side with the 32-byte pre-shared key. On success returns the cipher
/// and the decoder (it may already hold the client's first transport frames). On failure the
/// client has been told why (where the protocol has words for it).
pub(crate) async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    psk: &[u8; 32],
    identity: &ResponderIdentity,
) -> Result<(NoiseCipher, NoiseFrameDecoder), NoiseError> {
    let mut decoder = NoiseFrameDecoder::default();
    let client_hello = match read_body(stream, &mut decoder).await {
        Ok(body) => body,
        Err(err @ (NoiseError::PlaintextPeer | NoiseError::WrongPreamble(_))) => {
            refuse(stream, "Bad indicator byte").await;
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    let hello_length =
        u16::try_from(client_hello.len()).map_err(|_| NoiseError::TooLarge(client_hello.len()))?;
    let mut prologue = PROLOGUE_PREFIX.to_vec();
    prologue.extend_from_slice(&hello_length.to_be_bytes());
    prologue.extend_from_slice(&client_hello);

    let mut server_hello = vec![0x01];
    server_hello.extend_from_slice(identity.name.as_bytes());
    server_hello.push(0);
    server_hello.extend_from_slice(identity.mac.as_bytes());
    server_hello.push(0);
    send(stream, &server_hello).await?;

    let params = PATTERN.parse().map_err(crypto)?;
    let mut state = snow::Builder::new(params)
        .psk(0, psk)
        .prologue(&prologue)
        .build_responder()
        .map_err(crypto)?;
    let message = read_body(stream, &mut decoder).await?;
    let noise_message = match message.split_first() {
        Some((0x00, rest)) if !rest.is_empty() => rest,
        Some((0x00, _)) | None => {
            refuse(stream, "Empty handshake message").await;
            return Err(NoiseError::Refused {
                reason: "empty handshake message".into(),
            });
        }
        Some(_) => {
            refuse(stream, "Bad handshake error byte").await;
            return Err(NoiseError::Refused {
                reason: "bad handshake error byte".into(),
            });
        }
    };
    let mut scratch = vec![0u8; noise_message.len()];
    if let Err(err) = state.read_message(noise_message, &mut scratch) {
        refuse(stream, "Handshake MAC failure").await;
        return Err(NoiseError::InvalidKey {
            reason: format!("the client's handshake does not verify with our key ({err})"),
        });
    }
    let mut reply = vec![0u8; 96];
    let written = state.write_message(&[], &mut reply).map_err(crypto)?;
    let mut body = vec![0x00];
    body.extend_from_slice(reply.get(..written).unwrap_or_default());
    send(stream, &body).await?;
    let transport = state.into_transport_mode().map_err(crypto)?;
    Ok((NoiseCipher::new(transport), decoder))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests may index: a panic is a failed test
mod tests {
    use super::super::noise::handshake;
    use super::*;
    use tokio::io::duplex;

    fn identity() -> ResponderIdentity {
        ResponderIdentity {
            name: "bluefleet".into(),
            mac: "020000000001".into(),
        }
    }

    #[tokio::test]
    async fn our_client_and_our_server_agree_and_exchange_messages() {
        let (mut client, mut server) = duplex(4096);
        let key = [9u8; 32];
        let server_side = tokio::spawn(async move { accept(&mut server, &key, &identity()).await });
        let (mut client_cipher, hello, _) = handshake(&mut client, &key).await.unwrap();
        assert_eq!(hello.name.as_deref(), Some("bluefleet"));
        assert_eq!(hello.mac.as_deref(), Some("020000000001"));
        let (mut server_cipher, _) = server_side.await.unwrap().unwrap();
        let sealed = client_cipher.seal(7, b"").unwrap();
        let frame = server_cipher.open(&sealed[3..]).unwrap();
        assert_eq!(frame.message_type, 7);
        let sealed = server_cipher.seal(8, b"pong").unwrap();
        let frame = client_cipher.open(&sealed[3..]).unwrap();
        assert_eq!((frame.message_type, &frame.payload[..]), (8, &b"pong"[..]));
    }

    #[tokio::test]
    async fn a_wrong_key_is_refused_in_the_firmware_words() {
        let (mut client, mut server) = duplex(4096);
        let server_side =
            tokio::spawn(async move { accept(&mut server, &[1; 32], &identity()).await });
        let err = handshake(&mut client, &[2; 32]).await.unwrap_err();
        assert!(
            matches!(err, NoiseError::InvalidKey { ref reason } if reason.contains("MAC failure")),
            "{err}"
        );
        assert!(matches!(
            server_side.await.unwrap(),
            Err(NoiseError::InvalidKey { .. })
        ));
    }

    #[tokio::test]
    async fn a_plaintext_client_is_told_bad_indicator() {
        let (mut client, mut server) = duplex(4096);
        let server_side =
            tokio::spawn(async move { accept(&mut server, &[1; 32], &identity()).await });
        client.write_all(&[0x00, 0x00, 0x07]).await.unwrap();
        assert_eq!(
            server_side.await.unwrap().unwrap_err(),
            NoiseError::PlaintextPeer
        );
        let mut decoder = NoiseFrameDecoder::default();
        let body = read_body(&mut client, &mut decoder).await.unwrap();
        assert_eq!(&body[..], b"\x01Bad indicator byte");
    }
}
