//! `bluefleet --version`: the version and the backends this binary was built with.
//!
//! A user whose `--backend esphome` fails needs to know first whether it is in the binary at
//! all; the cargo features decide that at build time, so the version line says it.

use std::sync::LazyLock;

/// The backends compiled in, in a fixed order.
pub fn backends() -> Vec<&'static str> {
    let mut built = vec!["sim"];
    if cfg!(feature = "bluez") {
        built.push("bluez");
    }
    if cfg!(feature = "esphome") {
        built.push("esphome");
    }
    if cfg!(feature = "btleplug") {
        built.push("btleplug");
    }
    built
}

static TEXT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} (backends: {})",
        env!("CARGO_PKG_VERSION"),
        backends().join(", ")
    )
});

/// `0.1.0 (backends: sim, bluez, esphome)`.
pub fn text() -> &'static str {
    TEXT.as_str()
}
