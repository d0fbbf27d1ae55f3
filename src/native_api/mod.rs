//! The ESPHome native API as bytes and messages, shared by both ends bluefleet speaks.
//!
//! bluefleet is an ESPHome *client* (the `esphome` backend drives real proxies) and, with the
//! `proxy` feature, an ESPHome *server* (`bluefleet proxy` looks like a proxy to Home
//! Assistant). Both need the same framing (`frame`: plaintext, `noise`: the encrypted variant
//! with its initiator and responder handshakes) and the same protobuf messages (`messages`),
//! so they live here once instead of in either end. Everything here is pure or generic over
//! the stream: no sockets are opened in this module.
//!
//! Facts: the research notes `shared/research/esphome-proxy.md` §1.

pub mod frame;
pub(crate) mod messages;
pub mod noise;
#[cfg(feature = "proxy")]
pub(crate) mod responder;
