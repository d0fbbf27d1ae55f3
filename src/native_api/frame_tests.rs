//! Tests of the plaintext frame decoder: golden frames from the reference client, chunking,
//! every rejection, arbitrary bytes (proptest) and the on-disk corpus the fuzz target seeds from.
#![allow(clippy::indexing_slicing)] // tests may index: a panic is a failed test

use super::*;
use proptest::prelude::*;

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect()
}

/// Decodes everything; returns the frames and the first error, if any.
fn decode_all(bytes: &[u8]) -> (Vec<RawFrame>, Option<FrameError>) {
    let mut decoder = FrameDecoder::new();
    decoder.extend(bytes);
    let mut frames = Vec::new();
    loop {
        match decoder.next_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, None),
            Err(err) => return (frames, Some(err)),
        }
    }
}

#[test]
fn golden_hello_request_encodes_like_the_reference_client() {
    let payload = hex("0a 09 62 6c 75 65 66 6c 65 65 74 10 01 18 0a");
    assert_eq!(
        encode_frame(1, &payload),
        hex("00 0f 01 0a 09 62 6c 75 65 66 6c 65 65 74 10 01 18 0a")
    );
    assert_eq!(encode_frame(7, &[]), hex("00 00 07"));
}

#[test]
fn frames_split_across_reads_and_coalesced_in_one_read_both_decode() {
    let mut stream = hex("00 02 42 08 01");
    stream.extend(hex("00 00 50"));
    stream.extend(hex("00 0d 45 08 81 80 80 c0 93 98 29 10 01 18 f7 01"));
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    for byte in &stream {
        decoder.extend(std::slice::from_ref(byte));
        while let Some(frame) = decoder.next_frame().unwrap() {
            frames.push(frame);
        }
    }
    let types: Vec<u16> = frames.iter().map(|f| f.message_type).collect();
    assert_eq!(types, vec![66, 80, 69]);
    assert_eq!(decoder.pending(), 0);
    assert_eq!(decode_all(&stream).0, frames);
}

#[test]
fn noise_indicator_on_a_plaintext_session_says_to_configure_a_key() {
    let (_, err) = decode_all(&hex("01 00 00"));
    let err = err.unwrap();
    assert!(matches!(err, FrameError::WrongPreamble { found: 1, .. }));
    assert!(err.to_string().contains("requires encryption"), "{err}");
    assert!(matches!(
        decode_all(&hex("7f 00 00")).1,
        Some(FrameError::WrongPreamble { found: 0x7f, .. })
    ));
}

#[test]
fn oversized_and_overlong_headers_are_rejected_before_buffering_the_payload() {
    // 65536 = varint 80 80 04
    assert_eq!(
        decode_all(&hex("00 80 80 04 01")).1,
        Some(FrameError::Oversized { length: 65_536 })
    );
    assert_eq!(
        decode_all(&hex("00 ff ff ff ff 01")).1,
        Some(FrameError::VarintTooLong)
    );
    assert_eq!(
        decode_all(&hex("00 00 80 80 04")).1,
        Some(FrameError::MessageTypeOutOfRange { found: 65_536 })
    );
}

#[test]
fn a_truncated_frame_waits_for_more_bytes_and_counts_as_pending() {
    let (frames, err) = decode_all(&hex("00 05 01 aa bb"));
    assert!(frames.is_empty() && err.is_none());
    let mut decoder = FrameDecoder::new();
    decoder.extend(&hex("00 05 01 aa bb"));
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(decoder.pending(), 5);
}

#[test]
fn varints_round_trip() {
    for value in [
        0u64,
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        65_535,
        u64::from(u32::MAX),
    ] {
        let mut out = Vec::new();
        put_varint(&mut out, value);
        if out.len() <= MAX_VARINT_BYTES {
            assert_eq!(get_varint(&out), Ok(Some((value, out.len()))));
        }
    }
}

/// A fixed seed: every run checks the same inputs (deterministic tests).
fn fixed_seed(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0e5f_0a3e),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(fixed_seed(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let (frames, _) = decode_all(&bytes);
        for frame in frames {
            prop_assert!(frame.payload.len() <= MAX_PAYLOAD);
            // Message decoding must not panic on arbitrary payloads either.
            let _ = crate::backend::esphome::api::Incoming::decode(&frame);
        }
    }

    #[test]
    fn encoded_frames_decode_to_themselves(
        message_type in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let (frames, err) = decode_all(&encode_frame(message_type, &payload));
        prop_assert!(err.is_none());
        prop_assert_eq!(frames, vec![RawFrame { message_type, payload: Bytes::from(payload) }]);
    }
}

/// The corpus under `tests/corpus/esphome_frames/` (also the fuzz target's seeds). File names
/// say what each must do: `ok-N-*` decodes N whole frames and nothing is left, `err-*` ends in
/// an error, `partial-*` waits for more bytes. cargo-fuzz needs nightly, which CI lacks, so this
/// test and the proptest above are what CI runs against hostile bytes.
#[test]
fn corpus_files_decode_as_their_names_say() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/esphome_frames");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let (frames, err) = decode_all(&bytes);
        for frame in &frames {
            let _ = crate::backend::esphome::api::Incoming::decode(frame);
        }
        let mut parts = name.splitn(3, '-');
        match parts.next() {
            Some("ok") => {
                let expected: usize = parts.next().unwrap().parse().unwrap();
                assert!(err.is_none(), "{name}: {err:?}");
                assert_eq!(frames.len(), expected, "{name}");
            }
            Some("err") => assert!(err.is_some(), "{name} should be rejected"),
            Some("partial") => assert!(err.is_none() && frames.is_empty(), "{name}"),
            _ => panic!("corpus file {name} has no ok-/err-/partial- prefix"),
        }
        checked += 1;
    }
    assert!(checked >= 8, "corpus has only {checked} files");
}
