//! The same world and seed give the same run in any process under any load.
//!
//! The parent test runs this test binary twice as a child process (`child_trace` below), once
//! with CPU-burning threads beside it, and compares the two full event traces byte for byte: every
//! status change and every subscription event of every device, stamped with virtual time, plus
//! the slot listing after each change. The world is slot-starved on purpose (a 1-slot proxy and a
//! 2-slot controller for six kept devices, with injected faults) so the order in which waiting
//! devices get slots decides the whole run; a broadcast wake-up or an unseeded choice anywhere on
//! a scheduling path shows up as a diff.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bluefleet::fleet::block_on_virtual_time;
use bluefleet::sim::world::{FaultRates, Window};
use bluefleet::sim::{RadioSpec, Simulation, World};
use bluefleet::Fleet;
use futures::StreamExt;
use tokio::time::Instant;

use crate::support::{addr, env_sensor, temperature};

const CHILD: &str = "BLUEFLEET_DETERMINISM_CHILD";
const BURN: &str = "BLUEFLEET_DETERMINISM_BURN";
const SEED: u64 = 3;

fn starved_world() -> World {
    let faults = FaultRates {
        aborted: 0.1,
        out_of_slots: 0.05,
        ..FaultRates::default()
    };
    let mut proxy = RadioSpec::esphome_proxy("p1").slots(1).at(0.0, 0.0);
    proxy.faults = faults;
    // Outages: every link through the radio ends at once, its waiters move, and everyone
    // reconnects when it is back: the path where the order of many simultaneous events decides
    // the run (the flat world's proxy outage at 6 min once gave two answers).
    proxy.outages = vec![
        Window {
            from: Duration::from_secs(40),
            until: Duration::from_secs(55),
        },
        Window {
            from: Duration::from_secs(90),
            until: Duration::from_secs(91),
        },
    ];
    let mut local = RadioSpec::local_controller("hci0").slots(2).at(8.0, 0.0);
    local.faults = faults;
    local.outages = vec![Window {
        from: Duration::from_secs(70),
        until: Duration::from_secs(80),
    }];
    let builder = World::builder().radio(proxy).radio(local);
    (1..=6)
        .fold(builder, |b, n| b.device(env_sensor(n, f64::from(n), 1.0)))
        .build()
        .expect("a valid world")
}

/// Runs the world for two virtual minutes and returns its trace, one event a line.
fn trace() -> String {
    block_on_virtual_time(async {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let simulation = Simulation::start(starved_world(), SEED);
        let fleet = Fleet::builder()
            .radios(simulation.radios())
            .seed(SEED)
            .build()
            .expect("fleet");
        let started = Instant::now();
        let stamp = move || started.elapsed().as_micros();
        for n in 1..=6 {
            let device = fleet.device(addr(n)).await.expect("managed");
            let out = Arc::clone(&lines);
            let subscriber = device.clone();
            actix::spawn(async move {
                // Subscribing waits for a connection and may give up: try again until it holds.
                let mut subscription = loop {
                    match subscriber.subscribe(temperature()).await {
                        Ok(subscription) => break subscription,
                        Err(error) => {
                            let line = format!("{} {} subscribe failed: {error}", stamp(), addr(n));
                            out.lock().unwrap().push(line);
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                };
                while let Some(event) = subscription.recv().await {
                    let line = format!("{} {} sub {event:?}", stamp(), addr(n));
                    out.lock().unwrap().push(line);
                }
            });
            let out = Arc::clone(&lines);
            let watcher = fleet.clone();
            let mut changes = device.status_changes();
            actix::spawn(async move {
                while let Some(status) = changes.next().await {
                    let slots: Vec<_> = watcher
                        .slot_usage()
                        .into_iter()
                        .map(|u| format!("{}:{:?}/{:?}", u.radio, u.leases, u.queued))
                        .collect();
                    let line = format!(
                        "{} {} state {:?} failed={} slots={slots:?}",
                        stamp(),
                        addr(n),
                        status.state,
                        status.failed_attempts
                    );
                    out.lock().unwrap().push(line);
                }
            });
            device.keep_connected(true).await.expect("kept");
        }
        tokio::time::sleep(Duration::from_secs(120)).await;
        fleet.shutdown().await.expect("shut down");
        let lines = lines.lock().unwrap();
        lines.join("\n")
    })
}

/// Not a check on its own: the body of a child process of `one_trace_in_every_process`.
#[test]
fn child_trace() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let burners: Vec<_> = if std::env::var_os(BURN).is_some() {
        (0..2)
            .map(|_| {
                std::thread::spawn(|| loop {
                    std::hint::black_box((0..10_000u64).fold(0u64, |a, b| a ^ b.wrapping_mul(31)));
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let trace = trace();
    println!("TRACE-BEGIN\n{trace}\nTRACE-END");
    drop(burners); // detached: the process exits with the test
}

fn child(burn: bool) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let mut command = Command::new(exe);
    command
        .args(["determinism::child_trace", "--exact", "--nocapture"])
        .env(CHILD, "1");
    if burn {
        command.env(BURN, "1");
    }
    let mut running = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the child runs");
    // Read both pipes while the child runs, so a long trace cannot fill one and stall it.
    let mut stdout_pipe = running.stdout.take().expect("stdout piped");
    let mut stderr_pipe = running.stderr.take().expect("stderr piped");
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout_pipe, &mut text).map(|_| text)
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr_pipe, &mut text).map(|_| text)
    });
    // A bounded wait: a child that hangs is killed and fails the test.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while running.try_wait().expect("child status").is_none() {
        if std::time::Instant::now() > deadline {
            running.kill().ok();
            panic!("the child ran over two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = running.wait().expect("child status");
    let stdout = stdout_reader.join().expect("reader").expect("utf-8 stdout");
    let stderr = stderr_reader.join().expect("reader").unwrap_or_default();
    assert!(
        status.success(),
        "child failed: {status}\n{stdout}\n{stderr}"
    );
    let begin = stdout.find("TRACE-BEGIN\n").expect("a trace") + "TRACE-BEGIN\n".len();
    let end = stdout.find("\nTRACE-END").expect("a trace end");
    stdout[begin..end].to_owned()
}

#[test]
fn one_trace_in_every_process_under_any_load() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let quiet = child(false);
    let loaded = child(true);
    let lines = quiet.lines().count();
    eprintln!("{lines} trace lines, {} bytes", quiet.len());
    assert!(
        lines > 100,
        "the trace is too short to mean much ({lines} lines)"
    );
    assert!(quiet.contains("Connected"), "somebody connected");
    assert!(quiet.contains("Notification"), "values flowed");
    // The outages happened and everyone came back after them (the last one ends at 91 s).
    let after_outages = quiet
        .lines()
        .filter(|l| l.split(' ').next().and_then(|t| t.parse::<u128>().ok()) >= Some(91_000_000));
    let reconnected = after_outages
        .filter(|l| l.contains("sub Reconnected"))
        .count();
    assert!(
        quiet.contains("Disconnected"),
        "links dropped in the outages"
    );
    assert!(reconnected > 0, "subscribers reconnected after the outages");
    if quiet != loaded {
        let first = quiet
            .lines()
            .zip(loaded.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "traces differ from line {first}:\nquiet:  {:?}\nloaded: {:?}",
            quiet.lines().nth(first),
            loaded.lines().nth(first)
        );
    }
}
