//! Fuzzes the ESPHome plaintext frame decoder: any bytes, split anywhere, must yield frames or
//! a `FrameError`, never a panic, and never a payload over the size cap.
#![no_main]

use bluefleet::backend::esphome::frame::{FrameDecoder, MAX_PAYLOAD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks where the stream is split, so partial frames are exercised too.
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let (head, tail) = stream.split_at(usize::from(split).min(stream.len()));
    let mut decoder = FrameDecoder::new();
    for chunk in [head, tail] {
        decoder.extend(chunk);
        while let Ok(Some(frame)) = decoder.next_frame() {
            assert!(frame.payload.len() <= MAX_PAYLOAD);
        }
    }
});
