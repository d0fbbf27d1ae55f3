//! Waits over a second show a spinner only on a terminal: through a pipe (scripts, journald)
//! standard error stays empty and standard output is only the answer.

use crate::bluefleet;

#[test]
fn long_waits_through_a_pipe_print_nothing_extra() {
    for args in [
        &["beacons", "--duration", "5s", "--json"][..],
        &["explore", "A4:C1:38:00:00:01", "--wait", "20s", "--json"],
    ] {
        let run = bluefleet(args);
        assert!(run.ok, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{args:?}: nothing on stderr");
        assert!(
            serde_json::from_str::<serde_json::Value>(&run.stdout).is_ok(),
            "{args:?}: stdout is the JSON answer alone: {}",
            run.stdout
        );
    }
}
