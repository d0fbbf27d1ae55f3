//! Several hubs, one house: three `bluefleet run` processes (same devices, same seed, one
//! radio each in another corner) on one real mosquitto. Each device is connected by exactly
//! one hub, the one whose radio hears it best; a killed hub's devices move within
//! 2 × keepalive; a hub cut from the broker drops its devices before any other hub claims
//! them; a command sent to any hub reaches the device through its holder. After every test,
//! the sims' own link logs must show no moment at which two hubs held one device.

use std::time::{Duration, Instant};

use crate::bed::broker;
use crate::cluster_bed::{
    assert_never_two_holders, now_us, settled, ClusterHub, Relay, DEVICES, KEEPALIVE,
};
use crate::commands::Asker;

const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// Waits (bounded) until every device of `moved` is up on a hub other than `from`; returns
/// each device's new holder and when its link came up there.
fn moved_away(
    hubs: &[ClusterHub],
    from: &str,
    moved: &[String],
    within: Duration,
) -> Vec<(String, &'static str, i64)> {
    let deadline = Instant::now() + within;
    loop {
        let found: Vec<(String, &'static str, i64)> = moved
            .iter()
            .filter_map(|device| {
                hubs.iter()
                    .filter(|h| h.name != from && h.holding().contains(device))
                    .find_map(|h| Some((device.clone(), h.name, h.last(device, true)?)))
            })
            .collect();
        if found.len() == moved.len() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{from}'s devices {moved:?} did not all move within {within:?}: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn each_device_once_on_its_best_hub_a_killed_hubs_devices_move_and_commands_reach_the_holder() {
    let Some(broker) = broker() else { return };
    // Watchers first: mosquitto_sub needs a moment to subscribe.
    let asker = Asker::new(&broker, "cellar");
    let refusals = broker.watch("bluefleet/cellar/responses/k1");
    let mut hubs: Vec<ClusterHub> = (0..3)
        .map(|i| ClusterHub::start(&broker, i, broker.port))
        .collect();
    let holders = settled(&hubs, SETTLE_WITHIN);
    for (device, holder) in &holders {
        assert_eq!(
            *holder,
            crate::cluster_bed::nearest(device),
            "{device} is not on its nearest hub: {holders:?}"
        );
    }
    // The retained claims say the same.
    let claimed = broker.retained("bluefleet/cluster/house/claims/+", Duration::from_secs(1));
    assert_eq!(claimed.len(), DEVICES.len(), "{claimed:?}");
    for claim in &claimed {
        let device = claim.topic.rsplit('/').next().unwrap();
        assert_eq!(claim.json()["hub"], holders[device], "{claim:?}");
        assert_eq!(claim.json()["state"], "held");
    }

    // A read sent to cellar for a device garage holds is answered by garage, through cellar.
    let garages = holders
        .iter()
        .find(|(_, h)| **h == "garage")
        .map(|(d, _)| d.clone())
        .unwrap();
    let answer = asker.ask(
        "read",
        &format!(
            r#"{{"address":"{garages}","characteristic":"2a6e","decode":"int16le","scale":0.01}}"#
        ),
        "forwarded-1",
    );
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(answer["result"]["value"].as_f64().is_some(), "{answer}");
    // keep-connected is the cluster's to decide: refused, naming the field.
    broker.publish(
        "bluefleet/cellar/commands/keep-connected",
        &format!(r#"{{"address":"{garages}","on":false,"id":"k1"}}"#),
        &[],
        false,
    );
    let refusal = refusals
        .until(
            "the keep-connected refusal",
            Duration::from_secs(15),
            |_| true,
        )
        .json();
    assert_eq!(refusal["ok"], false, "{refusal}");
    assert_eq!(refusal["error"]["field"], "address", "{refusal}");

    // SIGKILL the attic: its devices move, each within 2 × keepalive of the kill.
    let attic = hubs.iter().position(|h| h.name == "attic").unwrap();
    let moved: Vec<String> = holders
        .iter()
        .filter(|(_, h)| **h == "attic")
        .map(|(d, _)| d.clone())
        .collect();
    assert!(!moved.is_empty());
    hubs[attic].kill();
    let killed_at = hubs[attic].killed_at.unwrap();
    let arrivals = moved_away(&hubs, "attic", &moved, KEEPALIVE * 4);
    for (device, hub, up_at) in &arrivals {
        let took = Duration::from_micros((up_at - killed_at).max(0) as u64);
        eprintln!("takeover after SIGKILL: {device} on {hub} after {took:?}");
        assert!(
            took <= KEEPALIVE * 2,
            "{device} took {took:?} to move to {hub} (bound {:?})",
            KEEPALIVE * 2
        );
    }
    let after = settled(&hubs, Duration::from_secs(10));
    assert!(after.values().all(|h| *h != "attic"), "{after:?}");
    assert_never_two_holders(&hubs);
}

#[test]
fn a_hub_cut_from_the_broker_drops_its_devices_before_another_hub_claims_them() {
    let Some(broker) = broker() else { return };
    let relay = Relay::start(broker.port);
    let hubs: Vec<ClusterHub> = (0..3)
        .map(|i| {
            let port = if i == 0 { relay.port } else { broker.port };
            ClusterHub::start(&broker, i, port)
        })
        .collect();
    let holders = settled(&hubs, SETTLE_WITHIN);
    let moved: Vec<String> = holders
        .iter()
        .filter(|(_, h)| **h == "attic")
        .map(|(d, _)| d.clone())
        .collect();
    assert!(!moved.is_empty(), "{holders:?}");
    relay.cut();
    let cut_at = now_us();
    let arrivals = moved_away(&hubs, "attic", &moved, KEEPALIVE * 4);
    let attic = &hubs[0];
    for (device, hub, up_at) in &arrivals {
        let dropped_at = attic
            .last(device, false)
            .unwrap_or_else(|| panic!("attic never dropped {device}"));
        let dropped_after = Duration::from_micros((dropped_at - cut_at).max(0) as u64);
        let gap = Duration::from_micros((up_at - dropped_at).max(0) as u64);
        eprintln!(
            "cut: attic dropped {device} {dropped_after:?} after the cut; {hub} connected it {gap:?} later"
        );
        assert!(
            dropped_at < *up_at,
            "{hub} connected {device} before attic dropped it"
        );
        let new_holder = hubs.iter().find(|h| h.name == *hub).unwrap();
        let (claimed_at, epoch) = new_holder
            .last_claim(device)
            .unwrap_or_else(|| panic!("{hub} connected {device} without claiming it"));
        assert!(
            dropped_at < claimed_at,
            "{hub} claimed {device} before attic dropped it"
        );
        assert!(epoch >= 2, "{hub} claimed {device} with epoch {epoch}");
        let lead = Duration::from_micros((claimed_at - dropped_at) as u64);
        eprintln!("cut: {hub} claimed {device} (epoch {epoch}) {lead:?} after attic dropped it");
        assert!(
            dropped_after < KEEPALIVE,
            "attic held {device} {dropped_after:?} after the cut: longer than its lease"
        );
        let took = Duration::from_micros((up_at - cut_at).max(0) as u64);
        assert!(took <= KEEPALIVE * 2, "{device} took {took:?} to move");
    }
    assert!(attic.holding().is_empty(), "{:?}", attic.holding());
    assert_never_two_holders(&hubs);
}
