//! The typed, unit-carrying values decoders produce: [`Reading`] = [`Kind`] + [`Value`] +
//! [`Unit`].
//!
//! Kinds and units are closed enums so a consumer can match on them (a dashboard picks the
//! temperatures, MQTT discovery picks a device class), and both serialize as the short text
//! users see (`"temperature"`, `"°C"`), which is also what `bluefleet decode --json` prints.

use std::fmt;

/// Declares [`Kind`] with its text names in one table.
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// What a reading measures.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($(#[$doc])* $variant,)*
        }

        impl Kind {
            /// The kind's name, as printed and serialized (`"temperature"`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $text,)*
                }
            }

            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];
        }
    };
}

kinds! {
    /// Air or probe temperature.
    Temperature => "temperature",
    /// Relative humidity.
    Humidity => "humidity",
    /// Battery charge.
    Battery => "battery",
    /// Battery or supply voltage.
    Voltage => "voltage",
    /// Light intensity.
    Illuminance => "illuminance",
    /// A coarse light level (0 dark … n bright) without a unit.
    LightLevel => "light_level",
    /// Air pressure.
    Pressure => "pressure",
    /// Soil moisture.
    Moisture => "moisture",
    /// Soil conductivity (fertility).
    Conductivity => "conductivity",
    /// Weight on a scale.
    Weight => "weight",
    /// Dew point temperature.
    DewPoint => "dew_point",
    /// A counter.
    Count => "count",
    /// Energy used.
    Energy => "energy",
    /// Electric power.
    Power => "power",
    /// Electric current.
    Current => "current",
    /// Particulate matter up to 2.5 µm.
    Pm25 => "pm25",
    /// Particulate matter up to 10 µm.
    Pm10 => "pm10",
    /// Carbon dioxide concentration.
    Co2 => "co2",
    /// Volatile organic compounds.
    Tvoc => "tvoc",
    /// Rotation angle.
    Rotation => "rotation",
    /// Distance.
    Distance => "distance",
    /// A duration.
    Duration => "duration",
    /// Speed.
    Speed => "speed",
    /// UV index.
    UvIndex => "uv_index",
    /// Volume.
    Volume => "volume",
    /// Volume flow rate.
    VolumeFlowRate => "volume_flow_rate",
    /// Stored volume (a tank).
    VolumeStorage => "volume_storage",
    /// Gas used.
    Gas => "gas",
    /// Water used.
    Water => "water",
    /// A point in time (seconds since the Unix epoch).
    Timestamp => "timestamp",
    /// Acceleration (BTHome: one axis-less magnitude).
    Acceleration => "acceleration",
    /// Acceleration along X.
    AccelerationX => "acceleration_x",
    /// Acceleration along Y.
    AccelerationY => "acceleration_y",
    /// Acceleration along Z.
    AccelerationZ => "acceleration_z",
    /// Angular velocity.
    Gyroscope => "gyroscope",
    /// Wind or compass direction.
    Direction => "direction",
    /// Precipitation.
    Precipitation => "precipitation",
    /// Rotational speed.
    RotationalSpeed => "rotational_speed",
    /// A channel number.
    Channel => "channel",
    /// The sender's frame counter.
    PacketId => "packet_id",
    /// The sender's advertised transmit power.
    TxPower => "tx_power",
    /// Free text.
    Text => "text",
    /// Raw bytes, as hex.
    Raw => "raw",
    /// A button event (`press`, `double_press`, `long_press`…; `none` keeps positions).
    Button => "button",
    /// A dimmer turn: steps, negative to the left, positive to the right.
    Dimmer => "dimmer",
    /// Motion detected.
    Motion => "motion",
    /// Someone present.
    Occupancy => "occupancy",
    /// Presence detected.
    Presence => "presence",
    /// A door is open.
    Door => "door",
    /// A window is open.
    Window => "window",
    /// Something (door, window, lid) is open.
    Opening => "opening",
    /// A door or window stayed open past the sensor's timeout.
    LeftOpen => "left_open",
    /// A garage door is open.
    GarageDoor => "garage_door",
    /// Generic on/off state.
    Binary => "binary",
    /// Power is on.
    PowerOn => "power_on",
    /// Battery is low.
    BatteryLow => "battery_low",
    /// Battery is charging.
    BatteryCharging => "battery_charging",
    /// Carbon monoxide detected.
    CarbonMonoxide => "carbon_monoxide",
    /// Cold.
    Cold => "cold",
    /// Connected.
    Connectivity => "connectivity",
    /// Gas detected.
    GasDetected => "gas_detected",
    /// Heat.
    Heat => "heat",
    /// Light detected.
    Light => "light",
    /// Unlocked.
    Lock => "lock",
    /// Moisture or a leak detected.
    MoistureDetected => "moisture_detected",
    /// Moving.
    Moving => "moving",
    /// Plugged in.
    Plug => "plug",
    /// A problem is reported.
    ProblemReported => "problem",
    /// Running.
    Running => "running",
    /// Unsafe.
    Safety => "safety",
    /// Smoke detected.
    Smoke => "smoke",
    /// Sound detected.
    Sound => "sound",
    /// Tampered with.
    Tamper => "tamper",
    /// Vibration detected.
    Vibration => "vibration",
    /// An iBeacon identity: `uuid major minor`.
    BeaconId => "beacon_id",
    /// An Eddystone-URL address.
    Url => "url",
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The unit a value is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// No unit (counts, states, events, text).
    None,
    /// Degrees Celsius.
    Celsius,
    /// Percent.
    Percent,
    /// Lux.
    Lux,
    /// Hectopascal (= millibar).
    HectoPascal,
    /// Kilogram.
    Kilogram,
    /// Pound.
    Pound,
    /// Volt.
    Volt,
    /// Ampere.
    Ampere,
    /// Watt.
    Watt,
    /// Kilowatt hour.
    KilowattHour,
    /// Micrograms per cubic metre.
    MicrogramPerCubicMetre,
    /// Parts per million.
    Ppm,
    /// Microsiemens per centimetre.
    MicrosiemensPerCm,
    /// Degree of angle.
    Degree,
    /// Millimetre.
    Millimetre,
    /// Metre.
    Metre,
    /// Second.
    Second,
    /// Metre per second.
    MetrePerSecond,
    /// Litre.
    Litre,
    /// Millilitre.
    Millilitre,
    /// Cubic metre.
    CubicMetre,
    /// Cubic metre per hour.
    CubicMetrePerHour,
    /// Metre per second squared.
    MetrePerSecondSquared,
    /// Standard gravity (g).
    StandardGravity,
    /// Degree per second.
    DegreePerSecond,
    /// Revolutions per minute.
    Rpm,
    /// Decibel-milliwatt.
    Dbm,
    /// Dimmer steps.
    Steps,
}

impl Unit {
    /// The unit's symbol, as printed and serialized; "" for [`Unit::None`].
    pub const fn symbol(self) -> &'static str {
        match self {
            Unit::None => "",
            Unit::Celsius => "°C",
            Unit::Percent => "%",
            Unit::Lux => "lx",
            Unit::HectoPascal => "hPa",
            Unit::Kilogram => "kg",
            Unit::Pound => "lb",
            Unit::Volt => "V",
            Unit::Ampere => "A",
            Unit::Watt => "W",
            Unit::KilowattHour => "kWh",
            Unit::MicrogramPerCubicMetre => "µg/m³",
            Unit::Ppm => "ppm",
            Unit::MicrosiemensPerCm => "µS/cm",
            Unit::Degree => "°",
            Unit::Millimetre => "mm",
            Unit::Metre => "m",
            Unit::Second => "s",
            Unit::MetrePerSecond => "m/s",
            Unit::Litre => "L",
            Unit::Millilitre => "mL",
            Unit::CubicMetre => "m³",
            Unit::CubicMetrePerHour => "m³/h",
            Unit::MetrePerSecondSquared => "m/s²",
            Unit::StandardGravity => "g",
            Unit::DegreePerSecond => "°/s",
            Unit::Rpm => "rpm",
            Unit::Dbm => "dBm",
            Unit::Steps => "steps",
        }
    }
}

impl serde::Serialize for Unit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.symbol())
    }
}

/// A reading's value.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A measurement or count.
    Number(f64),
    /// An on/off state (motion, open, leak…).
    Bool(bool),
    /// An event name, free text, or hex of raw bytes.
    Text(String),
}

impl Value {
    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

/// One typed value with its unit.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Reading {
    /// What it measures.
    pub kind: Kind,
    /// The value.
    pub value: Value,
    /// The unit of `value`.
    pub unit: Unit,
}

impl fmt::Display for Reading {
    /// `21.4 °C`, `48 %`, `true`, `press`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Value::Number(n) => write!(f, "{n}")?,
            Value::Bool(b) => write!(f, "{b}")?,
            Value::Text(t) => f.write_str(t)?,
        }
        match self.unit {
            Unit::None => Ok(()),
            unit => write!(f, " {}", unit.symbol()),
        }
    }
}
