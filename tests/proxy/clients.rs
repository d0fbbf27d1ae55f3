//! Per-client diagnostics seen from outside: two real aioesphomeapi clients holding a device
//! each, and a client with the wrong key, in `bluefleet proxy`'s client lines and on the page
//! of `--web` (`/api/clients`, the radios' clients-served column).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::bed::{driver, hub, proxy, start_script, Process, KEY, WRONG_KEY};

const WAIT: Duration = Duration::from_secs(30);

/// The page's URL from the `web: serving URL` line of the proxy's log.
fn page_url(process: &Process) -> String {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(url) = process
            .log()
            .lines()
            .find_map(|l| l.strip_prefix("web: serving "))
        {
            assert!(url.starts_with("http://127.0.0.1:"), "{url}");
            return url.trim_end_matches('/').to_string();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no `web: serving` line:\n{}", process.log());
}

/// `GET url/path` on loopback, as JSON (HTTP/1.1, `Connection: close`).
fn get_json(url: &str, path: &str) -> serde_json::Value {
    let host = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "GET /{path}: {head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("GET /{path}: {e}: {body}"))
}

/// Polls `GET path` until `ready` holds, within [`WAIT`].
fn wait_json(
    url: &str,
    path: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = get_json(url, path);
        if ready(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "GET /{path} never got there: {value}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Collects the proxy's stdout lines until every `wanted` text is in one of them.
fn wait_lines(process: &mut Process, wanted: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while !wanted
        .iter()
        .all(|w| seen.iter().any(|l: &String| l.contains(w)))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match process.lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("missing one of {wanted:?} in {seen:#?}"),
        }
    }
    seen
}

fn held_names(client: &serde_json::Value) -> Vec<String> {
    client["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_client_with_what_it_holds_and_asked_on_the_command_line_and_the_page() {
    let mut bed = proxy(&["--psk", KEY, "--web", "127.0.0.1:0"], 1);
    let url = page_url(&bed.process);
    let mut holders = start_script("clients.py", None, &bed.ports, &["--psk", KEY]);
    holders.wait_line("HOLDING");
    driver(
        "noise",
        &bed.ports,
        &["--psk", KEY, "--wrong-psk", WRONG_KEY],
    );

    let lines = wait_lines(
        &mut bed.process,
        &[
            "holds A4:C1:38:00:00:01",
            "holds A4:C1:38:00:00:02",
            "invalid encryption key",
        ],
    );
    let holding: Vec<&String> = lines.iter().filter(|l| l.contains(" holds A4:")).collect();
    for line in &holding {
        assert!(line.starts_with("client 127.0.0.1:"), "{line}");
        assert!(line.contains("bluefleet-test, encrypted"), "{line}");
        assert!(line.contains("adverts and slot reports"), "{line}");
        assert!(line.contains("connect 1"), "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("refused 127.0.0.1:") && l.contains("invalid encryption key")),
        "{lines:#?}"
    );

    let both_holding_one_refused = |v: &serde_json::Value| {
        let holding = v["clients"]
            .as_array()
            .is_some_and(|c| c.iter().filter(|c| !held_names(c).is_empty()).count() == 2);
        holding && v["refused"].as_array().is_some_and(|r| !r.is_empty())
    };
    let view = wait_json(&url, "api/clients", both_holding_one_refused);
    let mut held: Vec<String> = view["clients"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(held_names)
        .collect();
    held.sort();
    assert_eq!(held, ["Counter", "Living room climate"], "{view}");
    let client = &view["clients"][0];
    assert!(client["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(client["proxy"], "bluefleet");
    assert_eq!(client["encrypted"], true);
    assert_eq!(client["client_info"], "bluefleet-test");
    assert!(client["since_unix_s"].as_f64().unwrap() > 1.7e9);
    let refused = view["refused"].as_array().unwrap();
    assert!(
        refused.iter().any(|r| r["reason"]
            .as_str()
            .unwrap()
            .contains("invalid encryption key")),
        "{view}"
    );
    let radios = wait_json(&url, "api/radios", |v| {
        v["radios"]
            .as_array()
            .is_some_and(|r| r.len() == 2 && r.iter().all(|r| r["clients_served"] == 2))
    });
    assert_eq!(radios["radios"].as_array().unwrap().len(), 2);

    holders.kill();
    wait_lines(&mut bed.process, &[" left"]);
    wait_json(&url, "api/clients", |v| {
        v["clients"].as_array().is_some_and(Vec::is_empty)
    });
}

#[test]
fn bluefleet_run_with_proxy_and_web_shows_the_proxys_clients_on_its_page() {
    let (bed, _file) = hub(&format!(
        "listen = \"127.0.0.1:0\"\nmdns = false\npsk = \"{KEY}\"\n\n[web]\nlisten = \"127.0.0.1:0\""
    ));
    let url = page_url(&bed.process);
    let mut holders = start_script("clients.py", None, &bed.ports, &["--psk", KEY]);
    holders.wait_line("HOLDING");
    driver(
        "noise",
        &bed.ports,
        &["--psk", KEY, "--wrong-psk", WRONG_KEY],
    );
    let view = wait_json(&url, "api/clients", |v| {
        let holding = v["clients"]
            .as_array()
            .is_some_and(|c| c.iter().filter(|c| !held_names(c).is_empty()).count() == 2);
        holding && v["refused"].as_array().is_some_and(|r| !r.is_empty())
    });
    assert_eq!(view["clients"][0]["proxy"], "bluefleet", "{view}");
    wait_json(&url, "api/radios", |v| {
        v["radios"]
            .as_array()
            .is_some_and(|r| !r.is_empty() && r.iter().all(|r| r["clients_served"] == 2))
    });
}

#[test]
fn json_client_lines_are_objects_for_a_client_and_its_leaving() {
    // Read once a second: a client that comes and goes within one read is not printed, so
    // these clients stay until they are killed.
    let mut bed = proxy(&["--json"], 1);
    let mut holders = start_script("clients.py", None, &bed.ports, &[]);
    holders.wait_line("HOLDING");
    let mut lines = wait_lines(&mut bed.process, &["\"client\":"]);
    holders.kill();
    lines.extend(wait_lines(&mut bed.process, &["\"client_left\":"]));
    let objects: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let client = objects
        .iter()
        .find_map(|o| o.get("client"))
        .expect("a client object");
    assert!(client["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(client["client_info"], "bluefleet-test");
    assert!(
        client["requests"]["hello"].as_u64().unwrap() >= 1,
        "{client}"
    );
    let left = objects
        .iter()
        .find_map(|o| o.get("client_left"))
        .expect("a client_left object");
    assert_eq!(left["id"], client["id"]);
}
