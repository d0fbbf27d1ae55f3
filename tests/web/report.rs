//! `demo --report`: the SVG parses as XML, is the same bytes for a seed in two processes, and
//! its bars and ticks add up to the run's own counters (the summary's attempts by class and
//! slot-seconds, which the demo computes from the fleet, not from the journal).

use std::process::Command;

use crate::support::root;

fn report(dir: &std::path::Path) -> (String, serde_json::Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_bluefleet"))
        .args([
            "demo",
            "--seed",
            "7",
            "--speed",
            "0",
            "--duration",
            "5m",
            "--json",
            "--report",
        ])
        .arg(dir)
        .current_dir(root())
        .output()
        .expect("run the demo");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = serde_json::from_slice(&output.stdout).expect("one JSON summary on stdout");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    (html, summary)
}

/// The SVG pictures of the report, parsed.
fn svgs(html: &str) -> Vec<String> {
    html.split("<svg ")
        .skip(1)
        .map(|rest| {
            format!(
                "<svg {}</svg>",
                rest.split("</svg>").next().expect("closed")
            )
        })
        .collect()
}

#[test]
fn the_report_is_deterministic_parses_and_counts_what_the_run_counted() {
    let (one, two) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (html, summary) = report(one.path());
    let (again, _) = report(two.path());
    if html != again {
        let dir = crate::support::artefacts();
        std::fs::write(dir.join("report-1.html"), &html).expect("keep");
        std::fs::write(dir.join("report-2.html"), &again).expect("keep");
        panic!(
            "two runs with one seed wrote different reports (kept in {})",
            dir.display()
        );
    }

    let pictures = svgs(&html);
    let ids: Vec<String> = pictures
        .iter()
        .map(|svg| {
            let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
            doc.root_element()
                .attribute("id")
                .expect("an id")
                .to_string()
        })
        .collect();
    assert_eq!(&ids[..2], ["slot-timeline", "attempts-by-class"]);
    assert!(
        ids[2..].iter().all(|id| id == "rssi") && ids.len() > 2,
        "{ids:?}"
    );

    let timeline = roxmltree::Document::parse(&pictures[0]).expect("timeline");
    let marks = |class: &str| {
        timeline
            .descendants()
            .filter(move |n| n.attribute("class") == Some(class))
            .collect::<Vec<_>>()
    };
    let ticks = marks("tick");
    let count = |class: &str| {
        ticks
            .iter()
            .filter(|t| t.attribute("data-class") == Some(class))
            .count() as u64
    };
    let attempts = &summary["attempts"];
    let expected = |key: &str| attempts[key].as_u64().expect("a count");
    assert_eq!(count("ok"), expected("succeeded"), "{summary}");
    assert_eq!(count("not-found"), expected("not_found"));
    assert_eq!(count("out-of-slots"), expected("out_of_slots"));
    assert_eq!(count("aborted"), expected("aborted"));
    assert_eq!(count("generic"), expected("generic"));

    // Bars: each lease covers the seconds its slot was seen held, plus the last sample for the
    // ones still open — together exactly the demo's slot-seconds.
    let leases = marks("lease");
    assert!(!leases.is_empty());
    let end_s = summary["virtual_seconds"].as_f64().expect("seconds");
    let held: f64 = leases
        .iter()
        .map(|l| {
            let start: f64 = l
                .attribute("data-start")
                .and_then(|s| s.parse().ok())
                .expect("start");
            match l.attribute("data-end") {
                Some("open") => end_s - start + 1.0,
                end => end.and_then(|s| s.parse::<f64>().ok()).expect("end") - start,
            }
        })
        .sum();
    assert_eq!(
        held.round() as u64,
        summary["slot_seconds"].as_u64().expect("slot seconds")
    );

    // Attempts by class: the buckets add up to the ticks.
    let buckets = roxmltree::Document::parse(&pictures[1]).expect("buckets");
    let bucketed: u64 = buckets
        .descendants()
        .filter(|n| n.attribute("class") == Some("bucket"))
        .map(|n| {
            n.attribute("data-count")
                .and_then(|c| c.parse::<u64>().ok())
                .expect("count")
        })
        .sum();
    assert_eq!(bucketed, ticks.len() as u64);
}
