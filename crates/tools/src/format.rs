//! Number formats the classic tools print.

/// C's `printf("%g", x)`: six significant digits, trailing zeros removed,
/// exponent form for very large or small values.
pub fn g(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return x.to_string();
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-5..6).contains(&exp) {
        let s = format!("{:.5e}", x);
        // Rust prints e.g. "1.00000e7"; C prints "1e+07".
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = trim_zeros(mantissa);
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
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
    }

    #[test]
    fn millis() {
        assert_eq!(ms3(37), "0.037");
        assert_eq!(ms3(20_412), "20.412");
    }
}
