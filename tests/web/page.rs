//! The page of `demo --web` on the flat world, in headless Chromium: it loads cleanly, shows
//! every radio and device of the world, draws a bar per lease the fleet reports, and shows a
//! radio going down without a reload within 2 s. A screenshot of each view goes under target/.

use std::time::Duration;

use bluefleet::sim::World;

use crate::browser::Browser;
use crate::support::{artefacts, request, root, Served};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flat_world_in_a_real_browser() {
    let world = World::load(root().join("examples/worlds/flat.toml")).expect("flat world");
    let Some(browser) = Browser::start().await else {
        return;
    };
    let served = Served::start(&[
        "demo",
        "--world",
        "examples/worlds/flat.toml",
        "--web",
        "127.0.0.1:0",
        "--web-commands",
        "--speed",
        "10",
        "--duration",
        "5m",
    ]);
    let shots = artefacts();
    browser.open(&served.url).await;

    // Every radio of the world, in the radios view.
    let radios: Vec<String> = world.radios.iter().map(|r| r.name.clone()).collect();
    let has_all = |attr: &str, values: &[String]| {
        let list = serde_json::to_string(values).expect("json");
        format!("return {list}.every(v => document.querySelector('tr[data-{attr}=\"' + v + '\"]') !== null)")
    };
    browser
        .wait_true("every radio shown", &has_all("radio", &radios), WAIT)
        .await;
    // The header says what the bounded queues dropped: nothing, in this small world.
    browser
        .wait_true(
            "the header's losses drawn",
            "return document.getElementById('losses').textContent === 'nothing lost'",
            WAIT,
        )
        .await;
    browser
        .eval("window.__notReloaded = true; return true")
        .await;
    browser.screenshot(&shots.join("radios.png")).await;

    // Every device of the world, in the devices view.
    browser.show_view("devices").await;
    let devices: Vec<String> = world
        .devices
        .iter()
        .map(|d| d.address.to_string())
        .collect();
    browser
        .wait_true("every device shown", &has_all("device", &devices), WAIT)
        .await;
    browser.screenshot(&shots.join("devices.png")).await;

    // A live change: a radio goes down in the sim; the page shows it without a reload.
    browser.show_view("radios").await;
    let state = "document.querySelector('tr[data-radio=\"proxy-kitchen\"] .state').textContent";
    browser
        .wait_true(
            "proxy-kitchen up first",
            &format!("return {state}.startsWith('scanning')"),
            WAIT,
        )
        .await;
    let (status, body) = request(
        "POST",
        &format!("{}api/commands/radio/proxy-kitchen/down", served.url),
        &[],
        "",
    );
    assert_eq!(status, 202, "{body}");
    let took = browser
        .wait_true(
            "proxy-kitchen shown down",
            &format!("return {state} === 'down'"),
            Duration::from_secs(2),
        )
        .await;
    eprintln!("the page showed proxy-kitchen down {took:?} after the command");
    assert_eq!(
        browser.eval("return window.__notReloaded === true").await,
        true,
        "the page reloaded"
    );
    browser.screenshot(&shots.join("radios-down.png")).await;

    // Attempts and adverts views.
    browser.show_view("attempts").await;
    browser
        .wait_true(
            "attempts listed",
            "return document.querySelectorAll('#attempts tbody tr').length > 0",
            WAIT,
        )
        .await;
    browser.screenshot(&shots.join("attempts.png")).await;
    browser.show_view("adverts").await;
    browser
        .eval("const f = document.getElementById('filter'); f.value = 'climate'; f.dispatchEvent(new Event('input')); return true")
        .await;
    browser
        .wait_true(
            "the advert filter keeps only matching rows",
            "const rows = [...document.querySelectorAll('#adverts tbody tr')]; \
             return rows.length > 0 && rows.every(r => r.textContent.toLowerCase().includes('climate'))",
            WAIT,
        )
        .await;
    browser.screenshot(&shots.join("adverts.png")).await;

    // Once the run is over the journal is final: the timeline has one bar per lease, and each
    // slot the fleet reports held at the end is an open bar on its radio's lane.
    served.wait_finished(Duration::from_secs(180));
    browser.show_view("timeline").await;
    browser
        .wait_true(
            "the page has the final state",
            "return document.getElementById('clock').textContent.includes('finished')",
            WAIT,
        )
        .await;
    let timeline = served.get_json("api/timeline?window=900");
    let leases = timeline["leases"].as_array().expect("leases").len();
    let ticks = timeline["ticks"].as_array().expect("ticks").len();
    assert!(leases > 0 && ticks > 0, "{timeline}");
    browser
        .wait_true(
            "a bar per lease",
            &format!(
                "return document.querySelectorAll('#timeline rect.lease').length === {leases}"
            ),
            WAIT,
        )
        .await;
    let drawn_ticks = browser
        .eval("return document.querySelectorAll('#timeline line.tick').length")
        .await;
    assert_eq!(drawn_ticks, ticks, "a tick per finished attempt");
    let radios_now = served.get_json("api/radios");
    for radio in radios_now["radios"].as_array().expect("radios") {
        for holder in radio["holders"].as_array().expect("holders") {
            let selector = format!(
                "#timeline rect.lease[data-radio=\"{}\"][data-device=\"{}\"][data-open=\"true\"]",
                radio["radio"].as_str().expect("name"),
                holder["address"].as_str().expect("address")
            );
            let found = browser
                .eval(&format!(
                    "return document.querySelector('{selector}') !== null"
                ))
                .await;
            assert_eq!(found, true, "no open bar for {selector}");
        }
    }
    browser.screenshot(&shots.join("timeline.png")).await;

    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await;
}
