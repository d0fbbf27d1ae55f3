//! Noise tests against an in-process snow responder that frames like the ESPHome firmware.
#![allow(clippy::indexing_slicing)] // tests may index: a panic is a failed test

use super::*;
use tokio::io::{duplex, DuplexStream};

const KEY: [u8; 32] = [7; 32];

/// The firmware's side of the handshake, written from the research notes: returns the
/// responder's transport state, or `None` after rejecting the key.
async fn firmware(mut stream: DuplexStream, key: [u8; 32]) -> Option<snow::TransportState> {
    let mut decoder = NoiseFrameDecoder::default();
    let client_hello = read_body(&mut stream, &mut decoder).await.unwrap();
    assert!(client_hello.is_empty());
    let hello = encode_noise_frame(b"\x01proxy-kitchen\x00acbc32890ea9\x00").unwrap();
    stream.write_all(&hello).await.unwrap();
    let mut state = snow::Builder::new(PATTERN.parse().unwrap())
        .psk(0, &key)
        .prologue(PROLOGUE)
        .build_responder()
        .unwrap();
    let body = read_body(&mut stream, &mut decoder).await.unwrap();
    let mut scratch = [0u8; 128];
    if state.read_message(&body[1..], &mut scratch).is_err() {
        let reject = encode_noise_frame(b"\x01Handshake MAC failure").unwrap();
        stream.write_all(&reject).await.unwrap();
        return None;
    }
    let written = state.write_message(&[], &mut scratch).unwrap();
    let mut reply = vec![0x00];
    reply.extend_from_slice(&scratch[..written]);
    stream
        .write_all(&encode_noise_frame(&reply).unwrap())
        .await
        .unwrap();
    Some(state.into_transport_mode().unwrap())
}

#[tokio::test(start_paused = true)]
async fn handshake_completes_and_messages_round_trip_both_ways() {
    let (mut client, server) = duplex(4096);
    let firmware = tokio::spawn(firmware(server, KEY));
    let (mut cipher, hello, _) = handshake(&mut client, &KEY).await.unwrap();
    assert_eq!(hello.name.as_deref(), Some("proxy-kitchen"));
    assert_eq!(hello.mac.as_deref(), Some("acbc32890ea9"));
    let mut responder = firmware.await.unwrap().unwrap();

    let frame = cipher.seal(7, b"").unwrap();
    assert_eq!(frame[0], 0x01);
    let mut decoder = NoiseFrameDecoder::default();
    decoder.extend(&frame);
    let body = decoder.next_body().unwrap().unwrap();
    let mut plain = vec![0u8; body.len()];
    let n = responder.read_message(&body, &mut plain).unwrap();
    assert_eq!(&plain[..n], &[0, 7, 0, 0]);

    let mut sealed = vec![0u8; 64];
    let n = responder
        .write_message(&[0, 81, 0, 2, 0x10, 0x03], &mut sealed)
        .unwrap();
    let message = cipher.open(&sealed[..n]).unwrap();
    assert_eq!(message.message_type, 81);
    assert_eq!(&message.payload[..], &[0x10, 0x03]);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_key_is_reported_as_an_invalid_encryption_key() {
    let (mut client, server) = duplex(4096);
    tokio::spawn(firmware(server, [9; 32]));
    let err = handshake(&mut client, &KEY).await.unwrap_err();
    assert!(matches!(err, NoiseError::InvalidKey { .. }), "{err}");
    assert!(err.to_string().contains("invalid encryption key"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_plaintext_proxy_is_recognised() {
    let (mut client, mut server) = duplex(4096);
    tokio::spawn(async move {
        let mut sink = [0u8; 64];
        let _ = server.read(&mut sink).await;
        server.write_all(b"\x00Bad indicator byte").await.unwrap();
    });
    assert_eq!(
        handshake(&mut client, &KEY).await.unwrap_err(),
        NoiseError::PlaintextPeer
    );
}

#[test]
fn forged_or_short_frames_are_errors_not_panics() {
    let mut decoder = NoiseFrameDecoder::default();
    decoder.extend(&[0x05, 0, 0]);
    assert_eq!(decoder.next_body(), Err(NoiseError::WrongPreamble(5)));
    let mut decoder = NoiseFrameDecoder::default();
    decoder.extend(&[0x01, 0x00]);
    assert_eq!(decoder.next_body(), Ok(None));
    assert_eq!(decoder.pending(), 2);
    assert!(parse_server_hello(&[]).is_err());
    assert!(parse_server_hello(&[2]).is_err());
    assert_eq!(parse_server_hello(&[1]).unwrap(), ServerHello::default());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 400,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0e5f_0a3e),
        ..Default::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic_the_noise_decoder_or_cipher(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
    ) {
        let mut decoder = NoiseFrameDecoder::default();
        decoder.extend(&bytes);
        let mut cipher = NoiseCipher { transport: test_transport() };
        while let Ok(Some(body)) = decoder.next_body() {
            proptest::prop_assert!(cipher.open(&body).is_err(), "forged frames never decrypt");
        }
        proptest::prop_assert!(cipher.open(&bytes).is_err());
    }
}

/// A transport state from a handshake done in memory (no I/O).
fn test_transport() -> snow::TransportState {
    let build = |initiator: bool| {
        let builder = snow::Builder::new(PATTERN.parse().unwrap())
            .psk(0, &KEY)
            .prologue(PROLOGUE);
        if initiator {
            builder.build_initiator()
        } else {
            builder.build_responder()
        }
        .unwrap()
    };
    let (mut client, mut server) = (build(true), build(false));
    let (mut first, mut second, mut scratch) = ([0u8; 64], [0u8; 64], [0u8; 64]);
    let n = client.write_message(&[], &mut first).unwrap();
    server.read_message(&first[..n], &mut scratch).unwrap();
    let n = server.write_message(&[], &mut second).unwrap();
    client.read_message(&second[..n], &mut scratch).unwrap();
    client.into_transport_mode().unwrap()
}
