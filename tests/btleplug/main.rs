//! The btleplug backend through the public `Fleet` API, against the BlueZ D-Bus double.
//!
//! btleplug finds the system bus only through `DBUS_SYSTEM_BUS_ADDRESS`, read once per
//! process, so every scenario runs in a process of its own: each `#[test]` below starts a
//! private bus with the mock BlueZ (`mock.rs`, template `bluez_fleet.py`), then re-runs this
//! test binary filtered to [`child_process_runs_one_scenario`] with the bus address and the
//! scenario's name in its environment, and passes or fails with that child. Time is real, so
//! every wait has a short bound. Needs `dbus-daemon` and python-dbusmock (`bash .ci/run`
//! installs both); without them the tests fail and say so.

#![cfg(all(feature = "btleplug", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mock;
mod scenarios;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mock::MockBluez;

/// Names the scenario a child process runs.
const SCENARIO: &str = "BLUEFLEET_BTLEPLUG_SCENARIO";

/// A child that has not finished by then has hung.
const CHILD_DEADLINE: Duration = Duration::from_secs(90);

/// Starts the double, runs `scenario` in a child process against it, and fails with the
/// child's output if the child fails.
fn run_in_own_process(scenario: &str) {
    let mock = MockBluez::start();
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_process_runs_one_scenario",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO, scenario)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &mock.address)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("re-run the test binary");
    let started = Instant::now();
    while child.try_wait().expect("child status").is_none() {
        if started.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("child output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "scenario {scenario} failed ({:?} after {:?}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        started.elapsed()
    );
}

#[test]
fn a_slow_link_reader_loses_the_oldest_notifications_counted() {
    run_in_own_process("slow_link_reader");
}

#[test]
fn adapters_are_listed_with_their_names_and_slot_limit() {
    run_in_own_process("adapters_are_listed");
}

#[test]
fn a_device_is_discovered_with_its_advertisement_data() {
    run_in_own_process("device_is_discovered");
}

#[test]
fn connect_read_notify_write_and_read_a_descriptor() {
    run_in_own_process("connect_read_notify");
}

#[test]
fn a_dropped_link_is_reported_and_the_subscription_resumes() {
    run_in_own_process("link_loss_and_resubscribe");
}

#[test]
fn a_connect_failure_arrives_classified_from_its_bluez_error_name() {
    run_in_own_process("classified_connect_failure");
}

#[test]
fn a_crashed_device_actor_releases_its_btleplug_connection_and_slot() {
    run_in_own_process("crashed_actor_disconnects");
}

#[test]
fn one_lost_link_of_two_on_an_adapter_leaves_the_other_running() {
    run_in_own_process("one_link_lost_of_two");
}

#[test]
fn the_scan_runs_while_any_event_stream_of_the_radio_is_held() {
    run_in_own_process("scan_while_any_stream_is_held");
}

#[test]
fn the_cli_scans_through_btleplug() {
    run_in_own_process("cli_scan");
}

#[test]
fn a_hub_file_btleplug_radio_is_used_by_run() {
    run_in_own_process("cli_hub_file");
}

/// The child side: runs the scenario its parent named. Ignored in a normal run (it needs the
/// parent's bus); run directly, it fails and says why.
#[test]
#[ignore = "runs only as the child process of the scenario tests above"]
fn child_process_runs_one_scenario() {
    let scenario = std::env::var(SCENARIO).expect(
        "run through the scenario tests, which start the D-Bus double and set the scenario",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(scenarios::run(&scenario));
}
