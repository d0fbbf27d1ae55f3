//! Adapter actors: one per radio.

pub mod slots;
