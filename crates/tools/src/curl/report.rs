//! What curl reports besides the body: timings and sizes, the progress
//! meter, and `-w`'s write-out.

use std::net::SocketAddrV4;
use std::time::Duration;

use tcplab_host::{Instant, Output};

/// Timings and sizes for `-w` and the progress meter.
#[derive(Debug, Default, Clone)]
pub(super) struct Stats {
    pub(super) start: Option<Instant>,
    pub(super) namelookup: Duration,
    pub(super) connect: Duration,
    pub(super) starttransfer: Duration,
    pub(super) total: Duration,
    pub(super) http_code: u16,
    pub(super) size_download: u64,
    pub(super) size_upload: u64,
    pub(super) size_header: u64,
    pub(super) num_redirects: u32,
    pub(super) remote: Option<SocketAddrV4>,
    pub(super) local: Option<SocketAddrV4>,
    pub(super) content_type: String,
    pub(super) url_effective: String,
    pub(super) redirect_url: String,
}

/// The progress meter on stderr (curl's `progress.c` layout).
pub(super) struct Meter {
    pub(super) shown: bool,
    pub(super) start: Instant,
    pub(super) next: Instant,
    /// (time, bytes) samples for the current speed, the last five seconds.
    pub(super) samples: Vec<(Instant, u64)>,
}

/// curl's five-character sizes: `12345`, ` 976k`, `10.5M`, ` 123M`, `1.2G`.
pub(super) fn max5(bytes: u64) -> String {
    pub(super) const K: u64 = 1024;
    pub(super) const M: u64 = K * K;
    pub(super) const G: u64 = M * K;
    if bytes < 100_000 {
        format!("{bytes:5}")
    } else if bytes < 10_000 * K {
        format!("{:4}k", bytes / K)
    } else if bytes < 100 * M {
        format!("{:2}.{}M", bytes / M, (bytes % M) / (M / 10))
    } else if bytes < 10_000 * M {
        format!("{:4}M", bytes / M)
    } else if bytes < 100 * G {
        format!("{:2}.{}G", bytes / G, (bytes % G) / (G / 10))
    } else {
        format!("{:4}G", bytes / G)
    }
}

/// curl's eight-character times: ` 0:00:05`, or `--:--:--` when unknown.
pub(super) fn time8(secs: u64) -> String {
    if secs == 0 {
        return "--:--:--".into();
    }
    let h = secs / 3600;
    if h < 100 {
        format!("{h:2}:{:02}:{:02}", (secs / 60) % 60, secs % 60)
    } else if secs / 86_400 < 1000 {
        format!("{:3}d {:02}h", secs / 86_400, h % 24)
    } else {
        format!("{:7}d", secs / 86_400)
    }
}

impl Meter {
    pub(super) fn new(shown: bool, now: Instant, err: &mut Output) -> Meter {
        if shown {
            err.line(
                "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current",
            );
            err.line(
                "                                 Dload  Upload   Total   Spent    Left  Speed",
            );
            // Rows are redrawn in place: each starts with a carriage
            // return, the last ends the line.
            err.write_bytes(format!("\r{}", Self::row(0, 0, 0, 0, Duration::ZERO, 0)).as_bytes());
        }
        Meter {
            shown,
            start: now,
            next: now + Duration::from_secs(1),
            samples: vec![(now, 0)],
        }
    }

    pub(super) fn row(
        total: u64,
        got: u64,
        up_total: u64,
        up: u64,
        spent: Duration,
        current: u64,
    ) -> String {
        let pct = |a: u64, t: u64| (a.min(t) * 100).checked_div(t).unwrap_or(0);
        let secs = spent.as_secs_f64();
        let dl_speed = if secs > 0.0 {
            (got as f64 / secs) as u64
        } else {
            0
        };
        let ul_speed = if secs > 0.0 {
            (up as f64 / secs) as u64
        } else {
            0
        };
        let (total_t, left_t) = if total > 0 && dl_speed > 0 {
            let whole = total / dl_speed;
            (whole, whole.saturating_sub(spent.as_secs()))
        } else {
            (0, 0)
        };
        let expected = total + up_total;
        format!(
            "{:3} {}  {:3} {}  {:3} {}  {}  {} {} {} {} {}",
            pct(got + up, expected),
            max5(expected),
            pct(got, total),
            max5(got),
            pct(up, up_total),
            max5(up),
            max5(dl_speed),
            max5(ul_speed),
            time8(total_t),
            time8(spent.as_secs()),
            time8(left_t),
            max5(current)
        )
    }

    pub(super) fn current_speed(&self, now: Instant, got: u64) -> u64 {
        let (t0, b0) = self
            .samples
            .iter()
            .find(|(t, _)| now.saturating_since(*t) <= Duration::from_secs(5))
            .copied()
            .unwrap_or((now, got));
        let dt = now.saturating_since(t0).as_secs_f64();
        if dt > 0.0 {
            ((got - b0.min(got)) as f64 / dt) as u64
        } else {
            0
        }
    }

    /// Called as data arrives: a row every second.
    pub(super) fn update(&mut self, now: Instant, total: u64, got: u64, err: &mut Output) {
        if !self.shown || now < self.next {
            return;
        }
        self.samples.push((now, got));
        self.samples
            .retain(|(t, _)| now.saturating_since(*t) <= Duration::from_secs(6));
        let cur = self.current_speed(now, got);
        let row = Self::row(total, got, 0, 0, now.saturating_since(self.start), cur);
        err.write_bytes(format!("\r{row}").as_bytes());
        while self.next <= now {
            self.next += Duration::from_secs(1);
        }
    }

    pub(super) fn done(&mut self, now: Instant, total: u64, got: u64, up: u64, err: &mut Output) {
        if !self.shown {
            return;
        }
        let spent = now.saturating_since(self.start);
        let cur = self
            .current_speed(now, got)
            .max(if spent.as_secs_f64() > 0.0 {
                (got as f64 / spent.as_secs_f64()) as u64
            } else {
                0
            });
        let row = Self::row(total.max(got), got, up, up, spent, cur);
        err.write_bytes(format!("\r{row}\n").as_bytes());
    }
}

/// Expand `-w` variables (`%{name}`) and escapes (`\n`, `\t`, `\\`, `%%`).
pub(super) fn write_out(fmt: &str, s: &Stats, exit: i32) -> String {
    let secs = |d: Duration| format!("{:.6}", d.as_secs_f64());
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '%' if chars.peek() == Some(&'%') => {
                chars.next();
                out.push('%');
            }
            '%' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let speed = if s.total.as_secs_f64() > 0.0 {
                    (s.size_download as f64 / s.total.as_secs_f64()) as u64
                } else {
                    0
                };
                let v = match name.as_str() {
                    "http_code" | "response_code" => format!("{:03}", s.http_code),
                    "url_effective" => s.url_effective.clone(),
                    "time_namelookup" => secs(s.namelookup),
                    "time_connect" => secs(s.connect),
                    "time_starttransfer" => secs(s.starttransfer),
                    "time_total" => secs(s.total),
                    "size_download" => s.size_download.to_string(),
                    "size_upload" => s.size_upload.to_string(),
                    "size_header" => s.size_header.to_string(),
                    "speed_download" => speed.to_string(),
                    "num_redirects" => s.num_redirects.to_string(),
                    "remote_ip" => s.remote.map_or(String::new(), |r| r.ip().to_string()),
                    "remote_port" => s.remote.map_or(String::new(), |r| r.port().to_string()),
                    "local_ip" => s.local.map_or(String::new(), |r| r.ip().to_string()),
                    "local_port" => s.local.map_or(String::new(), |r| r.port().to_string()),
                    "content_type" => s.content_type.clone(),
                    "redirect_url" => s.redirect_url.clone(),
                    "exitcode" => exit.to_string(),
                    _ => String::new(),
                };
                out.push_str(&v);
            }
            c => out.push(c),
        }
    }
    out
}
