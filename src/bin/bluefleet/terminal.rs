//! What the terminal on the other end allows: colour, redrawing, spinners.
//!
//! One place decides, so every subcommand honours the same conventions: colour and in-place
//! redraws only on a terminal, never when `NO_COLOR` is set (any value, <https://no-color.org>)
//! or `TERM=dumb`; journald and pipes get plain lines.

use std::ffi::OsString;
use std::io::IsTerminal;

/// The decision, from what it depends on: whether the stream is a terminal, and `NO_COLOR`
/// and `TERM` as the environment has them.
fn rich(terminal: bool, no_color: Option<OsString>, term: Option<OsString>) -> bool {
    let plain = no_color.is_some_and(|v| !v.is_empty()) || term.is_some_and(|t| t == "dumb");
    terminal && !plain
}

fn rich_from_env(terminal: bool) -> bool {
    rich(
        terminal,
        std::env::var_os("NO_COLOR"),
        std::env::var_os("TERM"),
    )
}

/// Colour and redraws on standard output.
pub fn stdout_is_rich() -> bool {
    rich_from_env(std::io::stdout().is_terminal())
}

/// Colour and spinners on standard error.
pub fn stderr_is_rich() -> bool {
    rich_from_env(std::io::stderr().is_terminal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_terminal_without_no_color_or_a_dumb_term_is_rich() {
        let env = |v: &str| Some(OsString::from(v));
        assert!(rich(true, None, env("xterm-256color")));
        assert!(rich(true, None, None));
        assert!(!rich(false, None, env("xterm")), "a pipe or a file");
        assert!(!rich(true, env("1"), env("xterm")), "NO_COLOR set");
        assert!(
            rich(true, env(""), env("xterm")),
            "NO_COLOR empty counts as unset"
        );
        assert!(!rich(true, None, env("dumb")));
    }
}
