//! Number formats the classic tools print.

/// C's `printf("%g", x)`: six significant digits, trailing zeros removed,
/// exponent form for very large or small values.
pub fn g(x: f64) -> String {
    g_prec(x, 6)
}

/// C's `%.Pg`: `p` significant digits, trailing zeros dropped, the
/// exponent form below 1e-4 or from 10^p up.
pub fn g_prec(x: f64, p: i32) -> String {
    let p = p.max(1);
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return x.to_string();
    }
    // The exponent after rounding to p digits (999.96 at %.3g is 1e+03).
    let sci = format!("{:.*e}", (p - 1) as usize, x);
    let (mantissa, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    if exp < -4 || exp >= p {
        let mantissa = trim_zeros(mantissa);
        return format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    let decimals = (p - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{:.*}", decimals, x)).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A duration in microseconds as `ms` with three decimals, the way iputils
/// prints its statistics (`%ld.%03ld`).
pub fn ms3(micros: u64) -> String {
    format!("{}.{:03}", micros / 1000, micros % 1000)
}

/// A byte count like `1500`, `64K`, `10M`, `1.5G` (powers of 1000, as
/// transfer sizes are usually quoted; `KiB`, `MiB`, `GiB` for powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().ok()?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = v * scale;
    (bytes.is_finite() && (0.0..1e13).contains(&bytes)).then_some(bytes as u64)
}

/// A rate in bits per second, as `64.8 Mbit/s`.
pub fn bitrate(bits_per_sec: f64) -> String {
    if bits_per_sec >= 1e9 {
        format!("{:.2} Gbit/s", bits_per_sec / 1e9)
    } else if bits_per_sec >= 1e6 {
        format!("{:.2} Mbit/s", bits_per_sec / 1e6)
    } else if bits_per_sec >= 1e3 {
        format!("{:.2} kbit/s", bits_per_sec / 1e3)
    } else {
        format!("{bits_per_sec:.0} bit/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_printf_g() {
        assert_eq!(g(0.0), "0");
        assert_eq!(g(13.0), "13");
        assert_eq!(g(100.0), "100");
        assert_eq!(g(100.0 / 3.0), "33.3333");
        assert_eq!(g(200.0 / 3.0), "66.6667");
        assert_eq!(g(2.5), "2.5");
        assert_eq!(g(0.001234), "0.001234");
        assert_eq!(g(12345678.0), "1.23457e+07");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(999999.6), "1e+06");
        assert_eq!(g_prec(9.92, 3), "9.92");
        assert_eq!(g_prec(55.001, 3), "55");
        assert_eq!(g_prec(999.96, 3), "1e+03");
        assert_eq!(g_prec(2.7734375, 6), "2.77344");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1500"), Some(1500));
        assert_eq!(parse_size("10M"), Some(10_000_000));
        assert_eq!(parse_size("1.5G"), Some(1_500_000_000));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(bitrate(64_800_000.0), "64.80 Mbit/s");
    }

    #[test]
    fn millis() {
        assert_eq!(ms3(37), "0.037");
        assert_eq!(ms3(20_412), "20.412");
    }
}
