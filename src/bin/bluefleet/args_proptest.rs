//! Any argument strings, for every subcommand: parsing never panics, and what it refuses is
//! one line starting `error:`. The options come from the grammar itself (clap's description of
//! each subcommand), their values from a mix of numbers in every notation, durations, UUIDs,
//! addresses and arbitrary text, so a new option is covered without listing it here.

use clap::{CommandFactory, Parser};
use proptest::prelude::*;

use super::{usage_line, Cli};

/// Values an option may be given: near-valid ones most of all, where the checks are.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{0,6}(\\.[0-9]{0,4})?(e-?[0-9]{1,4})?(ms|s|m|h|d|min)?",
        "(NaN|inf|-inf|1e300|-0|0x[0-9a-fA-F]{0,6})",
        "([0-9A-Fa-f]{2}:){0,6}[0-9A-Fa-f]{0,2}",
        "[0-9a-fA-F-]{0,40}",
        "[ -~]{0,16}",
        "\\PC{0,8}",
    ]
}

/// One subcommand's name and a few of its options (long names), each with a value.
fn arguments() -> impl Strategy<Value = Vec<String>> {
    let command = Cli::command();
    let subcommands: Vec<(String, Vec<String>)> = command
        .get_subcommands()
        .map(|sub| {
            let options = sub
                .get_arguments()
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect();
            (sub.get_name().to_string(), options)
        })
        .collect();
    (0..subcommands.len()).prop_flat_map(move |index| {
        let (name, options) = subcommands[index].clone();
        let option = proptest::sample::select(if options.is_empty() {
            vec!["--json".to_string()]
        } else {
            options
        });
        let pairs = proptest::collection::vec((option, value(), any::<bool>()), 0..4);
        (Just(name), value(), pairs).prop_map(|(name, positional, pairs)| {
            let mut args = vec!["bluefleet".to_string(), name, positional];
            for (option, value, joined) in pairs {
                if joined {
                    args.push(format!("{option}={value}"));
                } else {
                    args.extend([option, value]);
                }
            }
            args
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_arguments_parse_or_give_one_clear_line(args in arguments()) {
        if let Err(err) = Cli::try_parse_from(&args) {
            if let Some(line) = usage_line(&err) {
                prop_assert!(line.starts_with("error:"), "{args:?}: {line}");
                prop_assert!(!line.contains('\n'), "{args:?}: {line}");
                prop_assert!(line.len() > "error: ".len(), "{args:?}: {line}");
            }
        }
    }
}
