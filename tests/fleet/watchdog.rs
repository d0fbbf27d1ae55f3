//! The radio watchdog on the simulator: a radio whose scanner gets stuck (up, but delivering
//! nothing) is recovered by climbing its ladder, each step in diagnostics; the other radios
//! are left alone. Virtual time, fixed seed.

use std::time::Duration;

use bluefleet::backend::RecoveryStep;
use bluefleet::fleet::block_on_virtual_time;
use bluefleet::fleet::{RecoveryEntry, RecoveryReport};
use bluefleet::sim::{RadioSpec, Simulation};
use bluefleet::Fleet;

use crate::support::*;

const QUIET: Duration = Duration::from_secs(90);

async fn recovery_of(fleet: &Fleet, radio: &str) -> Option<RecoveryReport> {
    let diagnostics = fleet.diagnostics().await.unwrap();
    let row = diagnostics
        .radios
        .iter()
        .find(|r| r.radio.as_str() == radio);
    row.unwrap().recovery.clone()
}

fn two_radio_world() -> bluefleet::sim::World {
    world(
        vec![
            RadioSpec::local_controller("hci0").at(0.0, 0.0).slots(5),
            RadioSpec::esphome_proxy("p1").at(2.0, 0.0).slots(3),
        ],
        vec![env_sensor(1, 1.0, 1.0), env_sensor(2, 1.5, 0.5)],
    )
}

fn fleet_over(simulation: &Simulation, watchdog: Option<Duration>) -> Fleet {
    let mut builder = Fleet::builder().radios(simulation.radios()).seed(11);
    if let Some(quiet) = watchdog {
        builder = builder.radio_watchdog(quiet);
    }
    builder.build().unwrap()
}

#[test]
fn a_stuck_controller_is_recovered_by_restart_then_power_cycle() {
    block_on_virtual_time(async {
        let simulation = Simulation::start(two_radio_world(), 11);
        let fleet = fleet_over(&simulation, Some(QUIET));
        run_for(Duration::from_secs(30)).await;
        let quiet_from = 30.0;
        // Only a power cycle clears this fault: the first rung must not be enough.
        simulation
            .control()
            .radio_quiet("hci0", RecoveryStep::PowerCycle)
            .unwrap();
        run_for(Duration::from_secs(89)).await;
        let early = recovery_of(&fleet, "hci0").await.unwrap();
        assert_eq!(
            early.steps_taken, 0,
            "nothing before 90 s of silence: {early:?}"
        );
        run_for(Duration::from_secs(300)).await;

        let report = recovery_of(&fleet, "hci0").await.unwrap();
        assert_eq!(
            report.ladder,
            [RecoveryStep::RestartDiscovery, RecoveryStep::PowerCycle]
        );
        assert_eq!(
            (report.steps_taken, report.recoveries),
            (2, 1),
            "{report:?}"
        );
        assert_eq!(report.steps_this_episode, 0, "adverts again: episode over");
        let [first, second, recovered] = report.history.as_slice() else {
            panic!("two steps and a recovery: {report:?}");
        };
        let RecoveryEntry::Step {
            at_s: first_at,
            step: RecoveryStep::RestartDiscovery,
            silent_s,
            error: None,
        } = first
        else {
            panic!("first restart discovery: {first:?}");
        };
        // The last advert came at most ~1 s (one advert interval) before the fault.
        assert!(
            (quiet_from + 89.0..=quiet_from + 91.5).contains(first_at),
            "{first:?}"
        );
        assert!((90.0..=91.5).contains(silent_s), "{first:?}");
        let RecoveryEntry::Step {
            at_s: second_at,
            step: RecoveryStep::PowerCycle,
            error: None,
            ..
        } = second
        else {
            panic!("then a power cycle: {second:?}");
        };
        assert!(
            (second_at - first_at - 90.0).abs() < 1e-6,
            "a rung every 90 s: {second:?}"
        );
        let RecoveryEntry::Recovered {
            at_s,
            after_steps: 2,
            last_step: RecoveryStep::PowerCycle,
        } = recovered
        else {
            panic!("recovered by the power cycle: {recovered:?}");
        };
        assert!(
            at_s - second_at < 2.0,
            "adverts within an interval of the cycle: {recovered:?}"
        );

        let proxy = recovery_of(&fleet, "p1").await.unwrap();
        assert_eq!(
            proxy.ladder,
            [RecoveryStep::RestartDiscovery, RecoveryStep::Reconnect]
        );
        assert_eq!(
            proxy.steps_taken, 0,
            "a delivering radio is left alone: {proxy:?}"
        );
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn a_mild_fault_needs_only_the_first_rung_and_links_survive_it() {
    block_on_virtual_time(async {
        let simulation = Simulation::start(two_radio_world(), 11);
        let fleet = fleet_over(&simulation, Some(Duration::from_secs(20)));
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        let connects_before = simulation.stats().device(addr(1)).unwrap().connects;
        simulation
            .control()
            .radio_quiet("p1", RecoveryStep::RestartDiscovery)
            .unwrap();
        simulation
            .control()
            .radio_quiet("hci0", RecoveryStep::RestartDiscovery)
            .unwrap();
        run_for(Duration::from_secs(60)).await;
        for radio in ["hci0", "p1"] {
            let report = recovery_of(&fleet, radio).await.unwrap();
            assert_eq!(
                (report.steps_taken, report.recoveries),
                (1, 1),
                "{radio}: {report:?}"
            );
        }
        let connects_after = simulation.stats().device(addr(1)).unwrap().connects;
        assert_eq!(
            connects_before, connects_after,
            "restarting discovery keeps links"
        );
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn without_a_watchdog_diagnostics_have_no_recovery_report() {
    block_on_virtual_time(async {
        let simulation = Simulation::start(two_radio_world(), 11);
        let fleet = fleet_over(&simulation, None);
        simulation
            .control()
            .radio_quiet("hci0", RecoveryStep::RestartDiscovery)
            .unwrap();
        run_for(Duration::from_secs(300)).await;
        assert_eq!(recovery_of(&fleet, "hci0").await, None);
        fleet.shutdown().await.unwrap();
    });
}
