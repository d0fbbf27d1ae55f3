//! `report.html`: the journal drawn as plain SVG, for a browser-less look at a run.
//!
//! Three pictures: the slot timeline (a lane per radio, a bar per lease, a tick per finished
//! attempt coloured by class, alarms outlined), RSSI per radio over time with zone changes for
//! the followed devices, and attempts by class per time bucket. Everything is written from
//! ordered data with fixed-precision numbers, so a simulated run's report is byte-identical
//! for a seed. Each mark carries a class (`lease`, `tick`, `alarm`, `bucket`, `zone-change`) so
//! a test can count what is drawn.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use crate::model::RadioId;
use crate::web::journal::{Journal, KEEP_S, TICK_CLASSES};
use crate::web::views::Lease;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 130.0;
const ROW: f64 = 9.0;
const COLOURS: [&str; 5] = ["#2f855a", "#718096", "#d69e2e", "#dd6b20", "#c53030"];

/// What the report is about, for its heading.
#[derive(Clone, Debug)]
pub struct ReportTitle {
    /// The heading line (world and seed, or hub file).
    pub heading: String,
}

/// The whole `report.html`.
pub fn render(journal: &Journal, title: &ReportTitle) -> String {
    let span = journal.now_s().clamp(1.0, KEEP_S);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bluefleet report</title>\
         <style>body{{font:13px system-ui,sans-serif;margin:16px;color:#1d2330}}svg{{background:#fff;border:1px solid #e4e7ec}}\
         text{{font-size:11px}}</style></head><body>\n<h1>bluefleet report</h1>\n<p>{} — {} of fleet time, {} leases, {} finished attempts.</p>\n",
        xml(&title.heading),
        duration(journal.now_s()),
        journal.leases(span).len(),
        journal.ticks(span).len()
    );
    html.push_str("<h2>Slot timeline</h2>\n");
    html.push_str(&slot_timeline(journal, span));
    html.push_str("<h2>Attempts by class over time</h2>\n");
    html.push_str(&attempts_by_class(journal, span));
    html.push_str("<h2>RSSI per radio and zone changes</h2>\n");
    for (device, series) in journal.history() {
        let _ = writeln!(html, "<h3>{} ({device})</h3>", xml(&journal.name(device)));
        html.push_str(&rssi_chart(journal, series, span));
    }
    html.push_str("</body></html>\n");
    html
}

fn x_of(t: f64, span: f64, from: f64) -> f64 {
    LEFT + ((t - from).max(0.0) / span) * (WIDTH - LEFT - 10.0)
}

/// A row inside its radio's lane for each lease: the first row free when it starts, so leases
/// held at once sit one above the other (the page does the same).
fn rows_of(leases: &[Lease]) -> (Vec<usize>, BTreeMap<&RadioId, usize>) {
    let mut order: Vec<usize> = (0..leases.len()).collect();
    order.sort_by(|a, b| {
        leases[*a]
            .start_s
            .total_cmp(&leases[*b].start_s)
            .then(leases[*a].id.cmp(&leases[*b].id))
    });
    let mut ends: BTreeMap<&RadioId, Vec<f64>> = BTreeMap::new();
    let mut rows = vec![0; leases.len()];
    for index in order {
        let lease = &leases[index];
        let lane = ends.entry(&lease.radio).or_default();
        let row = match lane.iter().position(|end| *end <= lease.start_s) {
            Some(row) => row,
            None => {
                lane.push(0.0);
                lane.len() - 1
            }
        };
        lane[row] = lease.end_s.unwrap_or(f64::INFINITY);
        rows[index] = row;
    }
    (
        rows,
        ends.into_iter().map(|(r, lane)| (r, lane.len())).collect(),
    )
}

fn slot_timeline(journal: &Journal, span: f64) -> String {
    let from = journal.now_s() - span;
    let leases = journal.leases(span);
    let (rows, counts) = rows_of(&leases);
    let mut lanes: BTreeMap<&RadioId, (f64, f64)> = BTreeMap::new();
    let mut top = 20.0;
    let mut names = String::new();
    for radio in journal.radios() {
        let height = radio
            .slot_limit
            .max(counts.get(&radio.radio).copied().unwrap_or(0)) as f64
            * ROW
            + 12.0;
        lanes.insert(&radio.radio, (top, height));
        let _ = write!(
            names,
            "<text x=\"4\" y=\"{:.1}\">{}</text><line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#cbd2dc\"/>",
            top + 14.0,
            xml(radio.radio.as_str()),
            WIDTH - 10.0,
            top + height,
            top + height
        );
        top += height;
    }
    let mut svg = open_svg("slot-timeline", top + 4.0);
    axis(&mut svg, from, span, top);
    svg.push_str(&names);
    for (lease, row) in leases.iter().zip(rows) {
        let Some((lane_top, _)) = lanes.get(&lease.radio) else {
            continue;
        };
        let x0 = x_of(lease.start_s, span, from);
        let x1 = x_of(lease.end_s.unwrap_or(journal.now_s()), span, from).max(x0 + 1.0);
        let _ = write!(
            svg,
            "<rect class=\"lease\" data-radio=\"{}\" data-device=\"{}\" data-start=\"{:.3}\" data-end=\"{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.0}\" fill=\"{}\"/>",
            xml(lease.radio.as_str()),
            lease.device,
            lease.start_s,
            lease.end_s.map_or("open".to_string(), |end| format!("{end:.3}")),
            lane_top + 2.0 + row as f64 * ROW,
            x1 - x0,
            ROW - 2.0,
            device_colour(&lease.device.to_string())
        );
    }
    for tick in journal.ticks(span) {
        let Some((lane_top, height)) = lanes.get(&tick.radio) else {
            continue;
        };
        let x = x_of(tick.at_s, span, from);
        let y = lane_top + height - 9.0;
        let _ = write!(
            svg,
            "<line class=\"tick\" data-class=\"{}\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y:.1}\" y2=\"{:.1}\" stroke=\"{}\"/>",
            tick.class,
            y + 7.0,
            colour(tick.class)
        );
    }
    for alarm in journal.alarms(span) {
        let Some((lane_top, height)) = lanes.get(&alarm.radio) else {
            continue;
        };
        let x0 = x_of(alarm.since_s, span, from);
        let x1 = x_of(alarm.until_s.unwrap_or(journal.now_s()), span, from).max(x0 + 3.0);
        let _ = write!(
            svg,
            "<rect class=\"alarm\" data-kind=\"{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#e53e3e\" stroke-dasharray=\"4 2\"/>",
            alarm.kind,
            lane_top + 1.0,
            x1 - x0,
            height - 2.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn attempts_by_class(journal: &Journal, span: f64) -> String {
    let from = journal.now_s() - span;
    let buckets = 60usize;
    let width_s = span / buckets as f64;
    let mut counts = vec![[0u32; 5]; buckets];
    for tick in journal.ticks(span) {
        let bucket = (((tick.at_s - from) / width_s) as usize).min(buckets - 1);
        let class = TICK_CLASSES
            .iter()
            .position(|c| *c == tick.class)
            .unwrap_or(4);
        counts[bucket][class] += 1;
    }
    let tallest = counts
        .iter()
        .map(|c| c.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let height = 160.0;
    let mut svg = open_svg("attempts-by-class", height + 40.0);
    axis(&mut svg, from, span, height + 6.0);
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"30\">max {tallest} per {}</text>",
        duration(width_s)
    );
    let bar = (WIDTH - LEFT - 10.0) / buckets as f64;
    for (bucket, classes) in counts.iter().enumerate() {
        let mut top = height + 6.0;
        for (class, count) in classes.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let h = f64::from(*count) / f64::from(tallest) * (height - 10.0);
            top -= h;
            let _ = write!(
                svg,
                "<rect class=\"bucket\" data-class=\"{}\" data-count=\"{count}\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                TICK_CLASSES[class],
                LEFT + bucket as f64 * bar,
                (bar - 1.0).max(0.5),
                COLOURS[class]
            );
        }
    }
    let mut x = LEFT;
    for (class, name) in TICK_CLASSES.iter().enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            height + 20.0,
            COLOURS[class],
            x + 12.0,
            height + 29.0
        );
        x += 95.0;
    }
    svg.push_str("</svg>\n");
    svg
}

fn rssi_chart(journal: &Journal, series: &[crate::web::journal::RssiSample], span: f64) -> String {
    let from = journal.now_s() - span;
    let height = 150.0;
    let (top_dbm, bottom_dbm) = (-30.0, -100.0);
    let y_of = |dbm: f64| 20.0 + (top_dbm - dbm) / (top_dbm - bottom_dbm) * (height - 30.0);
    let mut svg = open_svg("rssi", height);
    axis(&mut svg, from, span, height);
    for dbm in [-40, -60, -80, -100] {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{dbm} dBm</text>",
            LEFT - 6.0,
            y_of(f64::from(dbm)) + 4.0
        );
    }
    for (index, radio) in journal.radios().iter().enumerate() {
        let points: Vec<String> = series
            .iter()
            .filter_map(|s| {
                let dbm = s.rssi.iter().find(|(r, _)| r == &radio.radio)?.1?;
                Some(format!(
                    "{:.1},{:.1}",
                    x_of(s.at_s, span, from),
                    y_of(f64::from(dbm))
                ))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let colour = device_colour(radio.radio.as_str());
        let _ = write!(
            svg,
            "<polyline class=\"rssi\" data-radio=\"{}\" fill=\"none\" stroke=\"{colour}\" points=\"{}\"/>\
             <text x=\"{:.1}\" y=\"14\" fill=\"{colour}\">{}</text>",
            xml(radio.radio.as_str()),
            points.join(" "),
            LEFT + index as f64 * 140.0,
            xml(radio.radio.as_str())
        );
    }
    let mut zone = None;
    for sample in series {
        if sample.zone != zone {
            if let Some(now) = sample.zone {
                let x = x_of(sample.at_s, span, from);
                let name = serde_json::to_value(now)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = write!(
                    svg,
                    "<g class=\"zone-change\"><line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"18\" y2=\"{:.1}\" stroke=\"#805ad5\" stroke-dasharray=\"2 2\"/>\
                     <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#805ad5\">{name}</text></g>",
                    height - 10.0,
                    x + 2.0,
                    height - 12.0
                );
            }
            zone = sample.zone;
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn open_svg(id: &str, height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{id}\" width=\"{WIDTH:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\">"
    )
}

fn axis(svg: &mut String, from: f64, span: f64, height: f64) {
    for step in 0..=5 {
        let t = from + span * f64::from(step) / 5.0;
        let x = x_of(t, span, from);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"16\" y2=\"{height:.1}\" stroke=\"#eef1f5\"/><text x=\"{x:.1}\" y=\"11\" text-anchor=\"middle\" fill=\"#718096\">{}</text>",
            duration(t.max(0.0))
        );
    }
}

fn colour(class: &str) -> &'static str {
    TICK_CLASSES
        .iter()
        .position(|c| *c == class)
        .map_or(COLOURS[4], |i| COLOURS[i])
}

/// A stable colour per name (the same hash the page uses).
fn device_colour(name: &str) -> String {
    let hue = name.chars().fold(0u32, |h, c| (h * 31 + c as u32) % 360);
    format!("hsl({hue},60%,55%)")
}

fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, m, s) => format!("{m}:{s:02}"),
        (h, m, s) => format!("{h}:{m:02}:{s:02}"),
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
