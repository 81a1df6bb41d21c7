//! The parts of a page: a model version's verdict and its columns (drifted first), and
//! the sidecar's health. Each writes HTML into the caller's `String`.

use super::chart::{self, percent};
use super::html::esc;
use super::{ModelView, Section, SidecarHealth};
use crate::drift::histogram::number;
use crate::drift::report::ColumnReport;
use std::fmt::Write;

/// The table of model versions at the top: one row each, linking to its section.
pub fn overview(out: &mut String, models: &[ModelView<'_>]) {
    out.push_str(
        "<section aria-labelledby=\"overview\"><h2 id=\"overview\">Model versions</h2>\
         <div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Model versions\">\
         <table><thead><tr><th scope=\"col\">Model version</th><th scope=\"col\">Reference</th>\
         <th scope=\"col\">Window</th><th scope=\"col\">Drifted columns</th>\
         <th scope=\"col\">Verdict</th></tr></thead><tbody>",
    );
    for (i, m) in models.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td><a href=\"#mv-{i}\">{}</a></td><td>{}</td><td>{}</td><td>{} of {}</td>\
             <td>{}</td></tr>",
            esc(&m.title),
            esc(&m.reference),
            esc(&m.window),
            m.drifted,
            m.tested,
            verdict(m.dataset_drift, true),
        );
    }
    out.push_str("</tbody></table></div></section>");
}

/// One model version: its verdict, then each section in order (features, predictions,
/// and whatever [`ModelView::extra`] adds).
pub fn model(out: &mut String, index: usize, m: &ModelView<'_>) {
    let _ = write!(
        out,
        "<section class=\"model\" id=\"mv-{index}\" aria-labelledby=\"mv-{index}-title\">\
         <h2 id=\"mv-{index}-title\">{}</h2><dl class=\"facts\">",
        esc(&m.title)
    );
    for (name, value) in [
        ("Reference", m.reference.as_str()),
        ("Window", m.window.as_str()),
    ] {
        let _ = write!(out, "<div><dt>{name}</dt><dd>{}</dd></div>", esc(value));
    }
    let _ = write!(
        out,
        "<div><dt>Drift share</dt><dd>{} ({} of {} tested; dataset drift at {})</dd></div>\
         <div><dt>Verdict</dt><dd>{}</dd></div></dl>",
        percent(m.drift_share),
        m.drifted,
        m.tested,
        percent(m.drift_share_threshold),
        verdict(m.dataset_drift, true),
    );
    columns(out, index, "features", "Features", m.features);
    columns(out, index, "predictions", "Predictions", m.predictions);
    for section in &m.extra {
        extra(out, section);
    }
    out.push_str("</section>");
}

fn extra(out: &mut String, section: &Section) {
    let _ = write!(
        out,
        "<section class=\"extra\"><h3>{}</h3>{}</section>",
        esc(&section.title),
        section.html
    );
}

/// The columns of one kind as cards: the drifted ones first, each group by name.
fn columns(out: &mut String, index: usize, kind: &str, title: &str, reports: &[ColumnReport]) {
    if reports.is_empty() {
        return;
    }
    let mut order: Vec<&ColumnReport> = reports.iter().collect();
    order.sort_by_key(|r| (!r.drifted, r.name.clone()));
    let drifted = order.iter().filter(|r| r.drifted).count();
    let _ = write!(
        out,
        "<h3 id=\"mv-{index}-{kind}\">{title} <span class=\"count\">{drifted} of {} drifted</span>\
         </h3><p class=\"legend\"><span class=\"key ref\"></span>reference \
         <span class=\"key cur\"></span>current</p><ul class=\"columns {kind}\">",
        order.len()
    );
    for r in order {
        column(out, r);
    }
    out.push_str("</ul>");
}

fn column(out: &mut String, r: &ColumnReport) {
    let tested = r.score.is_some();
    let _ = write!(
        out,
        "<li class=\"column{}\" data-drifted=\"{}\" data-name=\"{}\"><h4><span class=\"name\">{}</span> {}</h4>\
         <dl class=\"stats\">",
        if r.drifted { " drifted" } else { "" },
        r.drifted,
        esc(&r.name),
        esc(&r.name),
        verdict(r.drifted, tested),
    );
    let cell = |v: Option<f64>| v.map_or_else(|| "–".to_string(), number);
    for (name, value) in [
        ("Type", r.kind.clone()),
        ("Method", r.method.clone()),
        ("Statistic", cell(r.statistic)),
        ("Score", cell(r.score)),
        ("p-value", cell(r.p_value)),
        ("Threshold", cell(r.threshold)),
    ] {
        let _ = write!(out, "<div><dt>{name}</dt><dd>{}</dd></div>", esc(&value));
    }
    out.push_str("</dl>");
    if let Some(h) = &r.histogram {
        chart::histogram(out, &r.name, h);
        if let (Some(first), Some(last)) = (h.labels.first(), h.labels.last()) {
            let _ = write!(
                out,
                "<p class=\"axis\"><span>{}</span><span>{}</span></p>",
                esc(first),
                esc(last)
            );
        }
    }
    if r.history.len() > 1 {
        out.push_str("<p class=\"label\">Score, recent evaluations (threshold dashed)</p>");
        chart::sparkline(out, &r.name, &r.history, r.threshold);
    }
    let _ = write!(
        out,
        "<p class=\"quality\">Missing {} · out of range {} · unseen {} · type errors {} · \
         non-finite {}</p>",
        percent(r.missing_rate),
        percent(r.out_of_range_rate),
        percent(r.unseen_rate),
        percent(r.type_error_rate),
        percent(r.non_finite_rate),
    );
    if let Some(note) = &r.note {
        let _ = write!(out, "<p class=\"note\">{}</p>", esc(note));
    }
    out.push_str("</li>");
}

/// A verdict as a word in a badge: the colour repeats the word, never replaces it.
fn verdict(drifted: bool, tested: bool) -> &'static str {
    match (tested, drifted) {
        (false, _) => "<span class=\"badge untested\">not tested</span>",
        (true, true) => "<span class=\"badge bad\">drifted</span>",
        (true, false) => "<span class=\"badge ok\">no drift</span>",
    }
}

/// The sidecar's own counters.
pub fn health(out: &mut String, h: &SidecarHealth) {
    let seconds = |v: Option<f64>| {
        v.map_or_else(|| "–".to_string(), |s| format!("{} ms", number(s * 1000.0)))
    };
    out.push_str(
        "<section aria-labelledby=\"health\"><h2 id=\"health\">Sidecar health</h2>\
         <dl class=\"facts\">",
    );
    let export = if h.export_events.is_empty() {
        "off".to_string()
    } else {
        h.export_events
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{name} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (name, value) in [
        ("Requests", h.requests.to_string()),
        ("5xx answers", h.server_errors.to_string()),
        ("Latency mean", seconds(h.latency_mean)),
        ("Latency p50 at most", seconds(h.latency_p50)),
        ("Latency p99 at most", seconds(h.latency_p99)),
        ("Analysis dropped", h.analysis_dropped.to_string()),
        ("Analysis queue", h.analysis_queue.to_string()),
        ("Export events", export),
        (
            "Export backlog",
            h.spool_bytes
                .map_or_else(|| "–".to_string(), |b| format!("{b} bytes in the spool")),
        ),
        (
            "Export blocked",
            if h.blocked_sinks.is_empty() {
                "no".to_string()
            } else {
                h.blocked_sinks.join(", ")
            },
        ),
    ] {
        let _ = write!(out, "<div><dt>{name}</dt><dd>{}</dd></div>", esc(&value));
    }
    out.push_str("</dl></section>");
}
