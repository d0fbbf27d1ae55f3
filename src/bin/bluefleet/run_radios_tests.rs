//! Reloads that fail in part, on simulated worlds in virtual time: every entry that can be
//! applied is, the failed ones are named, and the fleet's radios stay exactly the ones the
//! entries record (a later reload can remove each of them).

use std::path::Path;

use bluefleet::config::HubConfig;
use bluefleet::fleet::block_on_virtual_time;
use bluefleet::Fleet;
use tempfile::TempDir;

use super::{load_worlds, HubRadios, PartlyApplied, RadioChanges};

/// A world file of one proxy per name, and a sensor.
fn proxy_world(names: &[&str]) -> String {
    let radios: String = names
        .iter()
        .enumerate()
        .map(|(n, name)| {
            format!(
                "[[radios]]\nname = \"{name}\"\nkind = \"esphome-proxy\"\nslot_limit = 3\nposition = [{n}.0, 0.0]\n"
            )
        })
        .collect();
    format!(
        "{radios}[[devices]]\naddress = \"A4:C1:38:00:00:01\"\nprofile = \"env-sensor\"\nposition = [1.0, 1.0]\nadvert_interval = \"1s\"\n"
    )
}

/// A hub file's text with one simulated entry per world file.
fn hub_of(worlds: &[&str]) -> HubConfig {
    let entries: String = worlds
        .iter()
        .map(|world| format!("[[radio]]\nbackend = \"sim\"\nworld = \"{world}\"\n"))
        .collect();
    HubConfig::parse(&format!("seed = 7\n{entries}")).unwrap()
}

/// World files in a new directory (`base.toml`, of `proxy-base`, and `worlds`), and a hub of
/// `base.toml` alone, opened, with a fleet over it.
async fn started_with(worlds: &[(&str, &str)]) -> (TempDir, HubRadios, Fleet) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.toml", &proxy_world(&["proxy-base"]));
    for (file, text) in worlds {
        write(dir.path(), file, text);
    }
    let hub_file = dir.path().join("hub.toml");
    let config = hub_of(&["base.toml"]);
    let worlds = load_worlds(&config.radios, &hub_file).unwrap();
    let (hub, radios) = HubRadios::open(&config, worlds, &hub_file, None)
        .await
        .unwrap();
    let fleet = Fleet::builder().radios(radios).seed(7).build().unwrap();
    (dir, hub, fleet)
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

/// A hub started on `base.toml`, reloaded with `pair.toml` added: a world whose second radio
/// has the name of one the fleet already has. Returns the reload's error.
async fn with_a_clashing_pair() -> (TempDir, HubRadios, Fleet, PartlyApplied) {
    let pair = proxy_world(&["proxy-new", "proxy-base"]);
    let (dir, mut hub, fleet) = started_with(&[("pair.toml", &pair)]).await;
    let partly = hub
        .apply(&fleet, &hub_of(&["base.toml", "pair.toml"]))
        .await
        .unwrap_err();
    (dir, hub, fleet, partly)
}

/// The fleet's radio names, sorted.
async fn radio_names(fleet: &Fleet) -> Vec<String> {
    let mut names: Vec<String> = fleet
        .diagnostics()
        .await
        .unwrap()
        .radios
        .iter()
        .map(|r| r.radio.to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn a_reload_whose_second_new_entry_fails_applies_the_other_two_and_names_it() {
    block_on_virtual_time(async {
        let (a, c) = (proxy_world(&["proxy-a"]), proxy_world(&["proxy-c"]));
        let bad = "[[radios]]\nname = 3\n";
        let worlds = [
            ("a.toml", a.as_str()),
            ("b.toml", bad),
            ("c.toml", c.as_str()),
        ];
        let (dir, mut hub, fleet) = started_with(&worlds).await;

        let three_more = hub_of(&["base.toml", "a.toml", "b.toml", "c.toml"]);
        let PartlyApplied { changes, error } = hub.apply(&fleet, &three_more).await.unwrap_err();
        assert_eq!(
            changes,
            RadioChanges {
                added: 2,
                removed: 0
            }
        );
        assert!(
            error.starts_with("radio[2] (sim world b.toml): ") && !error.contains("radio[3]"),
            "only the bad entry is named: {error}"
        );
        assert!(
            error.contains("expected a string") && error.trim_end() == error,
            "and what is wrong in it, on a line that ends there: {error:?}"
        );
        assert_eq!(
            radio_names(&fleet).await,
            ["proxy-a", "proxy-base", "proxy-c"]
        );

        // The same file again, with the world fixed: only the entry that failed is added.
        write(dir.path(), "b.toml", &proxy_world(&["proxy-b"]));
        let changes = hub.apply(&fleet, &three_more).await.unwrap();
        assert_eq!(
            changes,
            RadioChanges {
                added: 1,
                removed: 0
            }
        );
        assert_eq!(
            radio_names(&fleet).await,
            ["proxy-a", "proxy-b", "proxy-base", "proxy-c"]
        );

        // The entries applied around the failure are tracked: a reload can remove them.
        let changes = hub
            .apply(&fleet, &hub_of(&["base.toml", "b.toml"]))
            .await
            .unwrap();
        assert_eq!(
            changes,
            RadioChanges {
                added: 0,
                removed: 2
            }
        );
        assert_eq!(radio_names(&fleet).await, ["proxy-b", "proxy-base"]);
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn an_entry_with_one_radio_refused_records_the_radios_that_made_it_in() {
    block_on_virtual_time(async {
        let (_dir, mut hub, fleet, partly) = with_a_clashing_pair().await;
        let PartlyApplied { changes, error } = partly;
        assert_eq!(changes.added, 1, "in part: {error}");
        assert!(
            error.starts_with("radio[1] (sim world pair.toml): ")
                && error.contains("'proxy-base'")
                && error.contains("already registered"),
            "{error}"
        );
        assert_eq!(radio_names(&fleet).await, ["proxy-base", "proxy-new"]);

        // Gone from the file: the radio that made it in leaves the fleet with it.
        let changes = hub.apply(&fleet, &hub_of(&["base.toml"])).await.unwrap();
        assert_eq!(changes.removed, 1);
        assert_eq!(radio_names(&fleet).await, ["proxy-base"]);
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn an_entry_applied_in_part_is_opened_again_once_the_clash_is_gone() {
    block_on_virtual_time(async {
        let (_dir, mut hub, fleet, _) = with_a_clashing_pair().await;

        // base.toml leaves the file: its proxy-base goes, and the pair entry, incomplete, is
        // removed and opened again, this time with both of its radios.
        let changes = hub.apply(&fleet, &hub_of(&["pair.toml"])).await.unwrap();
        assert_eq!(
            changes,
            RadioChanges {
                added: 1,
                removed: 2
            }
        );
        assert_eq!(radio_names(&fleet).await, ["proxy-base", "proxy-new"]);
        let changes = hub.apply(&fleet, &hub_of(&["pair.toml"])).await.unwrap();
        assert_eq!(changes, RadioChanges::default(), "complete now: untouched");
        fleet.shutdown().await.unwrap();
    });
}
