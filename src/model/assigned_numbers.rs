//! Human names for the Bluetooth SIG's assigned service and characteristic UUIDs.
//!
//! The GATT explorer and the logs print "Heart Rate Measurement" rather than `0x2a37`. The table
//! is a sorted slice so a lookup is a binary search with no allocation; it lists the numbers a
//! home-automation hub meets, not the whole registry.

use uuid::Uuid;

use super::uuid::short_form;

/// `(16-bit UUID, name)`, sorted by UUID. Values are from the SIG's assigned-numbers document.
const NAMES: &[(u16, &str)] = &[
    (0x1800, "Generic Access"),
    (0x1801, "Generic Attribute"),
    (0x1802, "Immediate Alert"),
    (0x1803, "Link Loss"),
    (0x1804, "Tx Power"),
    (0x1805, "Current Time"),
    (0x1809, "Health Thermometer"),
    (0x180A, "Device Information"),
    (0x180D, "Heart Rate"),
    (0x180F, "Battery"),
    (0x1810, "Blood Pressure"),
    (0x1812, "Human Interface Device"),
    (0x1814, "Running Speed and Cadence"),
    (0x1816, "Cycling Speed and Cadence"),
    (0x1818, "Cycling Power"),
    (0x1819, "Location and Navigation"),
    (0x181A, "Environmental Sensing"),
    (0x181B, "Body Composition"),
    (0x181D, "Weight Scale"),
    (0x1826, "Fitness Machine"),
    (0x2900, "Characteristic Extended Properties"),
    (0x2901, "Characteristic User Description"),
    (0x2902, "Client Characteristic Configuration"),
    (0x2903, "Server Characteristic Configuration"),
    (0x2904, "Characteristic Presentation Format"),
    (0x2A00, "Device Name"),
    (0x2A01, "Appearance"),
    (0x2A04, "Peripheral Preferred Connection Parameters"),
    (0x2A05, "Service Changed"),
    (0x2A06, "Alert Level"),
    (0x2A07, "Tx Power Level"),
    (0x2A19, "Battery Level"),
    (0x2A1C, "Temperature Measurement"),
    (0x2A23, "System ID"),
    (0x2A24, "Model Number String"),
    (0x2A25, "Serial Number String"),
    (0x2A26, "Firmware Revision String"),
    (0x2A27, "Hardware Revision String"),
    (0x2A28, "Software Revision String"),
    (0x2A29, "Manufacturer Name String"),
    (0x2A37, "Heart Rate Measurement"),
    (0x2A38, "Body Sensor Location"),
    (0x2A39, "Heart Rate Control Point"),
    (0x2A5B, "CSC Measurement"),
    (0x2A5C, "CSC Feature"),
    (0x2A6D, "Pressure"),
    (0x2A6E, "Temperature"),
    (0x2A6F, "Humidity"),
    (0x2A9D, "Weight Measurement"),
    (0x2A9E, "Weight Scale Feature"),
    (0x2AD2, "Indoor Bike Data"),
];

/// The SIG name of a service, characteristic or descriptor UUID, if it is a known one.
pub fn name_of(uuid: &Uuid) -> Option<&'static str> {
    let short = u16::try_from(short_form(uuid)?).ok()?;
    NAMES
        .binary_search_by_key(&short, |(number, _)| *number)
        .ok()
        .and_then(|index| NAMES.get(index))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::uuid::{parse_uuid, uuid_from_u16};

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn knows_the_common_services_and_characteristics() {
        for (short, name) in [
            (0x180D, "Heart Rate"),
            (0x180F, "Battery"),
            (0x181A, "Environmental Sensing"),
            (0x1816, "Cycling Speed and Cadence"),
            (0x180A, "Device Information"),
            (0x2A37, "Heart Rate Measurement"),
            (0x2A19, "Battery Level"),
            (0x2A6E, "Temperature"),
            (0x2A6F, "Humidity"),
        ] {
            assert_eq!(name_of(&uuid_from_u16(short)), Some(name));
        }
    }

    #[test]
    fn unknown_uuids_have_no_name() {
        assert_eq!(name_of(&uuid_from_u16(0xFFF0)), None);
        assert_eq!(
            name_of(&parse_uuid("6e400001-b5a3-f393-e0a9-e50e24dcca9e").unwrap()),
            None
        );
    }
}
