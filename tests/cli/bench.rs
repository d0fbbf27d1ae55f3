//! `bluefleet bench`: spec-v1's workload is checked against the anchor's digests before any
//! clock starts (a stream that is not spec v1 is refused rather than measured), the watcher
//! arms run in child processes, `--check` agrees with the rows, and docs/performance.md is
//! what its committed JSON generates.

use super::{bluefleet, fails_clearly, json};

const README_V1: &str = "| N | SHA-256 |\n| --- | --- |\n| 1,000 | `0e18e2166eac132c353cbd39cad33753b339a6f8b2202558a17f42dc03ca01ec` |\n";

#[test]
fn spec_v1_runs_on_the_anchor_digest_and_refuses_another() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.md");
    std::fs::write(&good, README_V1).unwrap();
    let report = json(&[
        "bench",
        "spec-v1",
        "--adverts",
        "1000",
        "--json",
        "--anchor",
        good.to_str().unwrap(),
    ]);
    assert_eq!(report["sha256_verified"], true);
    assert_eq!(report["advertisements"], 1000);
    assert_eq!(report["lost"], 0);
    assert!(report["delivered"].as_u64().unwrap() > 0);

    let wrong = dir.path().join("wrong.md");
    std::fs::write(&wrong, README_V1.replace("01ec`", "01ed`")).unwrap();
    fails_clearly(
        &[
            "bench",
            "spec-v1",
            "--adverts",
            "1000",
            "--anchor",
            wrong.to_str().unwrap(),
        ],
        "refusing to measure",
    );
    let empty = dir.path().join("empty.md");
    std::fs::write(&empty, "no table here\n").unwrap();
    fails_clearly(
        &["bench", "spec-v1", "--anchor", empty.to_str().unwrap()],
        "no SHA-256 table",
    );
    fails_clearly(&["bench", "spec-v1", "--adverts", "0"], "--adverts must be");
}

/// `--check` fails exactly when a printed row missed: whatever the scheduling figures are
/// today, the exit code must agree with the rows.
#[test]
fn bench_check_exits_non_zero_exactly_when_a_row_missed() {
    for figure in ["cached", "storm"] {
        let run = bluefleet(&["bench", figure, "--quick", "--json", "--check"]);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let rows = report["figures"].as_array().unwrap();
        let missed: Vec<_> = rows.iter().filter(|r| r["pass"] == false).collect();
        assert_eq!(
            run.ok,
            missed.is_empty(),
            "{figure}: {missed:?} / {}",
            run.stderr
        );
        if !run.ok {
            assert!(run.stderr.contains("missed their target"), "{}", run.stderr);
        }
        if figure == "storm" {
            let collisions = rows
                .iter()
                .find(|r| r["figure"].as_str().unwrap().contains("concurrent"))
                .unwrap();
            assert_eq!(
                collisions["value"], 0.0,
                "bluefleet never runs two attempts on one radio"
            );
        }
        for row in rows {
            let reference = row["kind"] == "reference";
            assert_eq!(row["pass"].is_null(), reference, "{row}");
            assert_eq!(row["target"].is_null(), reference, "{row}");
        }
    }
    let cached = json(&["bench", "cached", "--quick", "--json"]);
    let requests = cached["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["figure"] == "discovery requests on a cache hit")
        .unwrap();
    assert_eq!(
        (requests["value"].as_f64(), requests["kind"].as_str()),
        (Some(0.0), Some("check"))
    );
}

/// `bench watchers` runs each arm in a child process of the binary and reads its report back:
/// every arm delivers, the per-address arms deliver what one watcher of every device does,
/// nothing is lost, and each cost is a real measurement.
#[test]
fn bench_watchers_measures_every_arm_in_a_child_process() {
    let report = json(&["bench", "watchers", "--quick", "--json"]);
    let rows = report["figures"].as_array().unwrap();
    let value = |figure: &str| {
        rows.iter()
            .find(|r| r["figure"] == figure)
            .and_then(|r| r["value"].as_f64())
            .unwrap_or_else(|| panic!("no row {figure:?} in {rows:?}"))
    };
    let per_address = value("spec-v1 adverts delivered, 1,000 per-address streams");
    assert!(per_address > 0.0);
    assert_eq!(
        per_address,
        value("spec-v1 adverts delivered, 1 stream of every device")
    );
    assert_eq!(
        per_address,
        value("spec-v1 adverts delivered, 1,000 per-address callbacks")
    );
    assert!(value("spec-v1 adverts delivered, 751 watchers (habluetooth: 41,871 per 1M)") > 0.0);
    for row in rows.iter().filter(|r| r["kind"] == "check") {
        assert_eq!(row["pass"], true, "{row}");
    }
    for row in rows.iter().filter(|r| r["unit"] == "us") {
        let cost = row["value"].as_f64().unwrap();
        assert!(cost.is_finite() && cost > 0.0, "{row}");
    }
}

fn performance_doc(args: &[&str]) -> std::process::Output {
    std::process::Command::new("python3")
        .arg("scripts/performance-doc")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs")
}

/// docs/performance.md is what its committed JSON generates: editing either alone fails here.
#[test]
fn the_performance_doc_is_generated_from_its_json() {
    let out = performance_doc(&[
        "--check",
        "docs/performance.md",
        "docs/performance/bench.json",
        "docs/performance/spec-v1-wall.json",
        "docs/performance/spec-v1-cpu.json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_generator_copies_verdicts_and_leaves_references_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let bench = dir.path().join("bench.json");
    std::fs::write(
        &bench,
        r#"{"date":"2026-12-01","cores":2,"machine_cores":2,"quick":false,"figures":[
          {"figure":"slow thing","kind":"performance","value":3.0,"unit":"x","target":"<= 1.1","pass":false},
          {"figure":"baseline","kind":"reference","value":1.5,"unit":"x","target":null,"pass":null}]}"#,
    )
    .unwrap();
    let side = dir.path().join("side.json");
    std::fs::write(
        &side,
        r#"{"date":"2026-12-01","clock":"wall","runs_each":3,"advertisements":1000000,
          "bluefleet_adverts_per_second":[2e6,2.2e6,1.9e6],"habluetooth_adverts_per_second":[2e5,1.8e5,2.1e5],
          "bluefleet_median":2e6,"habluetooth_median":2e5,"bluefleet_peak_rss_mib":30.0,
          "habluetooth_peak_rss_mib":50.0,"bluefleet_lost":0,"load_average":["1.0","1.0","1.0"]}"#,
    )
    .unwrap();
    let doc = dir.path().join("doc.md");
    let markers = "<!-- generated by scripts/performance-doc: begin -->\nstale\n<!-- generated by scripts/performance-doc: end -->\n";
    std::fs::write(&doc, format!("# Title\n\n{markers}after\n")).unwrap();
    let paths = [
        doc.to_str().unwrap(),
        bench.to_str().unwrap(),
        side.to_str().unwrap(),
    ];
    let stale = performance_doc(&[&["--check"][..], &paths].concat());
    assert!(!stale.status.success(), "a stale doc must fail --check");
    assert!(performance_doc(&paths).status.success());
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(
        text.starts_with("# Title\n") && text.ends_with("after\n"),
        "{text}"
    );
    assert!(
        text.contains("| slow thing | performance | 3.00 × | <= 1.1 | **MISS** |"),
        "{text}"
    );
    assert!(
        text.contains("| baseline | reference | 1.50 × | — |  |"),
        "{text}"
    );
    assert!(text.contains("1 figure(s) missed"), "{text}");
    assert!(text.contains("**10.0 ×** (target ≥ 10 ×: pass)"), "{text}");
    assert!(performance_doc(&[&["--check"][..], &paths].concat())
        .status
        .success());
}
