//! What the terminal on the other end allows: colour, redrawing, spinners.
//!
//! One place decides, so every subcommand honours the same conventions: colour and in-place
//! redraws only on a terminal, never when `NO_COLOR` is set (any value, <https://no-color.org>)
//! or `TERM=dumb`; journald and pipes get plain lines.

use std::io::IsTerminal;

/// Whether the environment forbids colour and cursor tricks.
fn plain_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || std::env::var("TERM").is_ok_and(|term| term == "dumb")
}

/// Colour and redraws on standard output.
pub fn stdout_is_rich() -> bool {
    std::io::stdout().is_terminal() && !plain_requested()
}

/// Colour and spinners on standard error.
pub fn stderr_is_rich() -> bool {
    std::io::stderr().is_terminal() && !plain_requested()
}
