//! Small pieces of human output every subcommand shares: optional numbers, hex, durations.

/// `-63 dBm`, or `—` when unknown.
pub fn dbm(value: Option<f32>) -> String {
    value.map_or_else(|| "—".into(), |v| format!("{v:.0} dBm"))
}

/// `2.3 m`, or `—` when unknown.
pub fn metres(value: Option<f64>) -> String {
    value.map_or_else(|| "—".into(), |v| format!("{v:.1} m"))
}

/// Lower-case hex: the library's one formatter, so the CLI prints bytes as MQTT and the page do.
pub use bluefleet::config::decode::hex;

/// Prints a JSON value on one line.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string(value).map_err(|e| e.to_string())?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_show_a_dash() {
        assert_eq!(dbm(None), "—");
        assert_eq!(dbm(Some(-63.4)), "-63 dBm");
        assert_eq!(metres(Some(2.25)), "2.2 m");
        assert_eq!(hex(&[0xde, 0x01]), "de01");
    }
}
