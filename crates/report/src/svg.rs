//! A few helpers for writing SVG by hand: escaping, numbers, axes.

use std::fmt::Write as _;

/// Escape text for XML and HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate with one decimal: short and stable.
pub fn n(x: f64) -> String {
    if x.is_finite() {
        let r = (x * 10.0).round() / 10.0;
        if r == r.trunc() {
            format!("{}", r as i64)
        } else {
            format!("{r:.1}")
        }
    } else {
        "0".into()
    }
}

/// The opening tag of a standalone SVG document of `w`×`h`.
pub fn open(w: f64, h: f64, class: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"{class}\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\"><style>path{{vector-effect:non-scaling-stroke}}</style><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>",
        n(w),
        n(h),
        n(w),
        n(h)
    )
}

/// "Nice" tick step for a range: 1, 2 or 5 times a power of ten.
pub fn tick_step(range: f64, ticks: f64) -> f64 {
    if range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let raw = range / ticks;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let k = if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    };
    k * p
}

/// A plot area: data ranges mapped onto a box of the picture.
#[derive(Debug, Clone, Copy)]
pub struct Plot {
    pub x0: f64,
    pub y0: f64,
    pub w: f64,
    pub h: f64,
    pub xmin: f64,
    pub xmax: f64,
    pub ymin: f64,
    pub ymax: f64,
}

impl Plot {
    pub fn x(&self, v: f64) -> f64 {
        let span = (self.xmax - self.xmin).max(1e-12);
        self.x0 + (v - self.xmin) / span * self.w
    }

    pub fn y(&self, v: f64) -> f64 {
        let span = (self.ymax - self.ymin).max(1e-12);
        self.y0 + self.h - (v - self.ymin) / span * self.h
    }

    /// Axes with ticks and labels; `fx`/`fy` format tick values.
    pub fn axes(
        &self,
        out: &mut String,
        xlabel: &str,
        ylabel: &str,
        fx: &dyn Fn(f64) -> String,
        fy: &dyn Fn(f64) -> String,
    ) {
        let (x1, y1) = (self.x0 + self.w, self.y0 + self.h);
        let _ = write!(
            out,
            "<g class=\"axes\" stroke=\"#888\" fill=\"none\"><path d=\"M{} {}V{}H{}\"/></g>",
            n(self.x0),
            n(self.y0),
            n(y1),
            n(x1)
        );
        let sx = tick_step(self.xmax - self.xmin, 8.0);
        let mut v = (self.xmin / sx).ceil() * sx;
        while v <= self.xmax + sx * 1e-9 {
            let x = self.x(v);
            let _ = write!(
                out,
                "<path d=\"M{} {}v4\" stroke=\"#888\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
                n(x),
                n(y1),
                n(x),
                n(y1 + 15.0),
                esc(&fx(v))
            );
            v += sx;
        }
        let sy = tick_step(self.ymax - self.ymin, 6.0);
        let mut v = (self.ymin / sy).ceil() * sy;
        while v <= self.ymax + sy * 1e-9 {
            let y = self.y(v);
            let _ = write!(
                out,
                "<path d=\"M{} {}h-4\" stroke=\"#888\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#444\">{}</text>",
                n(self.x0),
                n(y),
                n(self.x0 - 6.0),
                n(y + 4.0),
                esc(&fy(v))
            );
            v += sy;
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#222\">{}</text><text x=\"12\" y=\"{}\" fill=\"#222\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>",
            n(self.x0 + self.w / 2.0),
            n(y1 + 32.0),
            esc(xlabel),
            n(self.y0 + self.h / 2.0),
            n(self.y0 + self.h / 2.0),
            esc(ylabel)
        );
    }
}

/// A polyline through `points` (already in picture coordinates), at most
/// `max` of them: evenly thinned beyond that.
pub fn polyline(points: &[(f64, f64)], max: usize, style: &str) -> String {
    if points.is_empty() {
        return String::new();
    }
    let step = points.len().div_ceil(max.max(1)).max(1);
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        if i % step != 0 && i + 1 != points.len() {
            continue;
        }
        let _ = write!(
            d,
            "{}{} {}",
            if d.is_empty() { "M" } else { "L" },
            n(*x),
            n(*y)
        );
    }
    format!("<path d=\"{d}\" fill=\"none\" {style}/>")
}

/// Seconds as the axes write them.
pub fn secs(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Bytes with a unit.
pub fn bytes(v: f64) -> String {
    if v.abs() >= 1e9 {
        format!("{}G", secs(v / 1e9))
    } else if v.abs() >= 1e6 {
        format!("{}M", secs(v / 1e6))
    } else if v.abs() >= 1e3 {
        format!("{}k", secs(v / 1e3))
    } else {
        secs(v)
    }
}
