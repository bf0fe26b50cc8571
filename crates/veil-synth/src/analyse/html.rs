//! The self-contained HTML report: inline CSS and SVG, no script and no
//! external asset, rendered from an [`AnalysisReport`] alone so that the
//! JSON holds everything the page shows.

use std::fmt::Write;

use super::svg::{
    bar_chart, escape, heatmap, Series, HOLDOUT_COLOUR, REAL_COLOUR, SYNTHETIC_COLOUR,
};
use super::{AnalysisReport, ColumnMatrix, UtilityMetric};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1300px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}\
h3{font-size:13px;margin:4px 0}table{border-collapse:collapse;font-size:13px}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}td.n{text-align:right}\
.grid{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #e3e3e3;padding:6px;border-radius:4px}\
.note{font-size:12px;color:#555}";

fn number(value: f64) -> String {
    format!("{value:.3}")
}

fn percent(value: f64) -> String {
    format!("{:.2}%", value * 100.0)
}

fn row(html: &mut String, label: &str, value: &str) {
    let _ = write!(
        html,
        r#"<tr><th>{}</th><td class="n">{}</td></tr>"#,
        escape(label),
        escape(value)
    );
}

fn summary(report: &AnalysisReport, html: &mut String) {
    html.push_str("<h2>Summary</h2><table>");
    let quality = &report.quality;
    row(html, "Overall quality", &number(quality.overall));
    row(html, "Column shapes (mean)", &number(quality.column_shapes));
    row(
        html,
        "Column pair trends (mean)",
        &quality.column_pair_trends.map_or("n/a".into(), number),
    );
    row(
        html,
        "Histogram intersection (mean)",
        &number(quality.histogram_intersection),
    );
    match (&report.utility, &report.utility_skipped) {
        (Some(utility), _) => {
            let metric = match utility.metric {
                UtilityMetric::Auc => "AUC",
                UtilityMetric::Accuracy => "accuracy",
            };
            row(
                html,
                &format!(
                    "Utility: {metric} predicting {}, trained on real",
                    utility.target
                ),
                &number(utility.trained_on_real),
            );
            row(
                html,
                &format!("Utility: {metric}, trained on synthetic"),
                &number(utility.trained_on_synthetic),
            );
            row(
                html,
                "Utility ratio (synthetic / real)",
                &utility.ratio.map_or("n/a".into(), number),
            );
            row(
                html,
                "Holdout rows evaluated",
                &utility.holdout_rows_evaluated.to_string(),
            );
        }
        (None, reason) => row(
            html,
            "Utility",
            &format!("not computed: {}", reason.as_deref().unwrap_or("unknown")),
        ),
    }
    let privacy = &report.privacy;
    let dcr = |s: &super::DcrSummary| format!("{} / {}", number(s.p5), number(s.median));
    row(
        html,
        "DCR to training (5th percentile / median)",
        &dcr(&privacy.dcr_training),
    );
    if let Some(holdout) = &privacy.dcr_holdout {
        row(
            html,
            "DCR to holdout (5th percentile / median)",
            &dcr(holdout),
        );
    }
    if let (Some(share), Some(expected)) = (
        privacy.share_closer_to_training,
        privacy.share_expected_if_independent,
    ) {
        row(
            html,
            "Share closer to training than to holdout (expected if independent)",
            &format!("{} ({})", percent(share), percent(expected)),
        );
    }
    row(
        html,
        "Exact copies of training rows",
        &percent(privacy.exact_copy_rate),
    );
    if let Some(rate) = privacy.holdout_exact_copy_rate {
        row(
            html,
            "Exact copies of holdout rows (baseline)",
            &percent(rate),
        );
    }
    let holdout = report.holdout_rows.map_or("none".into(), |n| n.to_string());
    row(
        html,
        "Rows: real / synthetic / holdout",
        &format!(
            "{} / {} / {holdout}",
            report.real_rows, report.synthetic_rows
        ),
    );
    row(
        html,
        "Rows searched for closest records",
        &privacy.synthetic_rows_searched.to_string(),
    );
    row(
        html,
        "k (minimum real rows per shown value or bin)",
        &report.min_rows.to_string(),
    );
    html.push_str("</table>");
}

fn columns(report: &AnalysisReport, html: &mut String) {
    html.push_str("<h2>Columns</h2><table><tr><th>Column</th><th>Kind</th><th>Shape metric</th><th>Shape score</th><th>Histogram intersection</th></tr>");
    for column in &report.columns {
        let metric = match column.shape_metric {
            crate::metrics::ColumnMetric::KsComplement => "KS complement",
            crate::metrics::ColumnMetric::TvComplement => "TV complement",
        };
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td>{metric}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            escape(&column.name),
            column.kind.name(),
            number(column.shape_score),
            number(column.histogram_intersection),
        );
    }
    html.push_str("</table><h2>Distributions: real against synthetic</h2><div class=\"grid\">");
    for column in &report.columns {
        let labels: Vec<String> = column
            .distribution
            .iter()
            .map(|b| b.label.clone())
            .collect();
        let real: Vec<f64> = column.distribution.iter().map(|b| b.real).collect();
        let synthetic: Vec<f64> = column.distribution.iter().map(|b| b.synthetic).collect();
        let chart = bar_chart(
            &labels,
            &[
                Series {
                    name: "real",
                    values: &real,
                    colour: REAL_COLOUR,
                },
                Series {
                    name: "synthetic",
                    values: &synthetic,
                    colour: SYNTHETIC_COLOUR,
                },
            ],
        );
        let _ = write!(
            html,
            r#"<div class="card"><h3>{}</h3>{chart}</div>"#,
            escape(&column.name)
        );
    }
    html.push_str("</div>");
}

fn heatmaps(
    title: &str,
    real: &ColumnMatrix,
    synthetic: &ColumnMatrix,
    signed: bool,
    html: &mut String,
) {
    let _ = write!(
        html,
        r#"<h2>{}</h2><p class="note">{}</p><div class="grid"><div class="card"><h3>real</h3>{}</div><div class="card"><h3>synthetic</h3>{}</div></div>"#,
        escape(title),
        if signed {
            "Red is positive, blue negative, white zero, grey undefined; hover a cell for its value."
        } else {
            "White is 0, dark blue 1 (colour by square root), grey undefined; hover a cell for its value."
        },
        heatmap(real, signed),
        heatmap(synthetic, signed),
    );
}

fn pairs(report: &AnalysisReport, html: &mut String) {
    html.push_str("<details><summary>Pair trends (every column pair)</summary><table><tr><th>Left</th><th>Right</th><th>Metric</th><th>Score</th></tr>");
    for pair in &report.pairs {
        let metric = match pair.metric {
            super::PairMetric::CorrelationSimilarity => "correlation similarity",
            super::PairMetric::ContingencySimilarity => "contingency similarity",
        };
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td>{metric}</td><td class="n">{}</td></tr>"#,
            escape(&pair.left),
            escape(&pair.right),
            number(pair.score),
        );
    }
    html.push_str("</table></details>");
}

fn privacy(report: &AnalysisReport, html: &mut String) {
    let histogram = &report.privacy.histogram;
    let last = histogram.lower_edges.len().saturating_sub(1);
    let labels: Vec<String> = histogram
        .lower_edges
        .iter()
        .enumerate()
        .map(|(i, edge)| {
            if i == last {
                format!("≥ {edge}")
            } else {
                format!("{edge}")
            }
        })
        .collect();
    let mut series = vec![Series {
        name: "to training",
        values: &histogram.training,
        colour: REAL_COLOUR,
    }];
    if let Some(holdout) = &histogram.holdout {
        series.push(Series {
            name: "to holdout",
            values: holdout,
            colour: HOLDOUT_COLOUR,
        });
    }
    let _ = write!(
        html,
        r#"<h2>Privacy: distance to the closest record</h2><p class="note">Gower distance of each of {} sampled synthetic rows to its closest real row; bars are labelled by their lower edge.</p><div class="card">{}</div>"#,
        report.privacy.synthetic_rows_searched,
        bar_chart(&labels, &series),
    );
}

/// Renders the report as one self-contained HTML page (inline CSS and SVG,
/// no script, no external asset); every text is escaped.
pub fn render_html(report: &AnalysisReport) -> String {
    let mut html = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>Synthetic data report</title><style>");
    html.push_str(STYLE);
    html.push_str("</style></head><body><h1>Synthetic data report</h1>");
    summary(report, &mut html);
    columns(report, &mut html);
    if let (Some(real), Some(synthetic)) = (&report.correlation_real, &report.correlation_synthetic)
    {
        heatmaps(
            "Pearson correlation (numeric columns)",
            real,
            synthetic,
            true,
            &mut html,
        );
    }
    heatmaps(
        "Normalised mutual information (binned columns)",
        &report.mutual_information_real,
        &report.mutual_information_synthetic,
        false,
        &mut html,
    );
    pairs(report, &mut html);
    privacy(report, &mut html);
    html.push_str("<h2>Disclosure notes</h2><ul class=\"note\">");
    for note in &report.disclosure_notes {
        let _ = write!(html, "<li>{}</li>", escape(note));
    }
    html.push_str("</ul></body></html>\n");
    html
}
