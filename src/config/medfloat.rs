//! The IEEE 11073-20601 medical floats that health devices (thermometers, blood pressure,
//! glucose, weight scales) put in their GATT characteristics: SFLOAT (16 bits: a 4-bit
//! exponent over a 12-bit mantissa) and FLOAT (32 bits: an 8-bit exponent over a 24-bit
//! mantissa), both `mantissa × 10^exponent` in two's complement, with reserved mantissas for
//! NaN, not-at-this-resolution and ±infinity (IEEE 11073-20601 §F.8; GATT Specification
//! Supplement §2.2.2, "medfloat16" and "medfloat32").

/// `mantissa × 10^exponent`, dividing for negative exponents so that 364 × 10^-1 is 36.4.
pub(crate) fn times_ten_to(mantissa: f64, exponent: i32) -> f64 {
    if exponent < 0 {
        mantissa / 10f64.powi(-exponent)
    } else {
        mantissa * 10f64.powi(exponent)
    }
}

/// A 16-bit SFLOAT.
pub(super) fn sfloat(raw: u16) -> f64 {
    match raw {
        0x07FE => f64::INFINITY,
        0x0802 => f64::NEG_INFINITY,
        // NaN, not-at-this-resolution and the reserved value.
        0x07FF..=0x0801 => f64::NAN,
        _ => {
            let exponent = i32::from((raw as i16) >> 12);
            let mantissa = i32::from(((raw << 4) as i16) >> 4);
            times_ten_to(f64::from(mantissa), exponent)
        }
    }
}

/// A 32-bit FLOAT.
pub(super) fn float(raw: u32) -> f64 {
    match raw {
        0x007F_FFFE => f64::INFINITY,
        0x0080_0002 => f64::NEG_INFINITY,
        0x007F_FFFF..=0x0080_0001 => f64::NAN,
        _ => {
            let exponent = (raw as i32) >> 24;
            let mantissa = ((raw << 8) as i32) >> 8;
            times_ten_to(f64::from(mantissa), exponent)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 36.4 °C as a Health Thermometer sends it: mantissa 364 (0x16C), exponent -1.
    #[test]
    fn body_temperature_in_both_widths() {
        assert_eq!(sfloat(0xF16C), 36.4);
        assert_eq!(float(0xFF00_016C), 36.4);
    }

    #[test]
    fn negative_mantissas_and_positive_exponents() {
        assert_eq!(sfloat(0x0FFF), -1.0, "mantissa 0xFFF is -1");
        assert_eq!(sfloat(0x2005), 500.0, "5 × 10^2");
        assert_eq!(sfloat(0x8001), 1e-8, "exponent -8");
        assert_eq!(float(0x00FF_FFFF), -1.0);
        assert_eq!(float(0x0200_0007), 700.0);
    }

    #[test]
    fn reserved_values_are_not_numbers() {
        assert!(sfloat(0x07FF).is_nan() && sfloat(0x0800).is_nan());
        assert_eq!(sfloat(0x07FE), f64::INFINITY);
        assert_eq!(sfloat(0x0802), f64::NEG_INFINITY);
        assert!(float(0x007F_FFFF).is_nan() && float(0x0080_0000).is_nan());
        assert_eq!(float(0x0080_0002), f64::NEG_INFINITY);
    }
}
