//! Pictures drawn on the server as inline SVG (no scripts, no external resources, readable
//! without colour): a target's trend over its stored scans, and a bar of a scan's resources by
//! status. Used by `serve`'s pages and the HTML report.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// One scan's counts, for a trend.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// When the scan started.
    pub at: DateTime<Utc>,
    /// Drifted resources.
    pub drifted: usize,
    /// Missing resources.
    pub missing: usize,
    /// Unmanaged resources.
    pub unmanaged: usize,
    /// Failing compliance findings.
    pub failing: usize,
    /// Resources whose deployment status is degraded.
    pub degraded: usize,
}

/// A series of a trend: name, colour and dash pattern (told apart without colour too), and how
/// to read it from a point.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Point) -> usize,
);

/// The series a trend draws.
const SERIES: [Series; 5] = [
    ("drifted", "#9a6700", "", |p| p.drifted),
    ("missing", "#cf222e", "6 3", |p| p.missing),
    ("unmanaged", "#8250df", "2 3", |p| p.unmanaged),
    ("failing findings", "#57606a", "9 3 2 3", |p| p.failing),
    ("degraded", "#0969da", "1 2", |p| p.degraded),
];

/// A trend chart of the points (oldest first): a line per series over the scans, the scale and
/// time span written out, and a legend with each series' line style and latest value. Empty
/// markup for no points.
pub fn trend(title: &str, points: &[Point]) -> Markup {
    const W: f64 = 480.0;
    const H: f64 = 120.0;
    const LEFT: f64 = 34.0;
    const TOP: f64 = 8.0;
    const BOTTOM: f64 = 22.0;
    let Some(last) = points.last() else {
        return html! {};
    };
    let max = points
        .iter()
        .flat_map(|p| SERIES.iter().map(move |(_, _, _, get)| get(p)))
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| {
        if points.len() == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (points.len() - 1) as f64
        }
    };
    let y = |v: usize| TOP + plot_h - plot_h * v as f64 / max as f64;
    let first = &points[0];
    let label = format!(
        "{title}: {} scans from {} to {}; now {}",
        points.len(),
        first.at.format("%Y-%m-%d %H:%M"),
        last.at.format("%Y-%m-%d %H:%M"),
        SERIES
            .iter()
            .map(|(name, _, _, get)| format!("{} {name}", get(last)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    html! {
        figure.trend {
            svg width=(W) height=(H) viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(label) {
                title { (label) }
                line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(TOP + plot_h) stroke="#8c959f" {}
                line x1=(LEFT) y1=(TOP + plot_h) x2=(W - 8.0) y2=(TOP + plot_h) stroke="#8c959f" {}
                text x=(LEFT - 4.0) y=(TOP + 8.0) text-anchor="end" font-size="10" { (max) }
                text x=(LEFT - 4.0) y=(TOP + plot_h) text-anchor="end" font-size="10" { "0" }
                text x=(LEFT) y=(H - 6.0) font-size="10" { (first.at.format("%m-%d %H:%M")) }
                text x=(W - 8.0) y=(H - 6.0) text-anchor="end" font-size="10" { (last.at.format("%m-%d %H:%M")) }
                @for (name, colour, dash, get) in SERIES {
                    @let line = points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), y(get(p)))).collect::<Vec<_>>().join(" ");
                    polyline.series data-series=(name) points=(line) fill="none" stroke=(colour) stroke-width="2" stroke-dasharray=(dash) {}
                    @if points.len() == 1 {
                        circle cx=(x(0)) cy=(y(get(last))) r="3" fill=(colour) {}
                    }
                }
            }
            figcaption {
                @for (name, colour, dash, get) in SERIES {
                    span.legend {
                        svg width="28" height="10" aria-hidden="true" {
                            line x1="0" y1="5" x2="28" y2="5" stroke=(colour) stroke-width="2" stroke-dasharray=(dash) {}
                        }
                        " " (name) " " b { (get(last)) }
                    }
                    " "
                }
            }
        }
    }
}

/// A bar of a scan's resources by status (in sync, drifted, missing, unmanaged), each part as
/// wide as its share and labelled with its count, so that no colour is needed to read it.
pub fn status_bar(in_sync: usize, drifted: usize, missing: usize, unmanaged: usize) -> Markup {
    const W: f64 = 600.0;
    let parts = [
        ("in sync", in_sync, "#1a7f37"),
        ("drifted", drifted, "#9a6700"),
        ("missing", missing, "#cf222e"),
        ("unmanaged", unmanaged, "#8250df"),
    ];
    let total: usize = parts.iter().map(|(_, n, _)| n).sum();
    if total == 0 {
        return html! {};
    }
    let label = parts
        .iter()
        .map(|(name, n, _)| format!("{n} {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Each part's left edge and width.
    let mut at = 0.0;
    let placed: Vec<(&str, usize, &str, f64, f64)> = parts
        .iter()
        .filter(|(_, n, _)| *n > 0)
        .map(|&(name, n, colour)| {
            let w = W * n as f64 / total as f64;
            let left = at;
            at += w;
            (name, n, colour, left, w)
        })
        .collect();
    html! {
        figure.bar {
            svg width=(W) height="22" viewBox=(format!("0 0 {W} 22")) role="img" aria-label=(label) {
                title { (label) }
                @for (name, n, colour, at, w) in placed {
                    rect data-status=(name) x=(format!("{at:.1}")) y="0" width=(format!("{w:.1}")) height="22" fill=(colour) stroke="#fff" {}
                    @if w > 28.0 {
                        text x=(format!("{:.1}", at + w / 2.0)) y="15" text-anchor="middle" font-size="11" fill="#fff" { (n) }
                    }
                }
            }
            figcaption { (label) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trend draws a line per series with the latest values written out; one point is a dot;
    /// a bar's parts add up to its width, each labelled.
    #[test]
    fn trends_and_bars_are_svg_that_reads_without_colour() {
        let at = |h: u32| {
            DateTime::parse_from_rfc3339(&format!("2026-12-05T{h:02}:00:00Z"))
                .unwrap()
                .with_timezone(&Utc)
        };
        let points = vec![
            Point {
                at: at(1),
                drifted: 1,
                missing: 0,
                unmanaged: 2,
                failing: 10,
                degraded: 0,
            },
            Point {
                at: at(2),
                drifted: 3,
                missing: 1,
                unmanaged: 2,
                failing: 8,
                degraded: 1,
            },
        ];
        let svg = trend("demo", &points).into_string();
        assert_eq!(svg.matches("<polyline").count(), 5, "{svg}");
        assert!(svg.contains("2 scans from 2026-12-05 01:00 to 2026-12-05 02:00; now 3 drifted, 1 missing, 2 unmanaged, 8 failing findings, 1 degraded"), "{svg}");
        assert!(
            svg.contains("stroke-dasharray=\"6 3\""),
            "told apart by dashes: {svg}"
        );
        assert!(svg.contains(">10<"), "the scale's top: {svg}");
        assert_eq!(
            trend("demo", &points[..1])
                .into_string()
                .matches("<circle")
                .count(),
            5
        );
        assert!(trend("demo", &[]).into_string().is_empty());
        let bar = status_bar(6, 3, 1, 0).into_string();
        assert!(
            bar.contains("6 in sync, 3 drifted, 1 missing, 0 unmanaged"),
            "{bar}"
        );
        assert_eq!(bar.matches("<rect").count(), 3, "no empty part: {bar}");
        assert!(bar.contains("width=\"360.0\""), "6 of 10: {bar}");
    }
}
