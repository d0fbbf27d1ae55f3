//! A simulated device's GATT server: services, characteristics with values, descriptors, and
//! the generators that produce notification values.
//!
//! Owns [`SimGatt`] (what the world says) and [`GattLayout`] (the same thing with ATT handles
//! assigned, as a link serves it). Handles are assigned in declaration order the way a real
//! server lays them out (service, characteristic declaration, value, descriptors), and a
//! Client Characteristic Configuration descriptor (0x2902) is added to every notifying
//! characteristic that lacks one, so `set_notify` always has a CCCD to write.
//!
//! Also holds the ready-made profiles (environment sensor, heart-rate strap, counter) that
//! world files name with `profile = "env-sensor"`.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use uuid::Uuid;

use crate::model::{
    uuid_from_u16, CharProps, GattCharacteristic, GattDescriptor, GattService, GattTable,
};

/// The CCCD UUID.
pub(crate) const CCCD: Uuid = uuid_from_u16(0x2902);

/// A device's services.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimGatt {
    /// Primary services in declaration order.
    pub services: Vec<SimService>,
}

/// One service.
#[derive(Clone, Debug, PartialEq)]
pub struct SimService {
    /// Service UUID.
    pub uuid: Uuid,
    /// Its characteristics.
    pub characteristics: Vec<SimCharacteristic>,
}

/// One characteristic and its starting value.
#[derive(Clone, Debug, PartialEq)]
pub struct SimCharacteristic {
    /// Characteristic UUID.
    pub uuid: Uuid,
    /// What it allows.
    pub properties: CharProps,
    /// The value before anything writes or generates one.
    pub value: Vec<u8>,
    /// Descriptors besides the CCCD (which is added when needed).
    pub descriptors: Vec<SimDescriptor>,
    /// What it notifies while a client subscribes.
    pub generator: Option<Generator>,
}

/// One descriptor and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct SimDescriptor {
    /// Descriptor UUID.
    pub uuid: Uuid,
    /// Its value.
    pub value: Vec<u8>,
}

/// Produces a characteristic's notifications while it is subscribed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generator {
    /// What values.
    pub kind: GeneratorKind,
    /// How often.
    pub every: Duration,
}

/// The value shapes a generator can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeneratorKind {
    /// Temperature 0x2A6E: int16 little endian in 0.01 °C, around 21 °C.
    Temperature,
    /// Humidity 0x2A6F: uint16 little endian in 0.01 %, around 45 %.
    Humidity,
    /// Heart Rate Measurement 0x2A37: flags 0x00 then a uint8 bpm, 60–90.
    HeartRate,
    /// A uint32 little-endian counter starting at 1.
    Counter,
    /// Battery Level 0x2A19: uint8 percent, slowly falling.
    Battery,
}

impl GeneratorKind {
    /// The `step`-th value (from 1), with seeded jitter.
    pub(crate) fn value(self, step: u64, rng: &mut impl Rng) -> Vec<u8> {
        match self {
            Self::Temperature => {
                let centi = 2100 + (step % 200) as i16 + rng.gen_range(-20..=20);
                centi.to_le_bytes().to_vec()
            }
            Self::Humidity => {
                let centi = 4500 + rng.gen_range(0..=600u16) - 300;
                centi.to_le_bytes().to_vec()
            }
            Self::HeartRate => vec![0x00, rng.gen_range(60..=90u8)],
            Self::Counter => (step as u32).to_le_bytes().to_vec(),
            Self::Battery => vec![100u8.saturating_sub((step / 100).min(100) as u8)],
        }
    }
}

/// What an ATT handle refers to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Attribute {
    /// A characteristic value.
    Value {
        properties: CharProps,
        generator: Option<Generator>,
        cccd: Option<u16>,
    },
    /// A descriptor of the characteristic whose value handle is `characteristic`.
    Descriptor { uuid: Uuid, characteristic: u16 },
}

/// A [`SimGatt`] with handles: the table discovery returns, what each handle is, and the
/// starting values.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GattLayout {
    pub table: GattTable,
    pub attributes: BTreeMap<u16, Attribute>,
    pub initial_values: BTreeMap<u16, Vec<u8>>,
}

impl SimGatt {
    /// Assigns handles from 1 in declaration order.
    pub(crate) fn layout(&self, mtu: u16) -> GattLayout {
        let mut next: u16 = 1;
        let mut take = || {
            let handle = next;
            next = next.saturating_add(1);
            handle
        };
        let mut attributes = BTreeMap::new();
        let mut initial_values = BTreeMap::new();
        let mut services = Vec::new();
        for service in &self.services {
            let service_handle = take();
            let mut characteristics = Vec::new();
            for c in &service.characteristics {
                let _declaration = take();
                let value_handle = take();
                initial_values.insert(value_handle, c.value.clone());
                let notifies = c.properties.contains(CharProps::NOTIFY)
                    || c.properties.contains(CharProps::INDICATE);
                let mut descriptors = c.descriptors.clone();
                if notifies && !descriptors.iter().any(|d| d.uuid == CCCD) {
                    descriptors.insert(
                        0,
                        SimDescriptor {
                            uuid: CCCD,
                            value: vec![0, 0],
                        },
                    );
                }
                let mut cccd = None;
                let mut listed = Vec::new();
                for d in descriptors {
                    let handle = take();
                    if d.uuid == CCCD {
                        cccd = Some(handle);
                    }
                    initial_values.insert(handle, d.value);
                    attributes.insert(
                        handle,
                        Attribute::Descriptor {
                            uuid: d.uuid,
                            characteristic: value_handle,
                        },
                    );
                    listed.push(GattDescriptor {
                        uuid: d.uuid,
                        handle,
                    });
                }
                attributes.insert(
                    value_handle,
                    Attribute::Value {
                        properties: c.properties,
                        generator: c.generator,
                        cccd,
                    },
                );
                characteristics.push(GattCharacteristic {
                    uuid: c.uuid,
                    handle: value_handle,
                    properties: c.properties,
                    descriptors: listed,
                });
            }
            services.push(GattService {
                uuid: service.uuid,
                handle: service_handle,
                characteristics,
            });
        }
        GattLayout {
            table: GattTable { services, mtu },
            attributes,
            initial_values,
        }
    }

    /// Environmental Sensing (0x181A) with notifying temperature and humidity every 2 s, as
    /// the ESP32 environment-sensor example does, plus Battery (0x180F).
    pub fn env_sensor() -> Self {
        let every = Duration::from_secs(2);
        Self {
            services: vec![
                SimService {
                    uuid: uuid_from_u16(0x181A),
                    characteristics: vec![
                        notifying(0x2A6E, GeneratorKind::Temperature, every, vec![0x34, 0x08]),
                        notifying(0x2A6F, GeneratorKind::Humidity, every, vec![0x94, 0x11]),
                    ],
                },
                battery_service(),
            ],
        }
    }

    /// Heart Rate (0x180D): measurement notifying every second, body sensor location (chest).
    pub fn heart_rate() -> Self {
        let location = plain(0x2A38, CharProps::READ, vec![0x01]);
        Self {
            services: vec![
                SimService {
                    uuid: uuid_from_u16(0x180D),
                    characteristics: vec![
                        notifying(
                            0x2A37,
                            GeneratorKind::HeartRate,
                            Duration::from_secs(1),
                            vec![0x00, 70],
                        ),
                        location,
                    ],
                },
                battery_service(),
            ],
        }
    }

    /// A vendor service with a notifying uint32 counter (every second) and a writable
    /// configuration byte.
    pub fn counter() -> Self {
        let service = Uuid::from_u128(0x6e40_0001_b5a3_f393_e0a9_e50e_24dc_ca9e);
        let counter = Uuid::from_u128(0x6e40_0002_b5a3_f393_e0a9_e50e_24dc_ca9e);
        let config = Uuid::from_u128(0x6e40_0003_b5a3_f393_e0a9_e50e_24dc_ca9e);
        Self {
            services: vec![SimService {
                uuid: service,
                characteristics: vec![
                    SimCharacteristic {
                        uuid: counter,
                        properties: CharProps::READ | CharProps::NOTIFY,
                        value: vec![0; 4],
                        descriptors: Vec::new(),
                        generator: Some(Generator {
                            kind: GeneratorKind::Counter,
                            every: Duration::from_secs(1),
                        }),
                    },
                    SimCharacteristic {
                        uuid: config,
                        properties: CharProps::READ
                            | CharProps::WRITE
                            | CharProps::WRITE_WITHOUT_RESPONSE,
                        value: vec![0],
                        descriptors: Vec::new(),
                        generator: None,
                    },
                ],
            }],
        }
    }
}

fn notifying(uuid: u16, kind: GeneratorKind, every: Duration, value: Vec<u8>) -> SimCharacteristic {
    SimCharacteristic {
        generator: Some(Generator { kind, every }),
        ..plain(uuid, CharProps::READ | CharProps::NOTIFY, value)
    }
}

fn plain(uuid: u16, properties: CharProps, value: Vec<u8>) -> SimCharacteristic {
    SimCharacteristic {
        uuid: uuid_from_u16(uuid),
        properties,
        value,
        descriptors: Vec::new(),
        generator: None,
    }
}

fn battery_service() -> SimService {
    SimService {
        uuid: uuid_from_u16(0x180F),
        characteristics: vec![plain(0x2A19, CharProps::READ, vec![100])],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_assigns_handles_in_order_and_adds_a_cccd() {
        let layout = SimGatt::env_sensor().layout(247);
        let env = &layout.table.services[0];
        assert_eq!(env.handle, 1);
        let temperature = &env.characteristics[0];
        assert_eq!(temperature.handle, 3);
        assert_eq!(temperature.descriptors[0].uuid, CCCD);
        assert_eq!(temperature.descriptors[0].handle, 4);
        assert_eq!(env.characteristics[1].handle, 6);
        assert!(matches!(
            layout.attributes.get(&3),
            Some(Attribute::Value {
                cccd: Some(4),
                generator: Some(_),
                ..
            })
        ));
        assert_eq!(layout.initial_values.get(&4), Some(&vec![0, 0]));
        assert_eq!(layout.table.characteristic_count(), 3);
    }
}
