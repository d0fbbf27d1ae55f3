//! The tracing subscriber: `-v`/`-q` and `RUST_LOG`, compact lines on standard error.
//!
//! The library logs radio state changes, retries and recoveries through `tracing`; without a
//! subscriber none of it would show. The daemon (`run`) logs at `info` by default, so every
//! radio state change is in its log; the one-shot commands log only errors by default, so their
//! own output stays readable. `RUST_LOG` wins over both. Without a terminal (journald, pipes)
//! lines have no colour codes and no timestamp of our own when journald adds one.

use tracing_subscriber::EnvFilter;

use crate::terminal::stderr_is_rich;

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// The level name for a base level moved by `-v` (up) and `-q` (down).
fn level(base: usize, verbose: u8, quiet: u8) -> &'static str {
    let index = (base + usize::from(verbose)).saturating_sub(usize::from(quiet));
    LEVELS[index.min(LEVELS.len() - 1)]
}

/// Installs the subscriber. `daemon` is true for long-running commands.
pub fn init(daemon: bool, verbose: u8, quiet: u8) {
    let base = if daemon { 3 } else { 1 };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(level(base, verbose, quiet)));
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .compact()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_is_rich())
        .with_target(false);
    // journald stamps every line itself.
    let _ = if under_journald {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::level;

    #[test]
    fn verbose_and_quiet_move_the_level_within_bounds() {
        assert_eq!(level(3, 0, 0), "info");
        assert_eq!(level(1, 0, 0), "error");
        assert_eq!(level(1, 2, 0), "info");
        assert_eq!(level(3, 9, 0), "trace");
        assert_eq!(level(1, 0, 5), "off");
        assert_eq!(level(3, 0, 1), "warn");
    }
}
