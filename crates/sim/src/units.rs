//! Quantities in scenario files: durations, bit rates, percentages.
//!
//! The spellings follow `tc`: `5ms`, `1.5s`, `100us`; `100Mbit`, `64kbit`,
//! `1Gbit` (decimal multiples, as tc uses them); `1%`, `0.5%`.

use std::time::Duration;

/// Parse a duration like `5ms`, `1.5s`, `100us`, `2m`, `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{s}` has no unit (write e.g. 5ms, 1.5s, 100us)"))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (write e.g. 5ms, 1.5s, 100us)"))?;
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" | "sec" | "secs" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown time unit `{other}` in `{s}` (use ns, us, ms, s, m, h)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!(
            "`{s}` is out of range (at most 1000000000s, about 31 years)"
        ));
    }
    // The simulator's clock counts microseconds: a shorter time would
    // silently be none.
    if secs > 0.0 && secs < 1e-6 {
        return Err(format!(
            "`{s}` is less than 1us, the simulator's smallest step"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parse a bit rate like `100Mbit`, `64kbit`, `1Gbit`, `9600bit` into bits
/// per second. `kbps`, `mbps` and `gbps` are refused: tc reads them as
/// bytes per second, everyday usage as bits, and either reading would
/// surprise half the people writing them.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{s}` has no unit (write e.g. 100Mbit, 64kbit)"))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a rate (write e.g. 100Mbit, 64kbit)"))?;
    let scale = match unit {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "bps" | "kbps" | "mbps" | "gbps" => {
            let (prefix, unit) = match unit {
                "kbps" => ("kilo", "kbit"),
                "mbps" => ("mega", "Mbit"),
                "gbps" => ("giga", "Gbit"),
                _ => ("", "bit"),
            };
            return Err(format!(
                "`{s}` is ambiguous: tc reads it as {prefix}bytes per second, most people as \
                 {prefix}bits; write {num}{unit} for {prefix}bits (tc's meaning is {}{unit})",
                value_times_8(num)
            ));
        }
        other => {
            return Err(format!(
                "unknown rate unit `{other}` in `{s}` (use bit, kbit, Mbit, Gbit)"
            ))
        }
    };
    let bps = value * scale;
    if !bps.is_finite() || !(1.0..=1e12).contains(&bps) {
        return Err(format!("rate `{s}` is out of range (1bit to 1000Gbit)"));
    }
    Ok(bps as u64)
}

/// Eight times the number `num` (tc's bytes as bits), as written.
fn value_times_8(num: &str) -> String {
    num.parse::<f64>()
        .map_or_else(|_| num.to_string(), |v| format!("{}", v * 8.0))
}

/// Parse a percentage like `1%` or `0.25%` into a probability.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let num = t
        .strip_suffix('%')
        .ok_or_else(|| format!("`{s}` is not a percentage (write e.g. \"1%\")"))?;
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage (write e.g. \"1%\")"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!("`{s}` is not between 0% and 100%"));
    }
    Ok(value / 100.0)
}

/// Parse a byte count like `1500`, `64KB`, `10MB`, `1GiB` (KB/MB/GB/TB are
/// powers of 1000, KiB/MiB/GiB/TiB powers of 1024; `k`, `M`, `G`, `T`
/// alone too), at most 10 TB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    const MAX: f64 = 1e13;
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("`{s}` is not a size (write e.g. 1500, 64KB, 10MB, 1MiB)");
    let value: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = value * scale;
    if bytes.is_finite() && bytes > MAX {
        return Err(format!("`{s}` is more than the largest size, 10TB"));
    }
    if !bytes.is_finite() || bytes < 0.0 || bytes.fract() != 0.0 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Format a duration the way the transcript shows virtual time.
pub fn fmt_secs(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5ms"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("unknown time unit"));
        assert!(parse_duration("ms").is_err());
        assert_eq!(parse_duration("1000ns"), Ok(Duration::from_micros(1)));
        assert_eq!(parse_duration("0ns"), Ok(Duration::ZERO));
        for short in ["999ns", "1ns", "0.5us"] {
            assert!(
                parse_duration(short).unwrap_err().contains("less than 1us"),
                "{short}"
            );
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("100Mbit"), Ok(100_000_000));
        assert_eq!(parse_rate("64kbit"), Ok(64_000));
        assert_eq!(parse_rate("1Gbit"), Ok(1_000_000_000));
        let e = parse_rate("1.5mbps").unwrap_err();
        assert!(
            e.contains("ambiguous") && e.contains("write 1.5Mbit") && e.contains("is 12Mbit"),
            "{e}"
        );
        assert!(parse_rate("64kbps").is_err());
        assert!(parse_rate("100MB").is_err());
        assert!(parse_rate("0bit").is_err());
    }

    #[test]
    fn percents() {
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert_eq!(parse_percent("0.5%"), Ok(0.005));
        assert!(parse_percent("1").is_err());
        assert!(parse_percent("101%").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("64KB"), Ok(64_000));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1TB"), Ok(1_000_000_000_000));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        assert!(parse_size("11TB")
            .unwrap_err()
            .contains("largest size, 10TB"));
        assert!(parse_size("1.5").unwrap_err().contains("not a size"));
        assert!(parse_size("1PB").unwrap_err().contains("not a size"));
        assert!(parse_size("-1").unwrap_err().contains("not a size"));
    }
}
