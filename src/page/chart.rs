//! Charts as server-rendered SVG: no script and no charting library, so the page works
//! without JavaScript and a report file is one self-contained document. Each chart is an
//! `img` for assistive technology, with a text alternative that says what it shows.

use super::html::esc;
use crate::drift::histogram::{Histogram, number};
use std::fmt::Write;

const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 90.0;

/// Reference (grey) beside current (blue) per bar: one `<g class="bar">` per bin or
/// category (reference rect first), each with a tooltip giving both shares.
pub fn histogram(out: &mut String, column: &str, h: &Histogram) {
    let bars = h.labels.len().max(1);
    let top = h
        .reference
        .iter()
        .chain(&h.current)
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-9);
    let _ = write!(
        out,
        "<svg class=\"hist\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{} histogram: reference and current share in {bars} bars\" \
         preserveAspectRatio=\"none\">",
        esc(column)
    );
    let slot = WIDTH / bars as f64;
    let bar = slot * 0.42;
    for (i, label) in h.labels.iter().enumerate() {
        let x = i as f64 * slot + slot * 0.08;
        let (r, c) = (h.reference[i], h.current[i]);
        let (hr, hc) = (r / top * (HEIGHT - 2.0), c / top * (HEIGHT - 2.0));
        // The first rect is the reference, the second the current data (the style sheet
        // colours them by position): class names on every bar were a tenth of the page.
        let _ = write!(
            out,
            "<g class=\"bar\"><title>{}: reference {}, current {}</title>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hr:.1}\"/>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{hc:.1}\"/></g>",
            esc(label),
            percent(r),
            percent(c),
            HEIGHT - hr,
            x + bar,
            HEIGHT - hc,
        );
    }
    out.push_str("</svg>");
}

/// The recent scores as a line, with the threshold dashed: how the score got where it is.
pub fn sparkline(out: &mut String, column: &str, scores: &[f64], threshold: Option<f64>) {
    if scores.is_empty() {
        return;
    }
    let top = scores
        .iter()
        .chain(threshold.as_ref())
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-12)
        * 1.1;
    let (w, h) = (WIDTH, 30.0);
    let step = if scores.len() > 1 {
        w / (scores.len() - 1) as f64
    } else {
        0.0
    };
    let y = |v: f64| h - v / top * (h - 2.0) - 1.0;
    let _ = write!(
        out,
        "<svg class=\"spark\" viewBox=\"0 0 {w} {h}\" role=\"img\" preserveAspectRatio=\"none\" \
         aria-label=\"{} score over the last {} evaluations, latest {}\">",
        esc(column),
        scores.len(),
        number(*scores.last().unwrap_or(&0.0)),
    );
    if let Some(t) = threshold {
        let _ = write!(
            out,
            "<line class=\"threshold\" x1=\"0\" x2=\"{w}\" y1=\"{0:.2}\" y2=\"{0:.2}\"/>",
            y(t)
        );
    }
    out.push_str("<polyline points=\"");
    for (i, &s) in scores.iter().enumerate() {
        let _ = write!(out, "{:.1},{:.1} ", i as f64 * step, y(s));
    }
    out.push_str("\"/></svg>");
}

/// A share as a percentage with one decimal.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}
