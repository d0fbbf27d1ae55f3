//! How long each device took to connect, learned from the connect turns the ledger hands out,
//! so the balance can start the slow connects of a batch first and end on quick ones.
//!
//! Why: when many devices wait at once (a proxy rebooted, the hub restarted), the last connects
//! decide when the batch is done. Served in arrival order, a slow device drawn last keeps its
//! radio busy while the others idle; served slowest first, the end is made of quick connects
//! that fill the radios evenly (longest processing time first, the classic rule for parallel
//! machines). A hub does not know a connect time before the connect ends, but a device's
//! connect time lasts (its advertising interval, where it stands), so its last one is a good
//! guess for the next.
//!
//! What is kept: per device, its last successful connect (radio and time), and per radio the
//! mean of all successful connects through it. A device's *slowness* is its last connect over
//! that radio's mean, so devices measured on different radios compare (1: average). Failed
//! attempts teach nothing: a timeout or a refusal says nothing about the device's own time.
//! Bounded by the devices managed: [`ConnectTimes::forget`] runs when one is released.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{Address, RadioId};

#[derive(Clone, Copy, Debug, Default)]
struct RadioMean {
    connects: u32,
    total: Duration,
}

/// The learned connect times (plain data; the ledger's lock guards it).
#[derive(Debug, Default)]
pub(super) struct ConnectTimes {
    radios: BTreeMap<RadioId, RadioMean>,
    last: BTreeMap<Address, (RadioId, Duration)>,
}

impl ConnectTimes {
    /// `address` connected through `radio` in `took`.
    pub(super) fn record(&mut self, radio: &RadioId, address: Address, took: Duration) {
        let mean = self.radios.entry(radio.clone()).or_default();
        mean.connects = mean.connects.saturating_add(1);
        mean.total += took;
        self.last.insert(address, (radio.clone(), took));
    }

    /// How slow `address` connects against the average device (1.0), from its last connect;
    /// `None` if it never connected, or its radio was forgotten since.
    pub(super) fn slowness(&self, address: &Address) -> Option<f64> {
        let (radio, took) = self.last.get(address)?;
        let mean = self.radios.get(radio).filter(|m| m.connects > 0)?;
        let average = mean.total.as_secs_f64() / f64::from(mean.connects);
        (average > 0.0).then(|| took.as_secs_f64() / average)
    }

    /// Drops what was learned of a device that is no longer managed.
    pub(super) fn forget(&mut self, address: &Address) {
        self.last.remove(address);
    }

    /// Drops a removed radio's mean (devices last measured there count as unknown).
    pub(super) fn forget_radio(&mut self, radio: &RadioId) {
        self.radios.remove(radio);
        self.last.retain(|_, (r, _)| r != radio);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(n: u8) -> Address {
        Address::new([0xC0, 0, 0, 0, 0, n])
    }

    #[test]
    fn slowness_compares_devices_measured_on_different_radios() {
        let (fast, slow) = (RadioId::new("fast"), RadioId::new("slow"));
        let mut times = ConnectTimes::default();
        let ms = Duration::from_millis;
        // On `fast` the mean is 200 ms, on `slow` 800 ms.
        times.record(&fast, device(1), ms(100));
        times.record(&fast, device(2), ms(300));
        times.record(&slow, device(3), ms(1200));
        times.record(&slow, device(4), ms(400));
        let of = |times: &ConnectTimes, n| times.slowness(&device(n)).unwrap();
        assert!((of(&times, 1) - 0.5).abs() < 1e-9 && (of(&times, 2) - 1.5).abs() < 1e-9);
        assert!((of(&times, 3) - 1.5).abs() < 1e-9 && (of(&times, 4) - 0.5).abs() < 1e-9);
        assert_eq!(times.slowness(&device(9)), None, "never connected");
        // The last connect counts, not the first.
        times.record(&fast, device(1), ms(500));
        assert!(of(&times, 1) > 1.0, "{}", of(&times, 1));
    }

    #[test]
    fn forgetting_a_device_or_its_radio_makes_it_unknown() {
        let radio = RadioId::new("p1");
        let mut times = ConnectTimes::default();
        times.record(&radio, device(1), Duration::from_millis(100));
        times.record(&radio, device(2), Duration::from_millis(300));
        times.forget(&device(1));
        assert_eq!(times.slowness(&device(1)), None);
        assert!(times.slowness(&device(2)).is_some());
        times.forget_radio(&radio);
        assert_eq!(times.slowness(&device(2)), None);
        assert!(times.last.is_empty() && times.radios.is_empty());
    }
}
