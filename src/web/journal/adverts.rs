//! The advert monitor: the newest adverts with raw bytes and decoded fields, and per-radio
//! advert rates and ages for the radios view.

use std::collections::{BTreeMap, VecDeque};

use crate::config::decode::hex;
use crate::model::{Address, Advertisement, RadioId};
use crate::web::views::AdvertRow;

/// Adverts kept for the monitor.
pub const KEEP: usize = 500;

/// At most this many adverts ride on one update (the monitor shows the newest).
pub const PER_UPDATE: usize = 50;

/// Rates are measured over this window.
const RATE_WINDOW_S: f64 = 10.0;

#[derive(Debug, Default)]
pub(super) struct AdvertMonitor {
    rows: VecDeque<(u64, AdvertRow)>,
    next_id: u64,
    per_radio: BTreeMap<RadioId, RadioCounter>,
}

#[derive(Debug, Default)]
struct RadioCounter {
    total: u64,
    last_at_s: Option<f64>,
    /// (time, total) at each sample inside the rate window.
    samples: VecDeque<(f64, u64)>,
}

impl AdvertMonitor {
    pub fn push(&mut self, seq: u64, at_s: f64, advert: &Advertisement) {
        let counter = self.per_radio.entry(advert.radio.clone()).or_default();
        counter.total += 1;
        counter.last_at_s = Some(counter.last_at_s.map_or(at_s, |last| last.max(at_s)));
        let row = AdvertRow {
            id: self.next_id,
            at_s,
            address: advert.address,
            radio: advert.radio.clone(),
            rssi: advert.rssi_dbm,
            raw_hex: advert.raw.as_ref().map(|raw| hex(raw)),
            fields: fields(advert),
        };
        self.next_id += 1;
        self.rows.push_back((seq, row));
        if self.rows.len() > KEEP {
            self.rows.pop_front();
        }
    }

    /// Records each radio's advert total at a sample, for its rate.
    pub fn sample_rates(&mut self, at_s: f64) {
        for counter in self.per_radio.values_mut() {
            counter.samples.push_back((at_s, counter.total));
            while counter
                .samples
                .front()
                .is_some_and(|(t, _)| at_s - t > RATE_WINDOW_S)
            {
                counter.samples.pop_front();
            }
        }
    }

    /// Adverts per second over the rate window.
    pub fn rate(&self, radio: &RadioId) -> f64 {
        let Some(counter) = self.per_radio.get(radio) else {
            return 0.0;
        };
        match (counter.samples.front(), counter.samples.back()) {
            (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => (n1 - n0) as f64 / (t1 - t0),
            _ => 0.0,
        }
    }

    /// Seconds since the radio's last advert.
    pub fn last_age(&self, radio: &RadioId, now_s: f64) -> Option<f64> {
        let last = self.per_radio.get(radio)?.last_at_s?;
        Some((now_s - last).max(0.0))
    }

    pub fn newer_than(&self, since: u64) -> Vec<AdvertRow> {
        let first = self.rows.partition_point(|(seq, _)| *seq <= since);
        let skip = (self.rows.len() - first).saturating_sub(PER_UPDATE);
        self.rows
            .iter()
            .skip(first + skip)
            .map(|(_, row)| row.clone())
            .collect()
    }

    pub fn matching(&self, filter: &str, name: impl Fn(&Address) -> String) -> Vec<AdvertRow> {
        let filter = filter.to_lowercase();
        self.rows
            .iter()
            .map(|(_, row)| row)
            .filter(|row| {
                filter.is_empty()
                    || row.address.to_string().to_lowercase().contains(&filter)
                    || name(&row.address).to_lowercase().contains(&filter)
            })
            .cloned()
            .collect()
    }
}

/// The decoded fields, one `key=value` each, in a fixed order.
fn fields(advert: &Advertisement) -> Vec<String> {
    let data = &advert.data;
    let mut out = Vec::new();
    if let Some(name) = &data.local_name {
        out.push(format!("name={name}"));
    }
    if let Some(flags) = data.flags {
        out.push(format!("flags=0x{flags:02x}"));
    }
    if let Some(tx) = data.tx_power_dbm {
        out.push(format!("tx={tx} dBm"));
    }
    for uuid in &data.service_uuids {
        out.push(format!(
            "service={}",
            crate::model::uuid::display_uuid(uuid)
        ));
    }
    for (company, bytes) in &data.manufacturer_data {
        out.push(format!("mfr[0x{company:04x}]={}", hex(bytes)));
    }
    for (uuid, bytes) in &data.service_data {
        out.push(format!(
            "data[{}]={}",
            crate::model::uuid::display_uuid(uuid),
            hex(bytes)
        ));
    }
    if let Some(connectable) = advert.connectable {
        out.push(format!("connectable={connectable}"));
    }
    out
}
