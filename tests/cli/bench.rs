//! `bluefleet bench spec-v1`: the workload is checked against the anchor's digests before any
//! clock starts, and a stream that is not spec v1 is refused rather than measured.

use super::{fails_clearly, json};

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
