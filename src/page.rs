//! The drift page and the HTML reports: what the sidecar sees, readable without Grafana.
//!
//! - [`live_page`]: `GET /` on the admin listener. Every model version seen, its reference,
//!   window and verdict; each feature and prediction with its method, statistic, score,
//!   p-value, threshold and verdict (drifted first), the reference beside the current
//!   window as a histogram, its recent scores and its data-quality rates; the sidecar's own
//!   health. [`live_main`] is its `<main>` alone (`GET /?part=main`), which the page's
//!   small script fetches every evaluation interval to refresh without a reload; without
//!   JavaScript a `<noscript>` refresh reloads the page instead.
//! - [`document_file`] and [`table`]: other reports as files, in the same style
//!   (`modelwatch validate --report` writes `report.html`).
//! - [`report_file`]: the same view of one batch comparison (`modelwatch drift --html`) as
//!   one self-contained file: no script, and a Content-Security-Policy that forbids every
//!   request (before anything else in the head, so it covers all of it), so it opens from `file://` or a mail attachment with no network access.
//!
//! Everything is rendered on the server into one string: charts are SVG ([`chart`]), the
//! style sheet and the script are compiled into the binary (`include_str!`), no font or
//! file is fetched. Every string from outside the code is escaped ([`html`]).
//!
//! A page is a list of sections per model version ([`ModelView`]): features, predictions
//! and any [`Section`] a caller adds (a multivariate test, say) in [`ModelView::extra`].

pub mod chart;
pub mod health;
pub mod html;
mod sections;

pub use health::SidecarHealth;

use crate::drift::model_report::{LiveReport, ModelReport};
use crate::drift::report::ColumnReport;
use html::esc;
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::sync::OnceLock;

const STYLE: &str = include_str!("page/assets/page.css");
const SCRIPT: &str = include_str!("page/assets/live.js");

/// The query string that asks `GET /` for [`live_main`] only.
pub const MAIN_ONLY_QUERY: &str = "part=main";

/// One model version (live) or one comparison (a report), as the page shows it.
pub struct ModelView<'a> {
    /// `model / version`, or the current file's name.
    pub title: String,
    /// What the data is compared with.
    pub reference: String,
    /// Which current data: the live window and its rows, or the file's rows.
    pub window: String,
    pub drift_share: f64,
    pub drift_share_threshold: f64,
    pub drifted: usize,
    pub tested: usize,
    pub dataset_drift: bool,
    pub features: &'a [ColumnReport],
    pub predictions: &'a [ColumnReport],
    /// Further sections, after the predictions.
    pub extra: Vec<Section>,
}

/// A section a caller adds to a model version.
pub struct Section {
    /// Plain text (escaped when written).
    pub title: String,
    /// HTML, already escaped by whoever built it ([`html::esc`]).
    pub html: String,
}

impl Section {
    /// The multivariate methods' verdicts as a table (the live page and `drift --html`).
    pub fn multivariate(results: &[crate::drift::multivariate::MultivariateResult]) -> Section {
        let mut html = String::from(
            "<table><thead><tr><th scope=\"col\">Method</th><th scope=\"col\">Score</th>\
             <th scope=\"col\">Threshold</th><th scope=\"col\">Verdict</th></tr></thead><tbody>",
        );
        for r in results {
            let threshold = match r.lower_threshold {
                Some(lower) => format!("{lower:.4} – {:.4}", r.threshold),
                None => format!("{:.4}", r.threshold),
            };
            let verdict = if r.drifted { "drifted" } else { "no drift" };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td></tr>",
                html::esc(r.method.as_str()),
                r.score,
                html::esc(&threshold),
                verdict
            );
        }
        html.push_str("</tbody></table>");
        Section {
            title: "Multivariate drift (the joint distribution)".into(),
            html,
        }
    }
}

impl<'a> ModelView<'a> {
    /// The view of one model version of the live report.
    pub fn live(m: &'a ModelReport) -> ModelView<'a> {
        let tested = m
            .features
            .iter()
            .chain(&m.predictions)
            .filter(|c| c.score.is_some())
            .count();
        ModelView {
            title: format!("{} / {}", m.model, m.model_version),
            reference: format!(
                "{} (version {}, from {})",
                m.reference.spec, m.reference.version, m.reference.source
            ),
            window: format!(
                "{} window: {} feature rows, {} prediction rows",
                m.window.kind, m.window.rows, m.window.prediction_rows
            ),
            drift_share: m.drift_share,
            drift_share_threshold: m.drift_share_threshold,
            drifted: m.drifted_features,
            tested,
            dataset_drift: m.dataset_drift,
            features: &m.features,
            predictions: &m.predictions,
            // Only when the methods ran on this window's rows.
            extra: (!m.multivariate.is_empty())
                .then(|| Section::multivariate(&m.multivariate))
                .into_iter()
                .collect(),
        }
    }
}

/// The whole live page.
pub fn live_page(report: &LiveReport, health: &SidecarHealth) -> String {
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, "modelwatch: live drift");
    // Without JavaScript the page reloads itself instead.
    let _ = write!(
        out,
        "<noscript><meta http-equiv=\"refresh\" content=\"{}\"></noscript>",
        refresh_seconds(report)
    );
    out.push_str("</head><body><a class=\"skip\" href=\"#live\">Skip to the report</a>");
    // Not a live region: a screen reader would announce every refresh.
    out.push_str(
        "<header><h1>modelwatch <span>live drift</span></h1>\
         <p id=\"status\"></p></header>",
    );
    let _ = write!(
        out,
        "<main id=\"live\" tabindex=\"-1\" data-src=\"?{MAIN_ONLY_QUERY}\">"
    );
    out.push_str(&live_main(report, health));
    out.push_str("</main><script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>");
    out
}

/// The refreshable part of the live page: what is inside its `<main>`.
pub fn live_main(report: &LiveReport, health: &SidecarHealth) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let views: Vec<ModelView<'_>> = report.models.iter().map(ModelView::live).collect();
    // The script reads the refresh interval here, so it follows the evaluator's.
    let refresh = refresh_seconds(report);
    if report.generated_at.is_empty() {
        let _ = write!(
            out,
            "<p class=\"lead\" data-refresh=\"{refresh}\">No evaluation yet: the first comes \
             one evaluation interval after start.</p>"
        );
    } else {
        let _ = write!(
            out,
            "<p class=\"lead\" data-refresh=\"{refresh}\">Evaluated <time id=\"generated\" \
             datetime=\"{0}\">{0}</time>, every {1} s.</p>",
            esc(&report.generated_at),
            report.evaluation_interval_seconds
        );
    }
    if views.is_empty() {
        out.push_str(
            "<p>No model version has been seen yet: send inference traffic through the proxy.</p>",
        );
    } else {
        sections::overview(&mut out, &views);
        for (i, view) in views.iter().enumerate() {
            sections::model(&mut out, i, view);
        }
    }
    sections::health(&mut out, health);
    out
}

/// A self-contained report of one comparison (`modelwatch drift --html`).
pub fn report_file(title: &str, view: &ModelView<'_>, notes: &[String]) -> String {
    let mut body = String::with_capacity(64 * 1024);
    for note in notes {
        let _ = write!(body, "<p class=\"note\">{}</p>", esc(note));
    }
    sections::model(&mut body, 0, view);
    document_file("drift report", title, &body)
}

/// A self-contained report file around `body` (HTML, its strings already escaped): the
/// page's style, no script, a policy that forbids every request. `kind` names the report
/// in the heading (`drift report`, `validation report`).
pub fn document_file(kind: &str, title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 16 * 1024);
    // A file must not reach the network: no script, no fetch, no image from elsewhere
    // (the empty icon is inline, so the browser asks for no favicon either).
    out.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">",
    );
    head_rest(&mut out, title);
    out.push_str("</head><body>");
    let _ = write!(
        out,
        "<header><h1>modelwatch <span>{}</span></h1></header><main id=\"report\">\
         <p class=\"lead\">{}</p>",
        esc(kind),
        esc(title)
    );
    out.push_str(body);
    out.push_str("</main></body></html>");
    out
}

/// A table with a caption, header cells and rows of cells (the first cell of a row
/// heads it), every string escaped; wide tables scroll on their own on a phone.
pub fn table(out: &mut String, caption: &str, header: &[&str], rows: &[Vec<String>]) {
    let _ = write!(
        out,
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"{0}\"><table>\
         <caption>{0}</caption><thead><tr>",
        esc(caption)
    );
    for h in header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let tag = if i == 0 { "th scope=\"row\"" } else { "td" };
            let close = if i == 0 { "th" } else { "td" };
            let _ = write!(out, "<{tag}>{}</{close}>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

/// The `Content-Security-Policy` of the live page: its own inline style and script (by
/// hash) and requests to itself only.
pub fn live_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        use base64::Engine;
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
        format!(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    })
}

fn head(out: &mut String, title: &str) {
    out.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    head_rest(out, title);
}

/// The head after its first elements: viewport, colour schemes, icon, title, style.
fn head_rest(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <link rel=\"icon\" href=\"data:,\"><title>{}</title><style>{STYLE}</style>",
        esc(title)
    );
}

/// How often the page refreshes: every evaluation, at least every 2 s.
fn refresh_seconds(report: &LiveReport) -> u64 {
    (report.evaluation_interval_seconds.ceil() as u64).max(2)
}

#[cfg(test)]
mod tests;
